// flock, OFD locks and leases belong to an open file description. pidfd_getfd gives lockcr a
// duplicate that shares the target's description, so a lock set on the duplicate is the target's,
// and it stays after the duplicate is closed. Works while the target is frozen or ptrace-stopped.
// Every call is non-blocking (LOCK_NB, F_OFD_SETLK): an outside holder makes it fail, never hang.
#pragma once

#include <map>

#include "image/model.h"
#include "util/unique_fd.h"

namespace lockcr {

class DescriptionLocks {
public:
    // Sets LOCK on the description behind HOSTPID's FD. Returns 0 or the errno (EAGAIN: held elsewhere).
    int set(pid_t hostPid, int fd, const Lock& lock, const std::optional<SignalOwner>& owner,
            const std::map<pid_t, pid_t>& containerToHost);
    // Removes it again (rollback). Returns 0 or the errno.
    int unset(pid_t hostPid, int fd, const Lock& lock);

private:
    // The duplicate of HOSTPID's FD, made once: a description may carry thousands of OFD ranges.
    int duplicate(pid_t hostPid, int fd);
    std::map<pid_t, UniqueFd> pidFds_;
    std::map<std::pair<pid_t, int>, UniqueFd> duplicates_;
};

}  // namespace lockcr
