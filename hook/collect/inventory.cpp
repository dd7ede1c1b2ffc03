#include "collect/inventory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <map>
#include <tuple>
#include <mutex>
#include <set>
#include <thread>

#include "collect/fd_tables.h"
#include "collect/fdinfo.h"
#include "collect/proc_locks.h"
#include "collect/owners.h"
#include "collect/waiters.h"
#include "util/error.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/sys.h"
#include "util/text.h"

namespace lockcr {

namespace {

// An fd whose description holds flock/OFD/lease locks, before descriptions are told apart.
struct DescriptionCandidate {
    size_t processIndex = 0;
    size_t fdIndex = 0;
    pid_t hostPid = 0;
    int fd = -1;
    std::vector<Lock> locks;
    std::optional<HostSignalOwner> leaseOwner;
    pid_t setterHostPid = 0;  // the pid a flock or lease line shows: the process that set it
};

bool isDescriptionLock(LockKind kind) { return kind != LockKind::posix; }

bool parseFdNumber(const std::string& name, int& fd) {
    auto number = parseUnsignedNumber(name, 10, INT_MAX);
    if (number) fd = static_cast<int>(*number);
    return number.has_value();
}

std::string stripDeleted(std::string path, bool& deleted) {
    constexpr std::string_view suffix = " (deleted)";
    deleted = path.size() > suffix.size() && path.ends_with(suffix);
    if (deleted) path.resize(path.size() - suffix.size());
    return path;
}

// One fd whose fdinfo shows locks, as read (possibly on a worker thread).
struct LockedFd {
    size_t taskIndex = 0;
    int fd = -1;
    FdInfo info;
    std::string path;
    std::optional<HostSignalOwner> leaseOwner;  // read when the fd holds a lease
};

// The /proc directories of one task, opened once and shared read-only by the readers.
struct TaskDirectories {
    pid_t hostPid = 0;
    UniqueFd pidFd;  // for lease owners, read through a duplicate
    UniqueFd fds;
    UniqueFd fdinfo;
    std::vector<std::string> names;
};

TaskDirectories openTaskDirectories(const ContainerTask& task) {
    pid_t hostPid = task.hostPid;
    TaskDirectories directories;
    directories.hostPid = hostPid;
    std::string proc = task.filesThread && task.filesThread != hostPid ? sys::threadDirectory(hostPid, task.filesThread)
                                                                       : "/proc/" + std::to_string(hostPid);
    int err = 0;
    directories.fds = sys::tryOpenAt(AT_FDCWD, proc + "/fd", O_RDONLY | O_DIRECTORY, err);
    directories.fdinfo = sys::tryOpenAt(AT_FDCWD, proc + "/fdinfo", O_RDONLY | O_DIRECTORY, err);
    if (!directories.fds || !directories.fdinfo ||
        !sys::tryListDirectory(directories.fdinfo.get(), ".", directories.names, err)) {
        // A process that exits meanwhile is skipped: its locks are gone with it.
        if (sys::isGone(err)) return {};
        throwErrno("collect: pid " + std::to_string(hostPid) + ": list fds", err);
    }
    try {
        directories.pidFd = sys::pidfdOpenForFiles(hostPid, task.filesThread);
    } catch (const Error& error) {
        if (error.errnoValue() == ESRCH) return {};
        // A thread pidfd before Linux 6.9: only a lease owner needs it, and its read fails loudly.
        if (error.errnoValue() != EINVAL || task.filesThread == hostPid) throw;
    }
    return directories;
}

}  // namespace

// Per task of the first look, per name of its fd listing: the fdinfo file left open (or none)
// and the link text read with it.
struct KeptLook::State {
    struct File {
        UniqueFd fdinfo;
        std::string path;
    };
    std::vector<TaskDirectories> tasks;
    std::vector<std::vector<File>> files;  // files[t][n] is tasks[t].names[n]
};

KeptLook::KeptLook() = default;
KeptLook::~KeptLook() = default;

namespace {

using KeptFiles = std::vector<std::vector<KeptLook::State::File>>;

// Where the workers read: the listings, and the files a first look keeps or a second one reuses.
struct Source {
    const std::vector<TaskDirectories>& tasks;
    KeptFiles* kept = nullptr;  // second look: each file is closed once read again
    KeptFiles* keep = nullptr;  // first look: slots are written by one worker each
};

// What one worker read.
struct ReadResult {
    std::vector<LockedFd> lockedFds;
    std::vector<std::pair<FdKey, std::string>> paths;  // CollectOptions::pathsOf
};

// Reads the fdinfo of items [begin, end) of the work list. An fd closed meanwhile is skipped.
void readLockedFds(const Source& source, const std::vector<std::pair<size_t, size_t>>& work, size_t begin, size_t end,
                   const CollectOptions& options, ReadResult& out) {
    std::string text;
    int err = 0;
    for (size_t i = begin; i < end; ++i) {
        const auto& [taskIndex, nameIndex] = work[i];
        const TaskDirectories& task = source.tasks[taskIndex];
        const std::string& name = task.names[nameIndex];
        int fd = -1;
        if (!parseFdNumber(name, fd)) continue;
        FdKey key{task.hostPid, fd};
        bool pathWanted = options.pathsOf && options.pathsOf->count(key);
        KeptLook::State::File* kept = source.kept ? &(*source.kept)[taskIndex][nameIndex] : nullptr;
        if (kept && !kept->fdinfo) kept = nullptr;
        UniqueFd opened;
        if (kept) opened = std::move(kept->fdinfo);  // closed here, on the workers, not all at the end
        else opened = sys::tryOpenAt(task.fdinfo.get(), name, O_RDONLY, err);
        if (!opened || !sys::tryReadSmallProcFile(opened.get(), text, err)) {
            // Closed meanwhile: skipped. Anything else (no fd left, no memory) would drop the
            // fd's locks from the image without a word: it fails the collection.
            if (sys::isGone(err)) continue;
            throwErrno("collect: pid " + std::to_string(task.hostPid) + " fdinfo " + name, err);
        }
        FdInfo info = parseFdInfo(text);
        std::erase_if(info.locks, [](const LockLine& line) {
            return line.delegation || line.accessCheck || !line.hasInode;  // nfsd's or a breaker: not the container's
        });
        if (info.locks.empty() && !pathWanted) continue;
        std::string path;
        if (kept) path = std::move(kept->path);
        else if (!sys::tryReadLinkAt(task.fds.get(), name, path, err)) path.clear();
        if (source.keep) (*source.keep)[taskIndex][nameIndex] = {std::move(opened), path};
        if (pathWanted && !path.empty()) out.paths.push_back({key, path});
        if (info.locks.empty()) continue;
        bool holdsLease = std::any_of(info.locks.begin(), info.locks.end(),
                                      [](const LockLine& line) { return line.lock.kind == LockKind::lease; });
        std::optional<HostSignalOwner> leaseOwner;
        if (holdsLease) leaseOwner = readSignalOwner(task.pidFd.get(), task.hostPid, fd);
        out.lockedFds.push_back({taskIndex, fd, std::move(info), std::move(path), leaseOwner});
    }
}

// The /proc work is nearly all kernel time: spread it over the cores. Each worker takes the next
// item (of N) from a shared counter, CHUNK at a time, so a worker that the scheduler delays leaves
// its share to the others instead of holding up the end. The first failure is rethrown here.
template <typename Work>
void runOnWorkers(size_t items, size_t chunk, Work work) {
    size_t workers = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
    workers = std::min(workers, (items + chunk - 1) / chunk);
    std::atomic<size_t> next{0};
    std::exception_ptr failure;
    std::mutex failureLock;
    auto run = [&](size_t worker) {
        try {
            for (size_t begin; (begin = next.fetch_add(chunk)) < items;) work(worker, begin, std::min(items, begin + chunk));
        } catch (...) {
            std::lock_guard guard(failureLock);
            if (!failure) failure = std::current_exception();
            next = items;  // the others stop at their next chunk
        }
    };
    std::vector<std::thread> threads;
    for (size_t w = 1; w < workers; ++w) threads.emplace_back(run, w);
    run(0);
    for (std::thread& thread : threads) thread.join();
    if (failure) std::rethrow_exception(failure);
}

// Each task's fd listing (a getdents of thousands of entries is itself /proc work), on the workers.
std::vector<TaskDirectories> listTasks(const Container& container) {
    std::vector<TaskDirectories> listed(container.tasks.size());
    runOnWorkers(listed.size(), 1, [&](size_t, size_t begin, size_t end) {
        for (size_t t = begin; t < end; ++t) listed[t] = openTaskDirectories(container.tasks[t]);
    });
    return listed;
}

std::vector<LockedFd> readAllLockedFds(const Source& source, const CollectOptions& options) {
    std::vector<std::pair<size_t, size_t>> work;
    for (size_t t = 0; t < source.tasks.size(); ++t)
        for (size_t n = 0; n < source.tasks[t].names.size(); ++n) work.push_back({t, n});
    // Below a few hundred fds a thread costs more than it saves.
    size_t chunk = work.size() < 256 ? std::max<size_t>(work.size(), 1) : 64;
    size_t workers = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
    std::vector<ReadResult> results(workers);
    // Room for every fd in each worker's list: only the pages a worker fills are touched, and no
    // list is copied as it grows.
    for (ReadResult& part : results) part.lockedFds.reserve(work.size());
    runOnWorkers(work.size(), chunk, [&](size_t worker, size_t begin, size_t end) {
        readLockedFds(source, work, begin, end, options, results[worker]);
    });
    std::vector<LockedFd> all;
    size_t found = 0;
    for (const ReadResult& part : results) found += part.lockedFds.size();
    all.reserve(found);
    for (ReadResult& part : results) {
        std::move(part.lockedFds.begin(), part.lockedFds.end(), std::back_inserter(all));
        if (options.paths)
            for (auto& [key, path] : part.paths) options.paths->emplace(key, std::move(path));
    }
    std::sort(all.begin(), all.end(), [](const LockedFd& a, const LockedFd& b) {
        return std::tie(a.taskIndex, a.fd) < std::tie(b.taskIndex, b.fd);
    });
    return all;
}

// A kept look fits this collection when it listed the same processes in the same order.
bool keptLookFits(const KeptLook* kept, const Container& container) {
    if (!kept || !kept->state || kept->state->tasks.size() != container.tasks.size()) return false;
    for (size_t t = 0; t < container.tasks.size(); ++t) {
        pid_t listed = kept->state->tasks[t].hostPid;
        if (listed != 0 && listed != container.tasks[t].hostPid) return false;
    }
    return true;
}

// Room for a slot per listed fd, and the fd table grown once for them; none if it cannot grow.
std::unique_ptr<KeptLook::State> prepareKeeping(const std::vector<TaskDirectories>& tasks) {
    size_t count = 0;
    int anyFd = -1;
    for (const TaskDirectories& task : tasks) {
        count += task.names.size();
        if (task.fdinfo) anyFd = task.fdinfo.get();
    }
    if (anyFd < 0 || !sys::reserveFdNumbers(count, anyFd)) return nullptr;
    auto state = std::make_unique<KeptLook::State>();
    for (const TaskDirectories& task : tasks) state->files.emplace_back(task.names.size());
    return state;
}

// Turns the fds read into processes, fds and description candidates. A POSIX lock shows in the
// fdinfo of every fd sharing the description it was set through (dup, inheritance); it is one
// lock of the process: it is kept under the lowest such fd.
void addProcesses(const Container& container, std::vector<LockedFd>& lockedFds, LockImage& image,
                  std::vector<DescriptionCandidate>& candidates) {
    size_t next = 0;
    for (size_t t = 0; t < container.tasks.size(); ++t) {
        const ContainerTask& task = container.tasks[t];
        Process process{task.containerPid, task.hostPid, task.command, task.threads, {}};
        size_t processIndex = image.processes.size();
        std::set<std::tuple<uint32_t, uint32_t, uint64_t, LockType, uint64_t, uint64_t>> posixSeen;
        // Only fds of one inode can show the same POSIX lock: the set is needed for those alone.
        std::map<std::tuple<uint32_t, uint32_t, uint64_t>, int> fdsPerInode;
        size_t end = next;
        for (; end < lockedFds.size() && lockedFds[end].taskIndex == t; ++end) {
            const LockLine& first = lockedFds[end].info.locks.front();
            ++fdsPerInode[{first.device.major, first.device.minor, first.inode}];
        }
        process.fds.reserve(end - next);
        for (; next < end; ++next) {
            LockedFd& locked = lockedFds[next];
            ProcessFd entry;
            entry.fd = locked.fd;
            entry.openFlags = locked.info.flags;
            entry.file.mountId = locked.info.mountId;
            entry.file.device = locked.info.locks.front().device;
            entry.file.inode = locked.info.locks.front().inode;
            entry.file.path = stripDeleted(std::move(locked.path), entry.file.deleted);
            DescriptionCandidate candidate{processIndex, process.fds.size(), task.hostPid, locked.fd,
                                           {},           locked.leaseOwner};
            entry.posixLocks.reserve(std::count_if(locked.info.locks.begin(), locked.info.locks.end(),
                                                   [](const LockLine& line) { return !isDescriptionLock(line.lock.kind); }));
            bool shared = fdsPerInode[{entry.file.device.major, entry.file.device.minor, entry.file.inode}] > 1;
            for (const LockLine& line : locked.info.locks) {
                if (isDescriptionLock(line.lock.kind)) {
                    candidate.locks.push_back(line.lock);
                    if (line.lock.kind != LockKind::ofd) {  // an OFD lock shows pid -1
                        candidate.locks.back().setBy = containerPidOf(container, line.pid);
                        if (!candidate.setterHostPid) candidate.setterHostPid = line.pid;
                    }
                    continue;
                }
                auto key = std::make_tuple(line.device.major, line.device.minor, line.inode, line.lock.type,
                                           line.lock.range.start, line.lock.range.end.value_or(UINT64_MAX));
                if (!shared || posixSeen.insert(key).second) entry.posixLocks.push_back(line.lock);
            }
            if (entry.posixLocks.empty() && candidate.locks.empty()) continue;
            if (!candidate.locks.empty()) candidates.push_back(std::move(candidate));
            process.fds.push_back(std::move(entry));
        }
        image.processes.push_back(std::move(process));
    }
}

std::tuple<uint32_t, uint32_t, uint64_t> fileKey(const FileIdentity& file) {
    return {file.device.major, file.device.minor, file.inode};
}

// Fds that show the same description locks on the same inode may still be different descriptions
// (two opens, each with a shared flock). kcmp(KCMP_FILE) orders descriptions, so a sort puts the
// fds of one description next to each other: O(n log n) kcmp calls, and none for a lone fd.
void groupDescriptions(const Container& container, LockImage& image, std::vector<DescriptionCandidate>& candidates) {
    auto fileOf = [&](const DescriptionCandidate& c) -> const FileIdentity& {
        return image.processes[c.processIndex].fds[c.fdIndex].file;
    };
    auto sameGroup = [&](const DescriptionCandidate& a, const DescriptionCandidate& b) {
        return fileKey(fileOf(a)) == fileKey(fileOf(b)) && a.locks == b.locks;
    };
    std::stable_sort(candidates.begin(), candidates.end(),
                     [&](const auto& a, const auto& b) { return fileKey(fileOf(a)) < fileKey(fileOf(b)); });
    for (size_t begin = 0; begin < candidates.size();) {
        size_t end = begin + 1;
        while (end < candidates.size() && fileKey(fileOf(candidates[end])) == fileKey(fileOf(candidates[begin]))) ++end;
        if (end - begin > 1) {
            std::sort(candidates.begin() + begin, candidates.begin() + end, [](const auto& a, const auto& b) {
                return sys::kcmpFile(a.hostPid, a.fd, b.hostPid, b.fd) == 1;
            });
        }
        bool setterFirst = false;
        for (size_t i = begin; i < end; ++i) {
            const DescriptionCandidate& candidate = candidates[i];
            bool sameAsPrevious = i > begin && sameGroup(candidates[i - 1], candidate) &&
                                  sys::kcmpFile(candidates[i - 1].hostPid, candidates[i - 1].fd, candidate.hostPid,
                                                candidate.fd) == 0;
            ProcessFd& fd = image.processes[candidate.processIndex].fds[candidate.fdIndex];
            if (!sameAsPrevious) {
                OpenFileDescription description;
                description.id = static_cast<int>(image.descriptions.size());
                description.file = fd.file;
                description.openFlags = fd.openFlags;
                description.locks = candidate.locks;
                // Its first holder's view: the owner lives on the shared struct file.
                if (candidate.leaseOwner)
                    description.signalOwner = recordedSignalOwner(container, *candidate.leaseOwner);
                image.descriptions.push_back(std::move(description));
                setterFirst = false;
            }
            OpenFileDescription& description = image.descriptions.back();
            description.holders.push_back({image.processes[candidate.processIndex].containerPid, candidate.fd});
            // The process that set the flock or lease goes first: replay sets it again from the
            // first live holder, so /proc/locks shows the same pid, and F_SETLEASE is made by a
            // process that had the right to make it.
            if (!setterFirst && candidate.hostPid == candidate.setterHostPid) {
                std::rotate(description.holders.begin(), description.holders.end() - 1, description.holders.end());
                setterFirst = true;
            }
            fd.descriptionId = description.id;
        }
        begin = end;
    }
}

// "pid 6 (lockholder, host pid 13065)": the container's pid, and the host's where it differs.
std::string describeTask(const ContainerTask& task) {
    pid_t shown = task.containerPid ? task.containerPid : task.hostPid;
    std::string host = shown != task.hostPid ? ", host pid " + std::to_string(task.hostPid) : "";
    return "pid " + std::to_string(shown) + " (" + task.command + host + ")";
}

// The members now against those the collection listed: one that is gone took locks with it that
// the image would not have (its fds were read before or not at all), one that is new has locks the
// image misses. Exiting processes count as gone (refreshTasks skips them); a task SIGKILLed in a v1
// freezer is still there, holding its locks, until the thaw: recording them is right.
void refuseChangedMembers(const Container& container) {
    Container now = container;
    refreshTasks(now);
    for (const ContainerTask& task : container.tasks)
        if (!now.taskByHostPid(task.hostPid))
            throwFailure("collect: " + describeTask(task) +
                         " exited while the locks were read: the image would miss its locks; nothing recorded");
    for (const ContainerTask& task : now.tasks)
        if (!container.taskByHostPid(task.hostPid))
            throwFailure("collect: " + describeTask(task) +
                         " appeared while the locks were read (the container was not held still): the image would "
                         "miss its locks; nothing recorded");
}

}  // namespace

// The fdinfo of every fd is the authority: each one is printed under the inode's lock, so it is
// consistent. /proc/locks is not: it is read a page per read() with the lock dropped in between,
// so while other processes on the host take and drop locks its lines shift and some are skipped.
// It serves only to find outside holders of what a waiter waits for.
LockImage collectLocks(const Container& container, const CollectOptions& options) {
    PhaseClock clock("collect");
    // A kept look was taken, and checked, while the container was held still as it is now.
    bool reuse = keptLookFits(options.kept, container);
    if (!reuse) refuseSeparateFdTables(container);
    LockImage image;
    image.container = container.identity;
    std::vector<TaskDirectories> listed;
    if (!reuse) listed = listTasks(container);
    clock.lap("fds listed");
    faultPoint("collect-listed");
    std::unique_ptr<KeptLook::State> keeping = options.keep ? prepareKeeping(listed) : nullptr;
    Source source{reuse ? options.kept->state->tasks : listed, reuse ? &options.kept->state->files : nullptr,
                  keeping ? &keeping->files : nullptr};
    std::vector<LockedFd> lockedFds = readAllLockedFds(source, options);
    clock.lap("fdinfo read");
    if (keeping) {
        keeping->tasks = std::move(listed);
        options.keep->state = std::move(keeping);
    }
    std::vector<DescriptionCandidate> candidates;
    addProcesses(container, lockedFds, image, candidates);
    groupDescriptions(container, image, candidates);
    clock.lap("descriptions grouped");
    recordWaiters(container, image, options.pending);
    clock.lap("waiters");
    if (options.heldStill) {
        refuseChangedMembers(container);
        clock.lap("members checked");
    }
    return image;
}

}  // namespace lockcr
