// Outside holders: the locks held now (/proc/locks) by someone else that would make setting an
// image lock fail, each with its holder named. Whether two locks conflict is the kernel's rule
// (image/conflict_rules.h); this finds who holds them, so a pre-check can refuse before anything
// is touched, and replay can name the holder when the kernel says EAGAIN.
#pragma once

#include <string>
#include <vector>

#include "collect/proc_locks.h"
#include "discover/container.h"
#include "image/model.h"

namespace lockcr {

struct WantedLock {
    std::string path;  // for messages
    uint64_t inode = 0;
    DeviceNumber device;
    Lock lock;
    pid_t ownerHostPid = 0;  // POSIX: the process that will own it; its own locks never conflict
    pid_t containerPid = 0;  // for messages
    int fd = -1;
};

struct Conflict {
    WantedLock wanted;
    LockLine held;
    std::string holderCommand;
    bool holderInContainer = false;
    pid_t holderContainerPid = 0;  // the holder's pid inside the container, when it is in it
    // "pid 42 fd 5 /data/a: POSIX WRITE [10,29]: held by pid 77 (sleep, outside the container)"
    std::string line() const;
};

// Names the holder (command, inside or outside the container).
Conflict describeConflict(const WantedLock& wanted, const LockLine& held, const Container* container);

std::vector<Conflict> findConflicts(const std::vector<WantedLock>& wanted, const ProcLocksTable& table,
                                    const Container* container);

}  // namespace lockcr
