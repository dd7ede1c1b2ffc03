#include "replay/barrier.h"

#include <set>

#include "util/error.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/ptrace.h"

namespace lockcr {

std::unique_ptr<StartBarrier> StartBarrier::hold(Container& container, bool useFreezer,
                                                 std::chrono::milliseconds timeout, bool frozenByUs) {
    std::unique_ptr<StartBarrier> barrier(new StartBarrier());
    barrier->container_ = &container;
    barrier->timeout_ = timeout;
    if (useFreezer && container.cgroupVersion != CgroupVersion::none) {
        if (frozenByUs && isCgroupFrozen(container.cgroupVersion, container.cgroupDirectory))
            barrier->frozen_ = FrozenCgroup::adopt(container.cgroupVersion, container.cgroupDirectory);
        else barrier->frozen_ = FrozenCgroup::freeze(container.cgroupVersion, container.cgroupDirectory, timeout);
        refreshTasks(container);  // nothing forks while frozen: this list is final
        faultPoint("barrier-held");
        return barrier;
    }
    barrier->seizeEveryProcess(container, false);
    for (auto& process : barrier->stopped_) barrier->waitUntilHeld(*process);
    barrier->traced_ = true;
    faultPoint("barrier-held");
    return barrier;
}

// Seized and interrupted while frozen: after the thaw each thread goes straight into its event
// stop, before any instruction of its own.
void StartBarrier::ensureTraced() {
    if (traced_) return;
    std::vector<pid_t> stoppedWhileFrozen = seizeEveryProcess(*container_, true);
    refreezeOnRelease_ = frozen_.wasAlreadyFrozen();
    if (refreezeOnRelease_) frozen_.thawUntilFrozenAgain();
    else frozen_.thaw();
    traced_ = true;
    faultPoint("barrier-thawed");
    for (pid_t pid : stoppedWhileFrozen)
        if (const ContainerTask* task = container_->taskByHostPid(pid); task && !seizeOne(*task))
            throwFailure("replay: pid " + std::to_string(task->containerPid) + " (" + task->command +
                         "): still cannot be seized after the thaw");
    for (auto& process : stopped_) waitUntilHeld(*process);
}

// A process that dies in the barrier (SIGKILL from outside, the OOM killer: a ptrace stop does not
// keep it, and a v1-frozen one dies at the thaw) took its locks with it, and the image still has
// them: the replay cannot be all of the image, so it fails closed.
void StartBarrier::waitUntilHeld(StoppedProcess& process) {
    try {
        process.waitUntilStopped(timeout_);
    } catch (const Error& error) {
        const ContainerTask* task = container_->taskByHostPid(process.pid());
        std::string name = "pid " + std::to_string(task ? task->containerPid : process.pid()) +
                           (task ? " (" + task->command + ")" : "");
        if (error.errnoValue() == ESRCH)
            throwFailure("replay: " + name +
                         " exited while the barrier held it: the locks of the image cannot all be set");
        throw error.within("replay: hold " + name);
    }
}

// Without a freezer, tasks run while we seize: list again until a listing finds no process we have
// not seized (a seized, interrupted process can't fork any more). Frozen, the first listing is final.
// Returns the processes that are job-stopped (SIGSTOP) inside the frozen cgroup: PTRACE_SEIZE
// would block on them until the thaw, and a thaw leaves them stopped, so they are seized after it.
std::vector<pid_t> StartBarrier::seizeEveryProcess(Container& container, bool listingIsFinal) {
    std::set<pid_t> seized;
    std::vector<pid_t> stoppedWhileFrozen;
    for (int round = 0; round < 100; ++round) {
        bool added = false;
        for (const ContainerTask& task : container.tasks) {
            if (seized.contains(task.hostPid)) continue;
            seized.insert(task.hostPid);
            if (seizeOne(task)) added = true;
            else stoppedWhileFrozen.push_back(task.hostPid);
        }
        if (listingIsFinal || !added) return stoppedWhileFrozen;
        refreshTasks(container);
    }
    throwFailure("replay: the container keeps creating processes; cannot stop all of them");
}

// False for a job-stopped process in a frozen cgroup (seizing it must wait for the thaw).
bool StartBarrier::seizeOne(const ContainerTask& task) {
    try {
        stopped_.push_back(std::make_unique<StoppedProcess>(StoppedProcess::seizeAndInterrupt(task.hostPid)));
        return true;
    } catch (const Error& error) {
        if (error.errnoValue() == ESRCH) return true;  // exited: it holds nothing
        if (error.errnoValue() == EAGAIN) return false;
        throw error.within("replay: hold pid " + std::to_string(task.containerPid) + " (" + task.command + ")");
    }
}

StoppedProcess* StartBarrier::stoppedProcess(pid_t hostPid) {
    for (auto& process : stopped_)
        if (process->pid() == hostPid) return process.get();
    return nullptr;
}

// Every process lets go; one that cannot be detached is logged and the others still are.
void StartBarrier::detachAll() {
    for (auto& process : stopped_) {
        try {
            process->detach();
        } catch (const Error& error) {
            logError(std::string("replay: release: ") + error.what());
        }
    }
    stopped_.clear();
}

void StartBarrier::release() {
    if (released_) return;
    released_ = true;
    if (refreezeOnRelease_) frozen_.freezeAgain();
    detachAll();
    frozen_.thaw();
}

void StartBarrier::releaseFrozen() {
    if (released_) return;
    if (!frozen_.holdsCgroup()) throwFailure("replay: no cgroup freezer to leave the container frozen");
    frozen_.freezeAgain();
    released_ = true;  // only now: had the write failed, the destructor's release() lets everything go
    detachAll();
    frozen_.leaveFrozen();
    // Until every task is in the freezer (the detached ones get there before their next instruction).
    frozen_.waitUntilFrozen(timeout_);
}

StartBarrier::~StartBarrier() {
    try {
        release();
    } catch (const Error& error) {
        logError(std::string("replay: release: ") + error.what());
    }
}

}  // namespace lockcr
