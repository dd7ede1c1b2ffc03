#include "replay/description_locks.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

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

// F_SETLEASE records the caller's fd number in the lease's fasync entry, and a break's SIGIO /
// F_SETSIG signal carries it as si_fd: set through lockcr's duplicate, an application that finds
// its file by si_fd would be told a number it never had. So the lease is set by a short-lived
// child that holds the duplicate at the target's own fd number. The lease belongs to the
// description and stays when the child exits (only the last close of the file removes it).
int setLeaseAtTargetFdNumber(int duplicate, int targetFd, int type) {
    pid_t child = ::fork();
    if (child < 0) return errno;
    if (child == 0) {  // async-signal-safe calls only
        if (duplicate != targetFd && ::dup2(duplicate, targetFd) < 0) ::_exit(errno);
        ::_exit(::fcntl(targetFd, F_SETLEASE, type) == 0 ? 0 : errno);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0)
        if (errno != EINTR) return errno;
    if (!WIFEXITED(status)) return ECHILD;
    return WEXITSTATUS(status);
}

// A breaking lease can't be set directly: set the lease the break started from, then start the
// break the way the original opener did, with a non-blocking open of the same file (as CRIU's
// restore_breaking_file_lease does). A break to READ came from a write lease and a reader; a break
// to UNLCK from a writer, against a read lease on a read-only description, else a write lease.
int setBreakingLease(pid_t hostPid, int duplicate, int fd, const Lock& lock) {
    int flags = sys::fcntlInteger(duplicate, F_GETFL, 0);
    if (flags < 0) return errno;
    bool readOnly = (flags & O_ACCMODE) == O_RDONLY;
    int original = lock.type == LockType::read || !readOnly ? F_WRLCK : F_RDLCK;
    if (int err = setLeaseAtTargetFdNumber(duplicate, fd, original)) return err;
    int openMode = lock.type == LockType::read ? O_RDONLY : O_WRONLY;
    int err = 0;
    std::string path = "/proc/" + std::to_string(hostPid) + "/fd/" + std::to_string(fd);
    UniqueFd breaker = sys::tryOpenAt(AT_FDCWD, path, openMode | O_NONBLOCK | O_NOCTTY, err);
    return breaker.valid() || err == EWOULDBLOCK ? 0 : err;
}

}  // namespace

int DescriptionLocks::duplicate(pid_t hostPid, int fd) {
    auto known = duplicates_.find({hostPid, fd});
    if (known != duplicates_.end()) return known->second.get();
    auto it = pidFds_.find(hostPid);
    if (it == pidFds_.end()) it = pidFds_.emplace(hostPid, sys::pidfdOpen(hostPid)).first;
    return duplicates_.emplace(std::make_pair(hostPid, fd), sys::pidfdGetfd(it->second.get(), fd, hostPid)).first->second.get();
}

int DescriptionLocks::set(pid_t hostPid, int fd, const Lock& lock, const std::optional<SignalOwner>& owner,
                          const std::map<pid_t, pid_t>& containerToHost) {
    int target = duplicate(hostPid, fd);
    switch (lock.kind) {
        case LockKind::flock:
            return resultOf(sys::flockCall(target, (lock.type == LockType::write ? LOCK_EX : LOCK_SH) | LOCK_NB));
        case LockKind::ofd: {
            struct flock request = byteRange(lock.type == LockType::write ? F_WRLCK : F_RDLCK, lock.range);
            return resultOf(sys::fcntlPointer(target, F_OFD_SETLK, &request));
        }
        case LockKind::lease: {
            if (owner)
                if (int err = setSignalOwner(target, *owner, containerToHost)) return err;
            if (lock.leaseState == LeaseState::breaking) return setBreakingLease(hostPid, target, fd, lock);
            return setLeaseAtTargetFdNumber(target, fd, lock.type == LockType::write ? F_WRLCK : F_RDLCK);
        }
        case LockKind::posix:
            break;
    }
    throwFailure("replay: a POSIX lock belongs to a process, not to a description");
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
