#include "collect/owners.h"

#include <fcntl.h>

#include "discover/proc_status.h"
#include "util/error.h"
#include "util/sys.h"

namespace lockcr {

namespace {

bool holdsLease(const OpenFileDescription& description) {
    for (const Lock& lock : description.locks)
        if (lock.kind == LockKind::lease) return true;
    return false;
}

}  // namespace

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
    return status.namespacePids[container.namespaceLevel];
}

void recordSignalOwners(const Container& container, LockImage& image) {
    for (OpenFileDescription& description : image.descriptions) {
        if (!holdsLease(description) || description.holders.empty()) continue;
        const Holder& holder = description.holders.front();
        const ContainerTask* task = container.taskByContainerPid(holder.containerPid);
        if (!task) continue;
        try {
            UniqueFd pidFd = sys::pidfdOpen(task->hostPid);
            UniqueFd duplicate = sys::pidfdGetfd(pidFd.get(), holder.fd, task->hostPid);
            f_owner_ex owner{};
            if (sys::fcntlPointer(duplicate.get(), F_GETOWN_EX, &owner) != 0) throwErrno("F_GETOWN_EX");
            int signal = sys::fcntlInteger(duplicate.get(), F_GETSIG, 0);
            if (signal < 0) throwErrno("F_GETSIG");
            SignalOwner recorded;
            recorded.ownerType = owner.type;
            recorded.containerPid = containerPidOf(container, owner.pid);
            recorded.signal = signal;
            description.signalOwner = recorded;
        } catch (const Error& error) {
            throw error.within("collect: pid " + std::to_string(task->hostPid) + " fd " +
                               std::to_string(holder.fd) + " " + description.file.path + ": lease owner");
        }
    }
}

}  // namespace lockcr
