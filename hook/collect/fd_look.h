// The look at a container's fds that a collection makes: every fd of every process listed, its
// fdinfo read and parsed and its link read, on the workers (util/workers.h), each fd that holds
// locks made into its entry of the image on the worker that read it. Replay's two looks keep and
// re-read files here (KeptLook, inventory.h).
#pragma once

#include <optional>
#include <vector>

#include "collect/inventory.h"
#include "collect/owners.h"
#include "image/model.h"

namespace lockcr {

class PhaseClock;

// One fd whose fdinfo shows locks, made into its entry of the image on the worker that read it.
struct LockedFd {
    size_t taskIndex = 0;
    ProcessFd entry;                     // its POSIX locks as the fdinfo shows them: one set through a dup shows twice
    std::vector<Lock> descriptionLocks;  // flock, OFD and lease locks, of its description
    std::optional<HostSignalOwner> leaseOwner;  // read when the fd holds a lease
    pid_t setterHostPid = 0;                    // the pid a flock or lease line shows: who set it
};

// The fds of a look that hold locks (or whose path was asked for), in process and fd order: a list
// per chunk the workers took, and the entries in order.
struct FdsRead {
    std::vector<std::vector<LockedFd>> lists;
    std::vector<LockedFd*> inOrder;
};

// Lists every task's fds and reads them, or re-reads the kept look in options.kept (when it listed
// the same processes), keeping this look in options.keep if asked. Laps "fds listed" and "fdinfo
// read" on CLOCK. Refuses a thread with an fd table of its own holding locks (fd_tables.h).
FdsRead lookAtFds(const Container& container, const CollectOptions& options, PhaseClock& clock);

}  // namespace lockcr
