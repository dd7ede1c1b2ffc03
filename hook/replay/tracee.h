// One process held still by ptrace: every thread seized, interrupted and (after waitUntilStopped)
// sitting in a ptrace stop, where its registers are exactly those it will resume with. The one
// owner of that attachment: the destructor detaches on every path.
//
// Two phases, because the caller interleaves them with a cgroup freezer: seize and interrupt while
// the cgroup is frozen (a frozen task can be seized and interrupted; it reaches the stop after the
// thaw, before any instruction of its own), thaw, then wait for the stops.
//
// ptrace belongs to the tracer thread: use a StoppedProcess from the thread that created it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <vector>

namespace lockcr {

class StoppedProcess {
public:
    // PTRACE_SEIZE + PTRACE_INTERRUPT every thread of PID, listing /proc/PID/task again until a
    // listing finds no thread not yet seized. Throws Error: ESRCH if PID is gone, EPERM if another
    // tracer (CRIU before it detaches, a debugger) holds a thread, EAGAIN (nothing seized) if the
    // process is group-stopped (SIGSTOP...) inside a frozen cgroup v1: seizing it would block until
    // the thaw, so seize it after thawing (it stays stopped; see tracee.cpp).
    static StoppedProcess seizeAndInterrupt(pid_t pid);

    StoppedProcess(StoppedProcess&& other) noexcept;
    StoppedProcess& operator=(StoppedProcess&& other) noexcept;
    StoppedProcess(const StoppedProcess&) = delete;
    StoppedProcess& operator=(const StoppedProcess&) = delete;
    ~StoppedProcess();  // detach(), errors only logged

    // Waits until every thread sits in a ptrace stop, at most TIMEOUT (throws Error on timeout; the
    // object stays valid and detachable). A thread that exits meanwhile is dropped; a thread found
    // in a signal-delivery-stop instead keeps that signal and gets it back at detach. Threads
    // created before their creator stopped are seized too. Throws ESRCH if the process exited.
    void waitUntilStopped(std::chrono::milliseconds timeout);

    // Detaches every thread, handing back any signal a stop held. Restores nothing else: whoever
    // changed registers or memory puts them back first. Idempotent; throws Error for a thread
    // that could not be detached after trying all.
    void detach();

    pid_t pid() const { return pid_; }
    std::vector<pid_t> threadIds() const;
    // A thread in an event stop where code can be injected: the thread-group leader if it is one.
    // Throws Error if there is none (waitUntilStopped not called or failed, process gone).
    pid_t injectionThread() const;

private:
    enum class ThreadState {
        seized,      // interrupted, stop not seen yet
        eventStop,   // PTRACE_EVENT_STOP (interrupt or group-stop): registers as they will resume
        signalStop,  // signal-delivery-stop for pendingSignal: delivered at detach
        otherStop,   // some other ptrace stop: stopped, but not used for injection
    };
    struct Thread {
        pid_t tid;
        ThreadState state;
        int pendingSignal = 0;
    };

    explicit StoppedProcess(pid_t pid) : pid_(pid) {}
    void refuseStoppedAndFrozen(const std::vector<pid_t>& threads) const;
    bool seizeNewThreads();
    bool collectStops();
    void deliverPendingSignalOfOneThread();
    void waitForSeizedThreads(std::chrono::milliseconds timeout);

    pid_t pid_ = -1;
    std::vector<Thread> threads_;
};

}  // namespace lockcr
