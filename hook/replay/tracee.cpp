#include "replay/tracee.h"

#include <time.h>

#include <algorithm>
#include <string>
#include <utility>

#include "util/error.h"
#include "util/log.h"
#include "util/ptrace.h"

namespace lockcr {

namespace {

// A process whose threads keep creating threads faster than they can be seized is given up on.
constexpr int kMaximumSeizeRounds = 1000;
// Seized threads that have not stopped yet cannot be detached (PTRACE_DETACH needs a stop);
// detach() waits this long for them. One that still does not stop (it is frozen, say) stays
// traced until lockcr exits, when the kernel detaches it.
constexpr std::chrono::milliseconds kStopWaitAtDetach{100};

std::string describe(pid_t pid, pid_t tid) {
    std::string text = "pid " + std::to_string(pid);
    if (tid != pid) text += " tid " + std::to_string(tid);
    return text;
}

void pauseMicroseconds(long microseconds) {
    timespec pause{0, microseconds * 1000};
    ::nanosleep(&pause, nullptr);
}

}  // namespace

StoppedProcess StoppedProcess::seizeAndInterrupt(pid_t pid) {
    StoppedProcess process(pid);
    for (int round = 0; process.seizeNewThreads(); ++round)
        if (round == kMaximumSeizeRounds)
            throwFailure("seize pid " + std::to_string(pid) + ": it keeps creating threads");
    if (process.threads_.empty()) throwErrno("seize pid " + std::to_string(pid), ESRCH);
    return process;
}

// PTRACE_SEIZE of a thread in group stop (SIGSTOP, SIGTSTP...) wakes it to move into a ptrace
// stop and waits, uninterruptibly but for SIGKILL, until it has (kernel/ptrace.c, ptrace_attach,
// JOBCTL_TRAPPING). Frozen by a cgroup v1 freezer (which since 6.1 parks stopped tasks in
// TASK_FROZEN) it cannot move until the thaw, so the seize would block the tracer until someone
// else thaws the cgroup. Seen on 6.18. Such a thread sleeps in do_signal_stop, reported as 'D'
// rather than 'T'. A group-stopped process runs nothing after a thaw either: seize it then.
void StoppedProcess::refuseStoppedAndFrozen(const std::vector<pid_t>& threads) const {
    for (pid_t tid : threads) {
        if (sys::readThreadWaitChannel(pid_, tid) != "do_signal_stop") continue;
        char state = 0;
        pid_t tracer = 0;
        if (!sys::readThreadState(pid_, tid, state, tracer) || state == 'T' || state == 't') continue;
        throwErrno("seize " + describe(pid_, tid) +
                       ": stopped by a signal inside a frozen cgroup; PTRACE_SEIZE would block until the "
                       "thaw (seize it after thawing: it stays stopped)",
                   EAGAIN);
    }
}

// Seizes and interrupts every listed thread not seized yet; true if there was one. A thread that
// is gone or a zombie (an exited leader) is skipped: it runs nothing and holds nothing.
bool StoppedProcess::seizeNewThreads() {
    bool added = false;
    std::vector<pid_t> listed = sys::listThreads(pid_);
    refuseStoppedAndFrozen(listed);  // before seizing any, so nothing is left half-seized
    for (pid_t tid : listed) {
        bool known = std::any_of(threads_.begin(), threads_.end(),
                                 [tid](const Thread& thread) { return thread.tid == tid; });
        if (known) continue;
        int err = sys::trySeize(tid, sys::seizeOptions());
        if (err == ESRCH) continue;
        if (err == EPERM) {
            char state = 0;
            pid_t tracer = 0;
            if (!sys::readThreadState(pid_, tid, state, tracer) || state == 'Z' || state == 'X') continue;
            std::string by = tracer > 0 ? " (already traced by pid " + std::to_string(tracer) + ")" : "";
            throwErrno("seize " + describe(pid_, tid) + by, err);
        }
        if (err) throwErrno("seize " + describe(pid_, tid), err);
        threads_.push_back({tid, ThreadState::seized});
        added = true;
        // ESRCH: it died between the two calls; collectStops() will reap its exit.
        err = sys::tryInterrupt(tid);
        if (err && err != ESRCH) throwErrno("interrupt " + describe(pid_, tid), err);
    }
    return added;
}

// Takes every report that is there without waiting; true once no seized thread is still running.
bool StoppedProcess::collectStops() {
    bool allStopped = true;
    for (auto it = threads_.begin(); it != threads_.end();) {
        if (it->state != ThreadState::seized) {
            ++it;
            continue;
        }
        sys::ThreadReport report;
        sys::WaitOutcome outcome = sys::pollThread(it->tid, report);
        if (outcome == sys::WaitOutcome::notOurs ||
            (outcome == sys::WaitOutcome::reported && report.kind == sys::ThreadReport::Kind::exited)) {
            it = threads_.erase(it);
            continue;
        }
        if (outcome == sys::WaitOutcome::nothingYet) {
            allStopped = false;
        } else if (report.kind == sys::ThreadReport::Kind::eventStop) {
            it->state = ThreadState::eventStop;
        } else if (report.kind == sys::ThreadReport::Kind::signalStop) {
            // The signal was dequeued on the way to the interrupt: suppressing it now would lose
            // it, so it stays in this stop and PTRACE_DETACH delivers it, siginfo and all.
            it->state = ThreadState::signalStop;
            it->pendingSignal = report.signal;
        } else {
            it->state = ThreadState::otherStop;
        }
        ++it;
    }
    return allStopped;
}

// Every thread sits in a signal-delivery-stop, none in an event stop where code can run. Deliver
// one thread's signal now, as the kernel would have (handler frame, default action): the pending
// interrupt then stops it in an event stop before it executes anything.
void StoppedProcess::deliverPendingSignalOfOneThread() {
    auto chosen = std::find_if(threads_.begin(), threads_.end(), [this](const Thread& thread) {
        return thread.tid == pid_ && thread.state == ThreadState::signalStop;
    });
    if (chosen == threads_.end())
        chosen = std::find_if(threads_.begin(), threads_.end(),
                              [](const Thread& thread) { return thread.state == ThreadState::signalStop; });
    if (chosen == threads_.end()) return;
    sys::resume(chosen->tid, chosen->pendingSignal);
    chosen->state = ThreadState::seized;
    chosen->pendingSignal = 0;
}

void StoppedProcess::waitUntilStopped(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    long pause = 20;
    for (;;) {
        if (collectStops()) {
            // Stopped threads create no threads; a listing with nothing new is final.
            if (seizeNewThreads()) continue;
            if (threads_.empty()) throwErrno("stop pid " + std::to_string(pid_) + ": it exited", ESRCH);
            bool injectable = std::any_of(threads_.begin(), threads_.end(),
                                          [](const Thread& thread) { return thread.state == ThreadState::eventStop; });
            if (injectable) return;
            deliverPendingSignalOfOneThread();
            continue;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            std::string running;
            for (const Thread& thread : threads_)
                if (thread.state == ThreadState::seized) running += " " + std::to_string(thread.tid);
            throwErrno("stop pid " + std::to_string(pid_) + ": thread(s)" + running + " did not stop within " +
                           std::to_string(timeout.count()) + " ms",
                       ETIMEDOUT);
        }
        pauseMicroseconds(pause);
        pause = std::min(pause * 2, 2000L);
    }
}

void StoppedProcess::waitForSeizedThreads(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!collectStops() && std::chrono::steady_clock::now() < deadline) pauseMicroseconds(500);
}

