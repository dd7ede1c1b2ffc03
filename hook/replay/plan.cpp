#include "replay/plan.h"

#include "replay/description_locks.h"
#include "util/error.h"

namespace lockcr {

namespace {

short fcntlType(LockType type) {
    return type == LockType::write ? F_WRLCK : type == LockType::read ? F_RDLCK : F_UNLCK;
}

LockCall requestFor(int fd, const Lock& lock, short type) {
    uint64_t length = lock.range.end ? *lock.range.end - lock.range.start + 1 : 0;
    return LockCall{fd, type, lock.range.start, length};
}

pid_t hostPidOf(const PidMapping& pids, pid_t containerPid, const std::string& command) {
    pid_t host = pids.hostPid(containerPid);
    if (!host)
        throwFailure("replay: pid " + std::to_string(containerPid) + " (" + command +
                     ") of the image has no process in the container");
    return host;
}

// The fd numbers are the image's: the live fd must still be the recorded file. LIVE is its link
// text, read with the live lock table (nothing if the fd is not open).
void checkSameFile(const FdPaths& live, pid_t hostPid, pid_t containerPid, int fd, const FileIdentity& file) {
    auto found = live.find({hostPid, fd});
    if (found == live.end())  // closed since the checkpoint (an exec closed it, say)
        throwFailure("replay: pid " + std::to_string(containerPid) + " fd " + std::to_string(fd) +
                     " is not open (the image has " + file.path + " there)");
    std::string expected = file.deleted ? file.path + " (deleted)" : file.path;
    if (!file.path.empty() && found->second != expected)
        throw Error("replay: pid " + std::to_string(containerPid) + " fd " + std::to_string(fd) + ": refers to " +
                        found->second + ", the image has " + expected,
                    0, ExitStatus::failure);
}

void checkTargets(const LockDifferences& missing, const PidMapping& pids, const FdPaths& live) {
    std::set<FdKey> checked;
    auto check = [&](pid_t host, pid_t containerPid, int fd, const FileIdentity& file) {
        if (checked.insert({host, fd}).second) checkSameFile(live, host, containerPid, fd, file);
    };
    for (const MissingPosixLock& lock : missing.missingPosix)
        check(hostPidOf(pids, lock.process->containerPid, lock.process->command), lock.process->containerPid,
              lock.fd->fd, lock.fd->file);
    for (const MissingDescriptionLock& lock : missing.missingDescription) {
        const Holder& holder = holderFor(*lock.description, lock.lock, pids);
        check(pids.hostPid(holder.containerPid), holder.containerPid, holder.fd, lock.description->file);
    }
}

CallsByProcess planCallsInside(const LockDifferences& missing, const PidMapping& pids) {
    CallsByProcess byProcess;
    // Highest range first: the kernel keeps an owner's POSIX locks sorted and walks them from
    // the lowest to place a new one, so ascending order would walk all that came before.
    // (Reverse iterators, not std::ranges::reverse_view: clang 14's <ranges> rejects libstdc++ 12's.)
    for (auto it = missing.missingPosix.rbegin(); it != missing.missingPosix.rend(); ++it) {
        const MissingPosixLock& lock = *it;
        pid_t host = pids.hostPid(lock.process->containerPid);
        byProcess[host].push_back({requestFor(lock.fd->fd, lock.lock, fcntlType(lock.lock.type)),
                                   lock.process->containerPid, &lock.fd->file, lock.lock, nullptr});
    }
    for (const MissingDescriptionLock& lock : missing.missingDescription) {
        if (lock.lock.kind == LockKind::ofd) continue;
        const Holder& holder = holderFor(*lock.description, lock.lock, pids);
        short type = lock.lock.kind == LockKind::lease ? leaseTypeToSet(lock.lock, lock.description->openFlags)
                                                       : fcntlType(lock.lock.type);
        byProcess[pids.hostPid(holder.containerPid)].push_back({LockCall{holder.fd, type, 0, 0, lock.lock.kind},
                                                                holder.containerPid, &lock.description->file, lock.lock,
                                                                lock.description});
    }
    return byProcess;
}

std::vector<PlannedOfdLock> planOfdLocks(const LockDifferences& missing, const PidMapping& pids) {
    std::vector<PlannedOfdLock> locks;
    for (const MissingDescriptionLock& lock : missing.missingDescription) {
        if (lock.lock.kind != LockKind::ofd) continue;
        const Holder& holder = holderFor(*lock.description, lock.lock, pids);
        locks.push_back(
            {pids.hostPid(holder.containerPid), holder.containerPid, holder.fd, lock.lock, lock.description});
    }
    return locks;
}

}  // namespace

const Holder& holderFor(const OpenFileDescription& description, const Lock& lock, const PidMapping& pids) {
    if (lock.setBy > 0)
        for (const Holder& holder : description.holders)
            if (holder.containerPid == lock.setBy && pids.hostPid(holder.containerPid)) return holder;
    for (const Holder& holder : description.holders)
        if (pids.hostPid(holder.containerPid)) return holder;
    throwFailure("replay: description of " + description.file.path +
                 ": none of the processes sharing it is in the container");
}

std::set<FdKey> imageFds(const LockImage& image, const PidMapping& pids) {
    std::set<FdKey> fds;
    for (const Process& process : image.processes)
        if (pid_t host = pids.hostPid(process.containerPid))
            for (const ProcessFd& fd : process.fds) fds.insert({host, fd.fd});
    for (const OpenFileDescription& description : image.descriptions)
        for (const Holder& holder : description.holders)
            if (pid_t host = pids.hostPid(holder.containerPid)) fds.insert({host, holder.fd});
    return fds;
}

ReplayPlan planReplay(const LockDifferences& missing, const PidMapping& pids, const FdPaths& live) {
    checkTargets(missing, pids, live);
    ReplayPlan plan;
    plan.inside = planCallsInside(missing, pids);
    plan.ofdLocks = planOfdLocks(missing, pids);
    return plan;
}

}  // namespace lockcr
