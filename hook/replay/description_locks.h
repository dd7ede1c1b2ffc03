// flock, OFD locks and leases belong to an open file description. pidfd_getfd gives lockcr a
// duplicate that shares the target's description, so a lock set on the duplicate is the target's,
// and it stays after the duplicate is closed. Works while the target is frozen or ptrace-stopped.
// Replay sets OFD locks this way (they show no pid). Flocks and leases show the pid of whoever
// set them, so replay sets those from inside a holder (inject.h); through the duplicate it only
// finishes leases (signal owner, re-break) and rolls back. Every call is non-blocking (LOCK_NB,
// F_OFD_SETLK): an outside holder makes it fail, never hang.
#pragma once

#include <fcntl.h>

#include <map>
#include <optional>

#include "image/model.h"
#include "util/unique_fd.h"

namespace lockcr {

// The lease type F_SETLEASE must set to restore LOCK (F_RDLCK or F_WRLCK). A breaking lease
// can't be set directly: the lease its break started from is set, then broken again.
short leaseTypeToSet(const Lock& lock, unsigned openFlags);

class DescriptionLocks {
public:
    // Sets an OFD LOCK on the description behind HOSTPID's FD. Returns 0 or the errno (EAGAIN:
    // held elsewhere).
    int set(pid_t hostPid, int fd, const Lock& lock);
    // Once the lease LOCK is set (from inside a holder: see inject.h): the image's signal owner
    // in place of the caller F_SETLEASE made owner, and a breaking lease broken again, signalling
    // nobody. Returns 0 or the errno.
    // HOST_OWNER: the owner's host pid or tid (0: none, or gone).
    int finishLease(pid_t hostPid, int fd, const Lock& lock, const std::optional<SignalOwner>& owner, pid_t hostOwner);
    // Removes LOCK again (rollback). Returns 0 or the errno.
    int unset(pid_t hostPid, int fd, const Lock& lock);

    // Whom a break of the description behind HOSTPID's FD signals, and with what. Setting a lease
    // makes its caller the owner and removing one clears the owner: a rollback puts back what was
    // saved before. Errors throw (save) or return the errno (restore).
    struct SignalSetting {
        f_owner_ex owner{};
        int signal = 0;
    };
    SignalSetting saveSignalSetting(pid_t hostPid, int fd);
    int restoreSignalSetting(pid_t hostPid, int fd, const SignalSetting& setting);

private:
    int pidFdOf(pid_t hostPid);
    // The duplicate of HOSTPID's FD. Only the latest is kept: a description may carry thousands
    // of OFD ranges set one after the other, and keeping every duplicate of a container with
    // thousands of locked fds open would need as many fds in lockcr.
    int duplicate(pid_t hostPid, int fd);
    std::map<pid_t, UniqueFd> pidFds_;
    std::pair<pid_t, int> duplicateOf_{0, -1};
    UniqueFd duplicate_;
};

}  // namespace lockcr