void StoppedProcess::detach() {
    if (threads_.empty()) return;
    waitForSeizedThreads(kStopWaitAtDetach);
    std::string failures;
    int firstErrno = 0;
    for (const Thread& thread : threads_) {
        // From a signal-delivery-stop the signal given here is delivered with its original siginfo.
        int err = sys::tryDetach(thread.tid, thread.pendingSignal);
        if (err == ESRCH) {
            // Not in a stop: either gone (killed while stopped) or still running toward its stop.
            char state = 0;
            pid_t tracer = 0;
            bool exists = sys::readThreadState(pid_, thread.tid, state, tracer) && state != 'Z' && state != 'X';
            sys::ThreadReport report;
            if (!exists || sys::pollThread(thread.tid, report) != sys::WaitOutcome::nothingYet) continue;
        }
        if (err == 0) continue;
        failures += " " + std::to_string(thread.tid);
        if (firstErrno == 0) firstErrno = err;
    }
    threads_.clear();
    if (!failures.empty())
        throwErrno("detach pid " + std::to_string(pid_) + ": thread(s)" + failures +
                       " not in a ptrace stop; they stay traced until lockcr exits",
                   firstErrno);
}

StoppedProcess::StoppedProcess(StoppedProcess&& other) noexcept
        : pid_(std::exchange(other.pid_, -1)), threads_(std::move(other.threads_)) {
    other.threads_.clear();
}

StoppedProcess& StoppedProcess::operator=(StoppedProcess&& other) noexcept {
    if (this != &other) {
        try {
            detach();
        } catch (const Error& error) {
            logError(error.what());
        }
        pid_ = std::exchange(other.pid_, -1);
        threads_ = std::move(other.threads_);
        other.threads_.clear();
    }
    return *this;
}

StoppedProcess::~StoppedProcess() {
    try {
        detach();
    } catch (const std::exception& error) {
        logError(error.what());
    }
}

std::vector<pid_t> StoppedProcess::threadIds() const {
    std::vector<pid_t> ids;
    for (const Thread& thread : threads_) ids.push_back(thread.tid);
    return ids;
}

pid_t StoppedProcess::injectionThread() const {
    pid_t chosen = -1;
    for (const Thread& thread : threads_) {
        if (thread.state != ThreadState::eventStop) continue;
        if (thread.tid == pid_) return thread.tid;
        if (chosen < 0) chosen = thread.tid;
    }
    if (chosen < 0) throwFailure("pid " + std::to_string(pid_) + ": no thread in a ptrace event stop to inject into");
    return chosen;
}

}  // namespace lockcr
