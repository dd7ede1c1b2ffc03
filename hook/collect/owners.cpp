#include "collect/owners.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "discover/proc_status.h"
#include "util/error.h"
#include "util/sys.h"

namespace lockcr {

pid_t containerPidOf(const Container& container, pid_t hostPid) {
    if (hostPid <= 0) return 0;
    if (const ContainerTask* task = container.taskByHostPid(hostPid)) return task->containerPid;
    ProcessStatus status;
    try {
        status = readProcessStatus(hostPid);
    } catch (const Error&) {
        return 0;  // gone: it has no pid in the container any more
    }
    if (container.namespaceLevel >= status.namespacePids.size()) return 0;
    // The same depth is not the same namespace: a process of another container (a sibling
    // namespace) has a pid at this level too, naming some unrelated process of this one. (A
    // process in a namespace nested inside the container is not recognised either: it counts as
    // outside.)
    struct stat namespaceFile {};
    int err = 0;
    if (!sys::tryStatAt(AT_FDCWD, "/proc/" + std::to_string(hostPid) + "/ns/pid", namespaceFile, err) ||
        namespaceFile.st_ino != container.identity.pidNamespace)
        return 0;
    return status.namespacePids[container.namespaceLevel];
}

HostSignalOwner readSignalOwner(int pidFd, pid_t hostPid, int fd) {
    try {
        UniqueFd duplicate = sys::pidfdGetfd(pidFd, fd, hostPid);
        f_owner_ex owner{};
        if (sys::fcntlPointer(duplicate.get(), F_GETOWN_EX, &owner) != 0) throwErrno("F_GETOWN_EX");
        int signal = sys::fcntlInteger(duplicate.get(), F_GETSIG, 0);
        if (signal < 0) throwErrno("F_GETSIG");
        return {owner.type, owner.pid, signal};
    } catch (const Error& error) {
        throw error.within("collect: pid " + std::to_string(hostPid) + " fd " + std::to_string(fd) + ": lease owner");
    }
}

SignalOwner recordedSignalOwner(const Container& container, const HostSignalOwner& owner) {
    pid_t recorded = owner.ownerType == F_OWNER_PGRP ? containerProcessGroupOf(container, owner.hostPid)
                                                     : containerPidOf(container, owner.hostPid);
    return {owner.ownerType, recorded, owner.signal};
}

}  // namespace lockcr
