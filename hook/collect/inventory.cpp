#include "collect/inventory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <tuple>
#include <unordered_set>

#include "collect/fdinfo.h"
#include "collect/proc_locks.h"
#include "collect/owners.h"
#include "collect/waiters.h"
#include "util/error.h"
#include "util/sys.h"

namespace lockcr {

namespace {

// An fd whose description holds flock/OFD/lease locks, before descriptions are told apart.
struct DescriptionCandidate {
    size_t processIndex = 0;
    size_t fdIndex = 0;
    pid_t hostPid = 0;
    int fd = -1;
    std::vector<Lock> locks;
};

bool isDescriptionLock(LockKind kind) { return kind != LockKind::posix; }

bool parseFdNumber(const std::string& name, int& fd) {
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), fd);
    return ec == std::errc() && end == name.data() + name.size() && fd >= 0;
}

std::string stripDeleted(std::string path, bool& deleted) {
    constexpr std::string_view suffix = " (deleted)";
    deleted = path.size() > suffix.size() && path.ends_with(suffix);
    if (deleted) path.resize(path.size() - suffix.size());
    return path;
}

class ProcessScanner {
public:
    ProcessScanner(const std::unordered_set<uint64_t>& lockedInodes, LockImage& image,
                   std::vector<DescriptionCandidate>& candidates)
        : lockedInodes_(lockedInodes), image_(image), candidates_(candidates) {}

    // Adds the process and its fds on locked inodes. A process that exits meanwhile is skipped:
    // its locks are gone with it.
    void scan(const ContainerTask& task) {
        std::string proc = "/proc/" + std::to_string(task.hostPid);
        int err = 0;
        UniqueFd fdDirectory = sys::tryOpenAt(AT_FDCWD, proc + "/fd", O_RDONLY | O_DIRECTORY, err);
        UniqueFd infoDirectory = sys::tryOpenAt(AT_FDCWD, proc + "/fdinfo", O_RDONLY | O_DIRECTORY, err);
        std::vector<std::string> names;
        if (!fdDirectory || !infoDirectory || !sys::tryListDirectory(fdDirectory.get(), ".", names, err)) {
            if (err == ENOENT || err == ESRCH) return;
            throwErrno("collect: pid " + std::to_string(task.hostPid) + ": list fds", err);
        }
        Process process;
        process.containerPid = task.containerPid;
        process.hostPid = task.hostPid;
        process.command = task.command;
        process.threadCount = task.threads;
        size_t processIndex = image_.processes.size();
        std::string text;
        for (const std::string& name : names) {
            int fd = -1;
            if (!parseFdNumber(name, fd)) continue;
            struct stat target {};
            // stat follows the magic link to the open file; fds on unlocked inodes stop here.
            if (::fstatat(fdDirectory.get(), name.c_str(), &target, 0) != 0) continue;
            if (!lockedInodes_.contains(target.st_ino)) continue;
            if (!sys::tryReadFileAt(infoDirectory.get(), name, text, err)) continue;  // closed meanwhile
            FdInfo info = parseFdInfo(text);
            if (info.locks.empty()) continue;
            addFd(process, processIndex, task.hostPid, fdDirectory.get(), name, fd, info);
        }
        image_.processes.push_back(std::move(process));
    }

private:
    void addFd(Process& process, size_t processIndex, pid_t hostPid, int fdDirectory,
               const std::string& name, int fd, const FdInfo& info) {
        ProcessFd entry;
        entry.fd = fd;
        entry.openFlags = info.flags;
        entry.file.mountId = info.mountId;
        entry.file.device = info.locks.front().device;
        entry.file.inode = info.locks.front().inode;
        std::string path;
        int err = 0;
        if (sys::tryReadLinkAt(fdDirectory, name, path, err))
            entry.file.path = stripDeleted(std::move(path), entry.file.deleted);
        DescriptionCandidate candidate{processIndex, process.fds.size(), hostPid, fd, {}};
        for (const LockLine& line : info.locks) {
            if (isDescriptionLock(line.lock.kind)) candidate.locks.push_back(line.lock);
            else entry.posixLocks.push_back(line.lock);
        }
        if (!candidate.locks.empty()) candidates_.push_back(std::move(candidate));
        process.fds.push_back(std::move(entry));
    }

    const std::unordered_set<uint64_t>& lockedInodes_;
    LockImage& image_;
    std::vector<DescriptionCandidate>& candidates_;
};

std::tuple<uint32_t, uint32_t, uint64_t> fileKey(const FileIdentity& file) {
    return {file.device.major, file.device.minor, file.inode};
}

