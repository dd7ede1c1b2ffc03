// The start barrier: from hold() until release(), no task of the container executes an instruction
// of its own. With a cgroup the container is frozen first; where locks must be injected (POSIX
// locks, flocks, leases) or a waiter's registers read, every thread of every process is then
// seized and interrupted, the cgroup thawed, and the threads wait in ptrace event stops (the
// freezer's fake signal makes a blocked F_SETLKW return -ERESTARTSYS; it restarts after detach).
// A container that was frozen when we came is frozen again before the threads are let go.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "discover/container.h"
#include "freeze/freezer.h"
#include "replay/tracee.h"

namespace lockcr {

class StartBarrier {
public:
    // Freezes the container, or, without a freezer, seizes and stops every process. With
    // FROZEN_BY_US the cgroup was left frozen by an earlier releaseFrozen() of this replay: it is
    // taken over as ours (thawed at release), not as a container that was frozen when we came.
    static std::unique_ptr<StartBarrier> hold(Container& container, bool useFreezer, std::chrono::milliseconds timeout,
                                              bool frozenByUs = false);
    // Locks will be injected or registers read: every process must sit in a ptrace stop, not in
    // the freezer.
    void ensureTraced();
    ~StartBarrier();
    StartBarrier(const StartBarrier&) = delete;
    StartBarrier& operator=(const StartBarrier&) = delete;

    StoppedProcess* stoppedProcess(pid_t hostPid);
    void release();
    // Fail closed: the cgroup is frozen before the threads are let go, and stays frozen after.
    // Needs the freezer (hold() with useFreezer and a cgroup).
    void releaseFrozen();

private:
    StartBarrier() = default;
    std::vector<pid_t> seizeEveryProcess(Container& container, bool listingIsFinal);
    bool seizeOne(const ContainerTask& task);
    void waitUntilHeld(StoppedProcess& process);
    void detachAll();

    Container* container_ = nullptr;
    std::chrono::milliseconds timeout_{0};
    bool traced_ = false;
    FrozenCgroup frozen_;
    std::vector<std::unique_ptr<StoppedProcess>> stopped_;
    bool refreezeOnRelease_ = false;
    bool released_ = false;
};

}  // namespace lockcr
