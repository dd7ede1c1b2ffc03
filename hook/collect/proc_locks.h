// The lines the kernel prints for a file lock: every line of /proc/locks, and the same format after
// "lock:\t" in /proc/PID/fdinfo/FD. Printed by lock_get_status() in fs/locks.c:
//
//   ID: KIND QUALIFIER TYPE PID MAJOR:MINOR:INODE START END
//   3: POSIX  ADVISORY  WRITE 2583 fe:00:10952858 5 14
//   3: -> POSIX  ADVISORY  WRITE 2584 fe:00:10952858 5 14      a waiter blocked on the line above
//   3:  -> FLOCK  ADVISORY  WRITE 2585 fe:00:10952858 0 EOF    a waiter blocked on that waiter
//
// Pure functions from text to values: they never read /proc themselves.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/model.h"

namespace lockcr {

struct LockLine {
    int id = 0;            // the number before ':'; a waiter repeats the id of the lock it waits on
    int blockedLevel = 0;  // 0: held; n > 0: a waiter at depth n, blocked on the nearest line
                           // above it at depth n - 1
    Lock lock;
    // The owner in the namespace of the /proc that printed it: -1 for OFD locks, 0 if not visible
    // there, other negative values for remote owners (fs/locks.c IS_REMOTELCK: 9p, ceph).
    pid_t pid = 0;
    DeviceNumber device;
    uint64_t inode = 0;
    // false for "<none>:0": a lease breaker waits for a file it has not opened yet, and a POSIX
    // line of "*NOINODE*" has no file; device and inode are then 0.
    bool hasInode = true;
    // Kernel variants the image model has no kind for. DELEG is an nfsd delegation (kind lease),
    // ACCESS a mandatory-locking access check (kind posix, a waiter only), MANDATORY a POSIX lock
    // on a mandatory-locking mount; the last two exist on kernels before 5.15 only. Nothing in a
    // container owns a delegation or an access check: consumers must not replay them.
    bool delegation = false;
    bool accessCheck = false;
    bool mandatory = false;
};

struct LockWait {
    LockLine waiter;
    LockLine blocker;  // a held lock, or for nested waiters the waiter it queued behind
};

struct ProcLocksTable {
    std::vector<LockLine> held;   // every line of depth 0, in order
    std::vector<LockWait> waits;  // every "->" line with what it is blocked on, in order
};

// One line, without its newline. Throws Error(badInput) quoting the line and saying what is wrong.
LockLine parseLockLine(std::string_view line);

// The whole of /proc/locks. Every line must be well formed and end in a newline (a missing last
// newline means a truncated read); a waiter must follow its blocker. Empty text is an empty table.
// Errors name the line number.
ProcLocksTable parseProcLocks(std::string_view text);

}  // namespace lockcr
