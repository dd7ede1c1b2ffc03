#include "replay/description_locks.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "util/error.h"
#include "util/sys.h"

namespace lockcr {

namespace {

int resultOf(int returned) { return returned == 0 ? 0 : errno; }

struct flock byteRange(short type, const LockRange& range) {
    struct flock request {};
    request.l_type = type;
    request.l_whence = SEEK_SET;
    request.l_start = static_cast<off_t>(range.start);
    request.l_len = range.end ? static_cast<off_t>(*range.end - range.start + 1) : 0;
    return request;
}

int setSignalOwner(int fd, const SignalOwner& owner, const std::map<pid_t, pid_t>& containerToHost) {
    if (owner.containerPid > 0) {
        auto it = containerToHost.find(owner.containerPid);
        f_owner_ex target{static_cast<__pid_type>(owner.ownerType), it == containerToHost.end() ? 0 : it->second};
        if (target.pid == 0) return ESRCH;  // the owner process is gone: a break would signal nobody
        if (sys::fcntlPointer(fd, F_SETOWN_EX, &target) != 0) return errno;
    }
    return resultOf(sys::fcntlInteger(fd, F_SETSIG, owner.signal));
}

// A breaking lease can't be set directly: the lease the break started from is set, then broken
// the way the original opener did (as CRIU's restore_breaking_file_lease does). A break to READ
// came from a write lease and a reader; a break to UNLCK from a writer, against a read lease on a
// read-only description, else a write lease.
int leaseTypeToSet(const Lock& lock, unsigned openFlags) {
    if (lock.leaseState != LeaseState::breaking) return lock.type == LockType::write ? F_WRLCK : F_RDLCK;
    bool readOnly = (openFlags & O_ACCMODE) == O_RDONLY;
    return lock.type == LockType::read || !readOnly ? F_WRLCK : F_RDLCK;
}

// ...and the break: a non-blocking open of the same file for reading or writing.
int breakLease(pid_t hostPid, int fd, const Lock& lock) {
    int openMode = lock.type == LockType::read ? O_RDONLY : O_WRONLY;
    int err = 0;
    std::string path = "/proc/" + std::to_string(hostPid) + "/fd/" + std::to_string(fd);
    UniqueFd breaker = sys::tryOpenAt(AT_FDCWD, path, openMode | O_NONBLOCK | O_NOCTTY, err);
    return breaker.valid() || err == EWOULDBLOCK ? 0 : err;
}

// F_SETLEASE records the caller's fd number in the lease's fasync entry, and a break's SIGIO /
// F_SETSIG signal carries it as si_fd: set through a duplicate at another number, an application
// that finds its file by si_fd would be told a number it never had. So one short-lived child sets
// every lease, each through a duplicate placed at the target's own fd number. A lease belongs to
// the description and stays when the child closes its fd or exits (only the last close of the
// file removes it).
struct LeaseCall {
    int pidFdSlot = 0;  // index into the child's pidfds
    int targetFd = -1;
    int type = F_RDLCK;
};

struct ChildReport {
    size_t applied = 0;
    int error = 0;
};

[[noreturn]] void reportAndExit(int report, ChildReport result, int error) {
    result.error = error;
    (void)!::write(report, &result, sizeof result);
    ::_exit(0);
}

// Runs in the forked child: system calls only, on memory prepared before the fork. The pidfds and
// the report pipe first move above every target number, so placing a duplicate at its target's
// number never closes one of them.
[[noreturn]] void setLeasesInChild(const std::vector<LeaseCall>& calls, std::vector<int>& pidFds, int report) {
    int floor = 0;
    for (const LeaseCall& call : calls) floor = std::max(floor, call.targetFd + 1);
    ChildReport result;
    auto finish = [&](int error) { reportAndExit(report, result, error); };
    int movedReport = ::fcntl(report, F_DUPFD_CLOEXEC, floor);
    if (movedReport < 0) finish(errno);
    report = movedReport;
    for (int& pidFd : pidFds) {
        int moved = ::fcntl(pidFd, F_DUPFD_CLOEXEC, floor);
        if (moved < 0) finish(errno);
        pidFd = moved;
    }
    for (const LeaseCall& call : calls) {
        int copy = sys::tryPidfdGetfd(pidFds[call.pidFdSlot], call.targetFd);
        if (copy < 0) finish(errno);
        if (copy != call.targetFd) {
            if (::dup2(copy, call.targetFd) < 0) finish(errno);
            ::close(copy);
        }
        if (::fcntl(call.targetFd, F_SETLEASE, call.type) != 0) finish(errno);
        ::close(call.targetFd);
        ++result.applied;
    }
    reportAndExit(report, result, 0);
}

BatchResult runLeaseChild(const std::vector<LeaseCall>& calls, std::vector<int> pidFds) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) throwErrno("replay: pipe for the lease setter");
    UniqueFd readEnd(ends[0]), writeEnd(ends[1]);
    pid_t child = ::fork();
    if (child < 0) throwErrno("replay: fork the lease setter");
    if (child == 0) setLeasesInChild(calls, pidFds, writeEnd.get());
    writeEnd.reset();
    ChildReport report;
    std::string text = sys::readAll(readEnd.get(), "lease setter report", sizeof report);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0)
        if (errno != EINTR) throwErrno("replay: wait for the lease setter");
    if (text.size() != sizeof report || !WIFEXITED(status))
        throwFailure("replay: the lease setter (pid " + std::to_string(child) + ") died before reporting");
    std::copy(text.begin(), text.end(), reinterpret_cast<char*>(&report));
    return {report.applied, report.error};
}

}  // namespace

