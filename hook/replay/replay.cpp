#include "replay/replay.h"

#include <thread>

#include "freeze/freezer.h"
#include "replay/barrier.h"
#include "replay/executor.h"
#include "util/error.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/ptrace.h"

namespace lockcr {

namespace {

// One try at the whole replay: hold the barrier, run the executor under it, and on failure apply
// the failure policy (--on-failure) once the executor's undo log has taken back what it set.
class Attempt {
public:
    // FROZEN_BY_US: an earlier attempt left the cgroup frozen for this one (see leftFrozen).
    Attempt(const LockImage& image, Container& container, const ReplaySettings& settings,
            std::chrono::steady_clock::time_point waitDeadline, bool frozenByUs)
            : image_(image),
              container_(container),
              settings_(settings),
              waitDeadline_(waitDeadline),
              frozenByUs_(frozenByUs) {}

    // Throws HeldElsewhere only when policy "wait" may try again; any other failure, after the
    // rollback and the --on-failure action, as one Error that says what became of the container.
    ReplayResult run() {
        PhaseClock clock("replay");
        faultPoint("barrier-holding");
        try {
            barrier_ = StartBarrier::hold(container_, settings_.useFreezer, settings_.holdTimeout, frozenByUs_);
        } catch (...) {  // nothing was set; the container was let go again
            throw finalError(std::current_exception(), failClosed());
        }
        clock.lap("barrier held");
        ReplayResult result;
        try {
            killTraceesIfWeDie();
            // The executor's undo log rolls back, as it goes at the end of this block, unless
            // everything was set and verified.
            ReplayExecutor executor(image_, container_, settings_.pidMap, *barrier_);
            result = executor.run(clock);
        } catch (...) {  // any failure, not only ours (bad_alloc, system_error): all or nothing
            std::exception_ptr failure = std::current_exception();
            if (settings_.conflicts == ConflictPolicy::wait && isHeldElsewhere(failure) &&
                std::chrono::steady_clock::now() < waitDeadline_) {
                keepFrozenForRetry();
                throw;
            }
            throw finalError(failure, failClosed());
        }
        barrier_->release();
        clock.lap("barrier released");
        return result;
    }

    // The next attempt takes over a cgroup this one left frozen.
    bool leftFrozen() const { return leftFrozen_; }

private:
    // With policy freeze or kill the container must never run without its locks, also if lockcr
    // is killed (SIGKILL, OOM) while the tasks wait thawed in ptrace stops: the kernel detaches them
    // when their tracer dies and they would run on. No watchdog can refreeze them race-free (the
    // tracer's fds close microseconds before its tracees are let go, and a restarted F_SETLKW takes
    // a free lock at once: seen), so the kernel kills them instead (PTRACE_O_EXITKILL): fail closed.
    // The checkpoint can be restored again.
    void killTraceesIfWeDie() { sys::killTraceesIfTracerDies(settings_.onFailure != FailurePolicy::resume); }

    // --on-failure: the container runs on as it was (resume), stays frozen so that it never runs
    // without its locks (freeze), or is killed (kill). Returns what became of it, for the message.
    std::string failClosed() noexcept {
        if (settings_.onFailure == FailurePolicy::kill) return killContainer();
        if (settings_.onFailure != FailurePolicy::freeze) return "";
        if (!barrier_) return "; it could not be held, and runs on";
        try {
            barrier_->releaseFrozen();
            return "; the container is left frozen (--on-failure freeze)";
        } catch (const std::exception& error) {
            return std::string("; it could not be left frozen (") + error.what() + ") and runs on";
        }
    }

    // With policy freeze or kill the container does not run between two attempts of policy wait.
    void keepFrozenForRetry() noexcept {
        if (settings_.onFailure == FailurePolicy::resume || !settings_.useFreezer ||
            container_.cgroupVersion == CgroupVersion::none)
            return;
        try {
            barrier_->releaseFrozen();
            leftFrozen_ = true;
        } catch (const std::exception& error) {
            logError(std::string("replay: keeping the container frozen for the next attempt: ") + error.what());
        }
    }

    // SIGKILL to every task, also one that joined the cgroup after the barrier listed it, then the
    // freezer let go (a frozen task dies only once thawed), until none is left.
    std::string killContainer() noexcept {
        try {
            for (int round = 0; round < 200; ++round) {
                refreshTasks(container_);
                if (container_.tasks.empty()) return "; its processes were killed (--on-failure kill)";
                for (const ContainerTask& task : container_.tasks) sys::killProcess(task.hostPid, SIGKILL);
                if (barrier_) barrier_->release();
                if (container_.cgroupVersion != CgroupVersion::none)
                    thawSoKilledTasksDie(container_.cgroupVersion, container_.cgroupDirectory);
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            return "; killing its processes failed: " + std::to_string(container_.tasks.size()) + " still alive";
        } catch (const std::exception& error) {
            return std::string("; killing its processes failed (") + error.what() + ")";
        }
    }

    Error finalError(const std::exception_ptr& failure, const std::string& outcome) const {
        std::string message = "replay failed";
        int err = 0;
        ExitStatus status = ExitStatus::failure;
        try {
            std::rethrow_exception(failure);
        } catch (const Error& error) {
            message = error.what();
            err = error.errnoValue();
            status = error.status();
        } catch (const std::exception& error) {
            message = error.what();
        }
        if (settings_.conflicts == ConflictPolicy::wait && isHeldElsewhere(failure))
            message += " (still held after waiting " + std::to_string(settings_.waitTimeout.count()) + " ms)";
        return Error(message + outcome, err, status);
    }

    const LockImage& image_;
    Container& container_;
    const ReplaySettings& settings_;
    std::unique_ptr<StartBarrier> barrier_;
    std::chrono::steady_clock::time_point waitDeadline_;
    bool frozenByUs_ = false;
    bool leftFrozen_ = false;
};

}  // namespace

ReplayResult replayImage(const LockImage& image, Container& container, const ReplaySettings& settings) {
    if (settings.onFailure == FailurePolicy::freeze &&
        (!settings.useFreezer || container.cgroupVersion == CgroupVersion::none))
        throwBadInput("replay: --on-failure freeze needs the container's cgroup freezer (and no --no-freeze)");
    auto deadline = std::chrono::steady_clock::now() + settings.waitTimeout;
    bool frozenByUs = false;
    for (int attempt = 1;; ++attempt) {
        Attempt current(image, container, settings, deadline, frozenByUs);
        try {
            ReplayResult result = current.run();
            result.attempts = attempt;
            return result;
        } catch (const HeldElsewhere& conflict) {  // policy wait, before its deadline
            frozenByUs = current.leftFrozen();
            logInfo(std::string(conflict.what()) + "; waiting");
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            refreshTasks(container);
        }
    }
}

}  // namespace lockcr
