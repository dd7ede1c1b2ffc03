#include "replay/description_locks.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "discover/container.h"
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

// F_SETOWN_EX and F_SETSIG: whom a break of the description signals, and with what.
int setSignalSetting(int fd, f_owner_ex owner, int signal) {
    if (sys::fcntlPointer(fd, F_SETOWN_EX, &owner) != 0) return errno;
    return resultOf(sys::fcntlInteger(fd, F_SETSIG, signal));
}

// Pid 0 (none recorded, or outside the container) is set too: F_SETLEASE made its caller the
// owner, and a break would signal it.
int setSignalOwner(int fd, const SignalOwner& owner, pid_t hostOwner) {
    f_owner_ex target{static_cast<__pid_type>(owner.ownerType), 0};  // F_OWNER_TID is 0: no default here
    if (owner.containerPid > 0) {
        if (hostOwner == 0) return ESRCH;  // the owner is gone: a break would signal nobody
        target.pid = hostOwner;
    }
    return setSignalSetting(fd, target, owner.signal);
}

// A breaking lease is broken again the way the original opener did: a non-blocking open of the
// same file for reading or writing (CRIU's restore_breaking_file_lease does the same), through
// lockcr's own duplicate of the description (the target's /proc/PID/fd is empty when its main
// thread has exited).
int breakLease(int duplicate, const Lock& lock) {
    int openMode = lock.type == LockType::read ? O_RDONLY : O_WRONLY;
    int err = 0;
    std::string path = "/proc/self/fd/" + std::to_string(duplicate);
    UniqueFd breaker = sys::tryOpenAt(AT_FDCWD, path, openMode | O_NONBLOCK | O_NOCTTY, err);
    return breaker.valid() || err == EWOULDBLOCK ? 0 : err;
}

}  // namespace

// A break to READ came from a write lease and a reader; a break to UNLCK from a writer, against
// a read lease on a read-only description, else a write lease.
short leaseTypeToSet(const Lock& lock, unsigned openFlags) {
    if (lock.leaseState != LeaseState::breaking) return lock.type == LockType::write ? F_WRLCK : F_RDLCK;
    bool readOnly = (openFlags & O_ACCMODE) == O_RDONLY;
    return lock.type == LockType::read || !readOnly ? F_WRLCK : F_RDLCK;
}

int DescriptionLocks::pidFdOf(pid_t hostPid) {
    auto it = pidFds_.find(hostPid);
    if (it == pidFds_.end())
        it = pidFds_.emplace(hostPid, sys::pidfdOpenForFiles(hostPid, filesThreadOf(hostPid))).first;
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
        case LockKind::ofd: {
            struct flock request = byteRange(lock.type == LockType::write ? F_WRLCK : F_RDLCK, lock.range);
            return resultOf(sys::fcntlPointer(target, F_OFD_SETLK, &request));
        }
        case LockKind::flock:
        case LockKind::lease:
        case LockKind::posix: break;
    }
    throwFailure("replay: DescriptionLocks::set takes OFD locks only");
}

int DescriptionLocks::finishLease(pid_t hostPid, int fd, const Lock& lock, const std::optional<SignalOwner>& owner,
                                  pid_t hostOwner) {
    int target = duplicate(hostPid, fd);
    if (lock.leaseState == LeaseState::breaking) {
        f_owner_ex nobody{F_OWNER_PID, 0};
        if (sys::fcntlPointer(target, F_SETOWN_EX, &nobody) != 0) return errno;
        if (int err = breakLease(target, lock)) return err;
    }
    return setSignalOwner(target, owner.value_or(SignalOwner{}), hostOwner);
}

int DescriptionLocks::unset(pid_t hostPid, int fd, const Lock& lock) {
    int target = duplicate(hostPid, fd);
    switch (lock.kind) {
        case LockKind::flock: return resultOf(sys::flockCall(target, LOCK_UN));
        case LockKind::ofd: {
            struct flock request = byteRange(F_UNLCK, lock.range);
            return resultOf(sys::fcntlPointer(target, F_OFD_SETLK, &request));
        }
        case LockKind::lease: return resultOf(sys::fcntlInteger(target, F_SETLEASE, F_UNLCK));
        case LockKind::posix: break;
    }
    throwFailure("replay: a POSIX lock belongs to a process, not to a description");
}

DescriptionLocks::SignalSetting DescriptionLocks::saveSignalSetting(pid_t hostPid, int fd) {
    int target = duplicate(hostPid, fd);
    SignalSetting setting;
    if (sys::fcntlPointer(target, F_GETOWN_EX, &setting.owner) != 0)
        throwErrno("replay: pid " + std::to_string(hostPid) + " fd " + std::to_string(fd) + ": F_GETOWN_EX");
    setting.signal = sys::fcntlInteger(target, F_GETSIG, 0);
    if (setting.signal < 0)
        throwErrno("replay: pid " + std::to_string(hostPid) + " fd " + std::to_string(fd) + ": F_GETSIG");
    return setting;
}

int DescriptionLocks::restoreSignalSetting(pid_t hostPid, int fd, const SignalSetting& setting) {
    return setSignalSetting(duplicate(hostPid, fd), setting.owner, setting.signal);
}

}  // namespace lockcr