int DescriptionLocks::pidFdOf(pid_t hostPid) {
    auto it = pidFds_.find(hostPid);
    if (it == pidFds_.end()) it = pidFds_.emplace(hostPid, sys::pidfdOpen(hostPid)).first;
    return it->second.get();
}

int DescriptionLocks::duplicate(pid_t hostPid, int fd) {
    if (duplicate_ && duplicateOf_ == std::make_pair(hostPid, fd)) return duplicate_.get();
    duplicate_ = sys::pidfdGetfd(pidFdOf(hostPid), fd, hostPid);
    duplicateOf_ = {hostPid, fd};
    return duplicate_.get();
}

int DescriptionLocks::set(pid_t hostPid, int fd, const Lock& lock) {
    int target = duplicate(hostPid, fd);
    switch (lock.kind) {
        case LockKind::flock:
            return resultOf(sys::flockCall(target, (lock.type == LockType::write ? LOCK_EX : LOCK_SH) | LOCK_NB));
        case LockKind::ofd: {
            struct flock request = byteRange(lock.type == LockType::write ? F_WRLCK : F_RDLCK, lock.range);
            return resultOf(sys::fcntlPointer(target, F_OFD_SETLK, &request));
        }
        case LockKind::lease:
        case LockKind::posix:
            break;
    }
    throwFailure("replay: DescriptionLocks::set takes flock and OFD locks only");
}

// Signal owners and open flags are read and set here, before the child runs: they belong to the
// description, so lockcr's duplicate serves. A failure there stops the batch at that lease.
BatchResult DescriptionLocks::setLeases(const std::vector<LeaseRequest>& leases,
                                        const std::map<pid_t, pid_t>& containerToHost) {
    std::vector<LeaseCall> calls;
    std::vector<int> pidFds;
    std::map<pid_t, int> slots;
    int stopError = 0;
    for (const LeaseRequest& lease : leases) {
        int target = duplicate(lease.hostPid, lease.fd);
        if (lease.owner)
            if ((stopError = setSignalOwner(target, *lease.owner, containerToHost))) break;
        int flags = sys::fcntlInteger(target, F_GETFL, 0);
        if (flags < 0) {
            stopError = errno;
            break;
        }
        auto [slot, added] = slots.emplace(lease.hostPid, static_cast<int>(pidFds.size()));
        if (added) pidFds.push_back(pidFdOf(lease.hostPid));
        calls.push_back({slot->second, lease.fd, leaseTypeToSet(lease.lock, static_cast<unsigned>(flags))});
    }
    BatchResult result = calls.empty() ? BatchResult{} : runLeaseChild(calls, pidFds);
    if (result.firstError == 0) result.firstError = stopError;
    // Breaks start only once every lease is in place: a lease can't be taken on a file whose
    // break is pending, and a break reaches every lease on the file, as it did when recorded.
    for (size_t i = 0; i < result.applied; ++i) {
        if (leases[i].lock.leaseState != LeaseState::breaking) continue;
        if (int err = breakLease(leases[i].hostPid, leases[i].fd, leases[i].lock)) {
            // The caller rolls back [0, i); the rest of what the child set goes here.
            for (size_t undo = i; undo < result.applied; ++undo) unset(leases[undo].hostPid, leases[undo].fd, leases[undo].lock);
            result = {i, err};
            break;
        }
    }
    return result;
}

int DescriptionLocks::unset(pid_t hostPid, int fd, const Lock& lock) {
    int target = duplicate(hostPid, fd);
    switch (lock.kind) {
        case LockKind::flock:
            return resultOf(sys::flockCall(target, LOCK_UN));
        case LockKind::ofd: {
            struct flock request = byteRange(F_UNLCK, lock.range);
            return resultOf(sys::fcntlPointer(target, F_OFD_SETLK, &request));
        }
        case LockKind::lease:
            return resultOf(sys::fcntlInteger(target, F_SETLEASE, F_UNLCK));
        case LockKind::posix:
            break;
    }
    throwFailure("replay: a POSIX lock belongs to a process, not to a description");
}

}  // namespace lockcr
