#include "collect/fd_look.h"

#include <fcntl.h>

#include <algorithm>
#include <climits>
#include <numeric>
#include <tuple>

#include "collect/fd_tables.h"
#include "collect/fdinfo.h"
#include "util/error.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/sys.h"
#include "util/text.h"
#include "util/workers.h"

namespace lockcr {

namespace {

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
    const Container& container;
    const std::vector<TaskDirectories>& tasks;  // tasks[t] lists container.tasks[t]
    KeptFiles* kept = nullptr;                  // second look: each file is closed once read again
    KeptFiles* keep = nullptr;                  // first look: slots are written by one worker each
};

// What one worker read: the fds of each chunk of the work list it took, and the paths asked for.
struct ReadResult {
    FdInfo info;  // the fdinfo being parsed, its room for lock lines kept from one fd to the next
    std::vector<std::pair<FdKey, std::string>> paths;  // CollectOptions::pathsOf
};

// The fd's entry and locks, from its fdinfo and link. The lock of a flock or lease line names the
// process that set it (its container pid); nearly always the holder itself.
LockedFd makeLockedFd(const Container& container, size_t taskIndex, int fd, const FdInfo& info, std::string path) {
    const ContainerTask& task = container.tasks[taskIndex];
    LockedFd locked{taskIndex};
    ProcessFd& entry = locked.entry;
    entry.fd = fd;
    entry.openFlags = info.flags;
    entry.file.mountId = info.mountId;
    entry.file.device = info.locks.front().device;
    entry.file.inode = info.locks.front().inode;
    entry.file.path = stripDeleted(std::move(path), entry.file.deleted);
    size_t posixCount = std::count_if(info.locks.begin(), info.locks.end(),
                                      [](const LockLine& line) { return !isDescriptionLock(line.lock.kind); });
    entry.posixLocks.reserve(posixCount);
    locked.descriptionLocks.reserve(info.locks.size() - posixCount);
    for (const LockLine& line : info.locks) {
        if (!isDescriptionLock(line.lock.kind)) {
            entry.posixLocks.push_back(line.lock);
            continue;
        }
        locked.descriptionLocks.push_back(line.lock);
        if (line.lock.kind == LockKind::ofd) continue;  // an OFD lock shows pid -1
        locked.descriptionLocks.back().setBy = line.pid == task.hostPid ? task.containerPid
                                                                        : containerPidOf(container, line.pid);
        if (!locked.setterHostPid) locked.setterHostPid = line.pid;
    }
    return locked;
}

// Reads the fdinfo of items [begin, end) of the work list into LOCKED. An fd closed meanwhile is
// skipped.
void readLockedFds(const Source& source, const std::vector<std::pair<size_t, size_t>>& work, size_t begin, size_t end,
                   const CollectOptions& options, ReadResult& out, std::vector<LockedFd>& locked) {
    FdInfo& info = out.info;
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
        parseFdInfo(text, info);
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
        locked.push_back(makeLockedFd(source.container, taskIndex, fd, info, std::move(path)));
        locked.back().leaseOwner = leaseOwner;
    }
}

// The /proc work is nearly all kernel time: it is spread over the cores (util/workers.h).

// Each task's fd listing (a getdents of thousands of entries is itself /proc work), on the workers.
std::vector<TaskDirectories> listTasks(const Container& container) {
    std::vector<TaskDirectories> listed(container.tasks.size());
    runOnWorkers(listed.size(), 1, [&](size_t, size_t begin, size_t end) {
        for (size_t t = begin; t < end; ++t) listed[t] = openTaskDirectories(container.tasks[t]);
    });
    return listed;
}

FdsRead readAllLockedFds(const Source& source, const CollectOptions& options) {
    std::vector<std::pair<size_t, size_t>> work;
    size_t fds = 0;
    for (const TaskDirectories& task : source.tasks) fds += task.names.size();
    work.reserve(fds);
    for (size_t t = 0; t < source.tasks.size(); ++t)
        for (size_t n = 0; n < source.tasks[t].names.size(); ++n) work.push_back({t, n});
    // Chunks of one task's fds: [begin, end) of the work list, and which of the task's chunks it is.
    // Below a few hundred fds a thread costs more than it saves: one chunk.
    struct Chunk {
        size_t begin, end, rank;
    };
    std::vector<Chunk> chunks;
    if (work.size() < 256) {
        chunks.push_back({0, work.size(), 0});
    } else {
        for (size_t first = 0, t = 0; t < source.tasks.size(); first += source.tasks[t++].names.size()) {
            size_t last = first + source.tasks[t].names.size();
            for (size_t at = first; at < last; at += 64)
                chunks.push_back({at, std::min(at + 64, last), (at - first) / 64});
        }
    }
    // Taken a task at a time in turn (the first chunk of each, then the second...): workers on
    // different processes do not wait on each other's task lock, which every open and readlink of
    // /proc/PID/fd* takes (ptrace_may_access, fget_task).
    std::vector<size_t> order(chunks.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return chunks[a].rank < chunks[b].rank; });
    std::vector<ReadResult> results(workerCount());
    // A list per chunk: joined in chunk order, the fds are in task and listing order unsorted.
    FdsRead read;
    std::vector<std::vector<LockedFd>>& lists = read.lists;
    lists.resize(chunks.size());
    runOnWorkers(order.size(), 1, [&](size_t worker, size_t begin, size_t) {
        const Chunk& chunk = chunks[order[begin]];
        readLockedFds(source, work, chunk.begin, chunk.end, options, results[worker], lists[order[begin]]);
    });
    size_t found = 0;
    for (const auto& part : lists) found += part.size();
    read.inOrder.reserve(found);
    for (auto& part : lists)
        for (LockedFd& locked : part) read.inOrder.push_back(&locked);
    // The kernel lists a table's fds in ascending order (proc_readfd_common); checked, not assumed.
    auto byTaskAndFd = [](const LockedFd* a, const LockedFd* b) {
        return std::tie(a->taskIndex, a->entry.fd) < std::tie(b->taskIndex, b->entry.fd);
    };
    if (!std::is_sorted(read.inOrder.begin(), read.inOrder.end(), byTaskAndFd))
        std::sort(read.inOrder.begin(), read.inOrder.end(), byTaskAndFd);
    if (options.paths)
        for (ReadResult& part : results)
            for (auto& [key, path] : part.paths) options.paths->emplace(key, std::move(path));
    return read;
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

}  // namespace

FdsRead lookAtFds(const Container& container, const CollectOptions& options, PhaseClock& clock) {
    // A kept look was taken, and checked, while the container was held still as it is now.
    bool reuse = keptLookFits(options.kept, container);
    if (!reuse) refuseSeparateFdTables(container);
    std::vector<TaskDirectories> listed;
    if (!reuse) listed = listTasks(container);
    clock.lap("fds listed");
    faultPoint("collect-listed");
    std::unique_ptr<KeptLook::State> keeping = options.keep ? prepareKeeping(listed) : nullptr;
    Source source{container, reuse ? options.kept->state->tasks : listed, reuse ? &options.kept->state->files : nullptr,
                  keeping ? &keeping->files : nullptr};
    FdsRead read = readAllLockedFds(source, options);
    clock.lap("fdinfo read");
    if (keeping) {
        keeping->tasks = std::move(listed);
        options.keep->state = std::move(keeping);
    }
    return read;
}

}  // namespace lockcr
