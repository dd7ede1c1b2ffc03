// Who a lease break signals: F_GETOWN_EX and F_GETSIG of the description, read through a pidfd_getfd
// duplicate (the owner lives on the shared struct file, so the duplicate reports the target's).
#pragma once

#include "discover/container.h"
#include "image/model.h"

namespace lockcr {

void recordSignalOwners(const Container& container, LockImage& image);

// The pid of a task/process/group in the container's pid namespace, 0 if it has none there.
pid_t containerPidOf(const Container& container, pid_t hostPid);

}  // namespace lockcr
