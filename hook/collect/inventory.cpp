#include "collect/inventory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <tuple>
#include <set>

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
    ProcessScanner(LockImage& image, std::vector<DescriptionCandidate>& candidates)
        : image_(image), candidates_(candidates) {}

    // Adds the process and its fds on locked inodes. A process that exits meanwhile is skipped:
    // its locks are gone with it.
    void scan(const ContainerTask& task) {
        std::string proc = "/proc/" + std::to_string(task.hostPid);
        int err = 0;
        UniqueFd fdDirectory = sys::tryOpenAt(AT_FDCWD, proc + "/fd", O_RDONLY | O_DIRECTORY, err);
        UniqueFd infoDirectory = sys::tryOpenAt(AT_FDCWD, proc + "/fdinfo", O_RDONLY | O_DIRECTORY, err);
        std::vector<std::string> names;
        if (!fdDirectory || !infoDirectory || !sys::tryListDirectory(infoDirectory.get(), ".", names, err)) {
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
        std::set<std::tuple<uint32_t, uint32_t, uint64_t, LockType, uint64_t, uint64_t>> posixSeen;
        for (const std::string& name : names) {
            int fd = -1;
            if (!parseFdNumber(name, fd)) continue;
            if (!sys::tryReadFileAt(infoDirectory.get(), name, text, err)) continue;  // closed meanwhile
            FdInfo info = parseFdInfo(text);
            // A POSIX lock shows in the fdinfo of every fd sharing the description it was set
            // through (dup, inheritance); it is one lock of the process: keep it under the first fd.
            std::erase_if(info.locks, [&](const LockLine& line) {
                if (line.delegation || line.accessCheck || !line.hasInode) return true;  // not the container's
                if (line.lock.kind != LockKind::posix) return false;
                auto key = std::make_tuple(line.device.major, line.device.minor, line.inode, line.lock.type,
                                           line.lock.range.start, line.lock.range.end.value_or(UINT64_MAX));
                return !posixSeen.insert(key).second;
            });
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

// The fdinfo of every fd is the authority: each one is printed under the inode's lock, so it is
// consistent. /proc/locks is not: it is read a page per read() with the lock dropped in between,
// so while other processes on the host take and drop locks its lines shift and some are skipped.
// It serves only to find outside holders of what a waiter waits for.
LockImage collectLocks(const Container& container) {
    LockImage image;
    image.container = container.identity;
    std::vector<DescriptionCandidate> candidates;
    ProcessScanner scanner(image, candidates);
    for (const ContainerTask& task : container.tasks) scanner.scan(task);
    groupDescriptions(image, candidates);
    recordSignalOwners(container, image);
    recordWaiters(container, parseProcLocks(sys::readFile("/proc/locks")), image);
    return image;
}

}  // namespace lockcr
