#include "replay/outside_holders.h"

#include "image/conflict_rules.h"
#include "util/sys.h"

namespace lockcr {

namespace {

std::string commandOf(pid_t pid) {
    std::string text;
    int err = 0;
    if (pid <= 0 || !sys::tryReadFileAt(AT_FDCWD, "/proc/" + std::to_string(pid) + "/comm", text, err)) return "";
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
}

}  // namespace

std::string Conflict::line() const {
    std::string holder;
    if (held.pid > 0 && holderInContainer) {
        holder = "pid " + std::to_string(holderContainerPid) + " (" + holderCommand + ", host pid " +
                 std::to_string(held.pid) + ", inside the container)";
    } else if (held.pid > 0) {
        holder = "pid " + std::to_string(held.pid) + " (" + (holderCommand.empty() ? "?" : holderCommand) +
                 ", outside the container)";
    } else {
        holder = held.lock.kind == LockKind::ofd ? "an OFD lock (OFD locks name no pid)" : "a task invisible from here";
    }
    std::string where = wanted.fd >= 0
                            ? "pid " + std::to_string(wanted.containerPid) + " fd " + std::to_string(wanted.fd) + " "
                            : "";
    return where + wanted.path + ": " + describeLock(wanted.lock) + ": held by " + holder + " as " +
           describeLock(held.lock);
}

Conflict describeConflict(const WantedLock& wanted, const LockLine& held, const Container* container) {
    const ContainerTask* task = container && held.pid > 0 ? container->taskByHostPid(held.pid) : nullptr;
    return Conflict{wanted, held, commandOf(held.pid), task != nullptr, task ? task->containerPid : 0};
}

std::vector<Conflict> findConflicts(const std::vector<WantedLock>& wanted, const ProcLocksTable& table,
                                    const Container* container) {
    std::vector<Conflict> conflicts;
    for (const WantedLock& want : wanted) {
        for (const LockLine& held : table.held) {
            if (held.inode != want.inode || !(held.device == want.device)) continue;
            bool sameOwner = want.lock.kind == LockKind::posix && held.lock.kind == LockKind::posix &&
                             held.pid == want.ownerHostPid;
            if (sameOwner || !locksConflict(held.lock, want.lock)) continue;
            conflicts.push_back(describeConflict(want, held, container));
            break;
        }
    }
    return conflicts;
}

}  // namespace lockcr
