// flock, OFD locks and leases belong to an open file description. pidfd_getfd gives lockcr a
// duplicate that shares the target's description, so a lock set on the duplicate is the target's,
// and it stays after the duplicate is closed. Works while the target is frozen or ptrace-stopped.
// Every call is non-blocking (LOCK_NB, F_OFD_SETLK): an outside holder makes it fail, never hang.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "image/model.h"
#include "util/unique_fd.h"

namespace lockcr {

// One lease to set on the description behind a target's fd.
struct LeaseRequest {
    pid_t hostPid = 0;
    int fd = -1;
    Lock lock;
    std::optional<SignalOwner> owner;
};

// How far a batch got: requests [0, applied) are set; when firstError is not 0, request
// [applied] failed with it and nothing after it was tried.
struct BatchResult {
    size_t applied = 0;
    int firstError = 0;
};

class DescriptionLocks {
public:
    // Sets a flock or OFD LOCK on the description behind HOSTPID's FD. Returns 0 or the errno
    // (EAGAIN: held elsewhere).
    int set(pid_t hostPid, int fd, const Lock& lock);
    // Sets the leases in order, each at the target's own fd number (see the .cpp), with their
    // signal owners; breaking leases are then re-broken.
    BatchResult setLeases(const std::vector<LeaseRequest>& leases, const std::map<pid_t, pid_t>& containerToHost);
    // Removes LOCK again (rollback). Returns 0 or the errno.
    int unset(pid_t hostPid, int fd, const Lock& lock);

private:
    int pidFdOf(pid_t hostPid);
    // The duplicate of HOSTPID's FD. Only the latest is kept: a description may carry thousands
    // of OFD ranges set one after the other, and keeping every duplicate of a container with
    // thousands of flocked fds open would need as many fds in lockcr.
    int duplicate(pid_t hostPid, int fd);
    std::map<pid_t, UniqueFd> pidFds_;
    std::pair<pid_t, int> duplicateOf_{0, -1};
    UniqueFd duplicate_;
};

}  // namespace lockcr