// Fds that show the same description locks on the same inode may still be different descriptions
// (two opens, each with a shared flock). kcmp(KCMP_FILE) orders descriptions, so a sort puts the
// fds of one description next to each other: O(n log n) kcmp calls, and none for a lone fd.
void groupDescriptions(LockImage& image, std::vector<DescriptionCandidate>& candidates) {
    auto fileOf = [&](const DescriptionCandidate& c) -> const FileIdentity& {
        return image.processes[c.processIndex].fds[c.fdIndex].file;
    };
    auto sameGroup = [&](const DescriptionCandidate& a, const DescriptionCandidate& b) {
        return fileKey(fileOf(a)) == fileKey(fileOf(b)) && a.locks == b.locks;
    };
    std::stable_sort(candidates.begin(), candidates.end(), [&](const auto& a, const auto& b) {
        return fileKey(fileOf(a)) < fileKey(fileOf(b));
    });
    for (size_t begin = 0; begin < candidates.size();) {
        size_t end = begin + 1;
        while (end < candidates.size() && fileKey(fileOf(candidates[end])) == fileKey(fileOf(candidates[begin]))) ++end;
        if (end - begin > 1) {
            std::sort(candidates.begin() + begin, candidates.begin() + end, [](const auto& a, const auto& b) {
                return sys::kcmpFile(a.hostPid, a.fd, b.hostPid, b.fd) == 1;
            });
        }
        for (size_t i = begin; i < end; ++i) {
            const DescriptionCandidate& candidate = candidates[i];
            bool sameAsPrevious = i > begin && sameGroup(candidates[i - 1], candidate) &&
                                  sys::kcmpFile(candidates[i - 1].hostPid, candidates[i - 1].fd,
                                                candidate.hostPid, candidate.fd) == 0;
            ProcessFd& fd = image.processes[candidate.processIndex].fds[candidate.fdIndex];
            if (!sameAsPrevious) {
                OpenFileDescription description;
                description.id = static_cast<int>(image.descriptions.size());
                description.file = fd.file;
                description.openFlags = fd.openFlags;
                description.locks = candidate.locks;
                image.descriptions.push_back(std::move(description));
            }
            OpenFileDescription& description = image.descriptions.back();
            description.holders.push_back({image.processes[candidate.processIndex].containerPid, candidate.fd});
            fd.descriptionId = description.id;
        }
        begin = end;
    }
}

}  // namespace

// A POSIX lock held by a container process always shows in the fdinfo of the fd it was set
// through (closing any fd of the file drops it). One that /proc/locks lists but no fdinfo showed
// means the scan raced with the process: refuse to write an image that silently lacks it.
void checkEveryPosixLockFound(const Container& container, const ProcLocksTable& table, const LockImage& image) {
    std::map<pid_t, size_t> expected;
    for (const LockLine& line : table.held)
        if (line.lock.kind == LockKind::posix && container.taskByHostPid(line.pid)) ++expected[line.pid];
    for (const Process& process : image.processes) {
        size_t found = 0;
        for (const ProcessFd& fd : process.fds) found += fd.posixLocks.size();
        auto it = expected.find(process.hostPid);
        size_t listed = it == expected.end() ? 0 : it->second;
        if (found < listed)
            throwFailure("collect: pid " + std::to_string(process.hostPid) + " (" + process.command + "): " +
                         std::to_string(listed) + " POSIX locks in /proc/locks but " + std::to_string(found) +
                         " found through its fds; the container changed during the scan (dump freezes it)");
    }
}

LockImage collectLocks(const Container& container) {
    ProcLocksTable table = parseProcLocks(sys::readFile("/proc/locks"));
    // Inode numbers only: overlayfs reports the real file's st_dev through stat, but the locks
    // sit on the overlay inode; the number agrees, the device may not. The fdinfo lock lines then
    // give the exact device.
    std::unordered_set<uint64_t> lockedInodes;
    lockedInodes.reserve(table.held.size() * 2);
    for (const LockLine& line : table.held) lockedInodes.insert(line.inode);

    LockImage image;
    image.container = container.identity;
    std::vector<DescriptionCandidate> candidates;
    ProcessScanner scanner(lockedInodes, image, candidates);
    if (!lockedInodes.empty())
        for (const ContainerTask& task : container.tasks) scanner.scan(task);
    else
        for (const ContainerTask& task : container.tasks)
            image.processes.push_back({task.containerPid, task.hostPid, task.command, task.threads, {}});
    groupDescriptions(image, candidates);
    recordSignalOwners(container, image);
    recordWaiters(container, table, image);
    checkEveryPosixLockFound(container, table, image);
    return image;
}

}  // namespace lockcr
