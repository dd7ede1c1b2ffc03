// Who a lease break signals: F_GETOWN_EX and F_GETSIG of the description, read through a pidfd_getfd
// duplicate (the owner lives on the shared struct file, so the duplicate reports the target's).
#pragma once

#include "discover/container.h"
#include "image/model.h"

namespace lockcr {

struct HostSignalOwner {
    int ownerType = 0;  // F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP
    pid_t hostPid = 0;  // 0 = none
    int signal = 0;
};

// F_GETOWN_EX and F_GETSIG of the description behind FD of the process PIDFD refers to (HOSTPID).
// Throws Error naming the fd.
HostSignalOwner readSignalOwner(int pidFd, pid_t hostPid, int fd);

// The owner as the image records it: the pid in the container's namespace.
SignalOwner recordedSignalOwner(const Container& container, const HostSignalOwner& owner);

// The pid of a task/process/group in the container's pid namespace, 0 if it has none there.
pid_t containerPidOf(const Container& container, pid_t hostPid);

}  // namespace lockcr
