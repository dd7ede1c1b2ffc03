#include "collect/inventory.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "collect/fd_look.h"
#include "collect/owners.h"
#include "collect/waiters.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sys.h"
#include "util/workers.h"

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

// A file as the kernel knows it: device and inode.
using FileKey = std::tuple<uint32_t, uint32_t, uint64_t>;

FileKey fileKey(const FileIdentity& file) { return {file.device.major, file.device.minor, file.inode}; }

// Turns one task's fds read (lockedFds[begin, end), in fd order) into its process and its
// description candidates. A POSIX lock shows in the fdinfo of every fd sharing the description it
// was set through (dup, inheritance); it is one lock of the process: it is kept under the lowest
// such fd. Only fds of one inode can show the same POSIX lock: those alone are compared.
Process makeProcess(const Container& container, size_t taskIndex, const std::vector<LockedFd*>& lockedFds, size_t begin,
                    size_t end, std::vector<DescriptionCandidate>& candidates) {
    const ContainerTask& task = container.tasks[taskIndex];
    Process process{task.containerPid, task.hostPid, task.command, task.threads, {}};
    std::vector<FileKey> inodes, shared;
    inodes.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) inodes.push_back(fileKey(lockedFds[i]->entry.file));
    std::sort(inodes.begin(), inodes.end());
    for (size_t i = 1; i < inodes.size(); ++i)
        if (inodes[i] == inodes[i - 1] && (shared.empty() || shared.back() != inodes[i])) shared.push_back(inodes[i]);
    std::set<std::tuple<FileKey, LockType, uint64_t, uint64_t>> posixSeen;
    process.fds.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) {
        LockedFd& locked = *lockedFds[i];
        ProcessFd& entry = locked.entry;
        if (!shared.empty() && std::binary_search(shared.begin(), shared.end(), fileKey(entry.file))) {
            std::erase_if(entry.posixLocks, [&](const Lock& lock) {
                auto key = std::make_tuple(fileKey(entry.file), lock.type, lock.range.start,
                                           lock.range.end.value_or(UINT64_MAX));
                return !posixSeen.insert(key).second;
            });
        }
        if (entry.posixLocks.empty() && locked.descriptionLocks.empty()) continue;
        if (!locked.descriptionLocks.empty())
            candidates.push_back({taskIndex, process.fds.size(), task.hostPid, entry.fd,
                                  std::move(locked.descriptionLocks), locked.leaseOwner, locked.setterHostPid});
        process.fds.push_back(std::move(entry));
    }
    return process;
}

// Every task's process, made on the workers (the tasks are independent), in task order; the
// candidates in task order too, so the image is the same whichever worker made what.
void addProcesses(const Container& container, const std::vector<LockedFd*>& lockedFds, LockImage& image,
                  std::vector<DescriptionCandidate>& candidates) {
    size_t tasks = container.tasks.size();
    std::vector<size_t> firstOf(tasks + 1);  // lockedFds is sorted by task
    for (size_t t = 0; t <= tasks; ++t)
        firstOf[t] = std::partition_point(lockedFds.begin(), lockedFds.end(),
                                          [t](const LockedFd* locked) { return locked->taskIndex < t; }) -
                     lockedFds.begin();
    image.processes.resize(tasks);
    std::vector<std::vector<DescriptionCandidate>> perTask(tasks);
    // Below a few hundred fds a thread costs more than it saves: one chunk of every task.
    size_t chunk = lockedFds.size() < 256 ? std::max<size_t>(tasks, 1) : 1;
    runOnWorkers(tasks, chunk, [&](size_t, size_t begin, size_t end) {
        for (size_t t = begin; t < end; ++t)
            image.processes[t] = makeProcess(container, t, lockedFds, firstOf[t], firstOf[t + 1], perTask[t]);
    });
    for (auto& part : perTask) std::move(part.begin(), part.end(), std::back_inserter(candidates));
}

// Fds that show the same description locks on the same inode may still be different descriptions
// (two opens, each with a shared flock). kcmp(KCMP_FILE) orders descriptions, so a sort puts the
// fds of one description next to each other: O(n log n) kcmp calls, and none for a lone fd.
void groupDescriptions(const Container& container, LockImage& image, std::vector<DescriptionCandidate>& candidates) {
    // The candidates in file order (and their own order within a file): sorted as keys and
    // indexes, not moved themselves.
    struct Keyed {
        FileKey file;
        size_t index;
        bool operator<(const Keyed& other) const { return std::tie(file, index) < std::tie(other.file, other.index); }
    };
    std::vector<Keyed> order;
    order.reserve(candidates.size());
    for (size_t i = 0; i < candidates.size(); ++i)
        order.push_back({fileKey(image.processes[candidates[i].processIndex].fds[candidates[i].fdIndex].file), i});
    std::sort(order.begin(), order.end());
    image.descriptions.reserve(candidates.size());  // grown by doubling, each copy faults fresh pages
    for (size_t begin = 0; begin < order.size();) {
        size_t end = begin + 1;
        while (end < order.size() && order[end].file == order[begin].file) ++end;
        if (end - begin > 1) {
            std::sort(order.begin() + begin, order.begin() + end, [&](const Keyed& a, const Keyed& b) {
                const DescriptionCandidate &first = candidates[a.index], &second = candidates[b.index];
                return sys::kcmpFile(first.hostPid, first.fd, second.hostPid, second.fd) == 1;
            });
        }
        bool setterFirst = false;
        for (size_t i = begin; i < end; ++i) {
            DescriptionCandidate& candidate = candidates[order[i].index];
            // One file throughout [begin, end). The previous candidate's locks are those of the
            // last description: it made it (and its locks moved there) or joined it, equal.
            const DescriptionCandidate& previous = candidates[order[i > begin ? i - 1 : i].index];
            bool sameAsPrevious = i > begin && image.descriptions.back().locks == candidate.locks &&
                                  sys::kcmpFile(previous.hostPid, previous.fd, candidate.hostPid, candidate.fd) == 0;
            ProcessFd& fd = image.processes[candidate.processIndex].fds[candidate.fdIndex];
            if (!sameAsPrevious) {
                OpenFileDescription description;
                description.id = static_cast<int>(image.descriptions.size());
                description.file = fd.file;
                description.openFlags = fd.openFlags;
                description.locks = std::move(candidate.locks);
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
    LockImage image;
    image.container = container.identity;
    FdsRead read = lookAtFds(container, options, clock);
    std::vector<DescriptionCandidate> candidates;
    candidates.reserve(read.inOrder.size());
    addProcesses(container, read.inOrder, image, candidates);
    clock.lap("processes made");
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
