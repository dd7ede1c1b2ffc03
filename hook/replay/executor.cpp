#include "replay/executor.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <thread>

#include "collect/proc_locks.h"
#include "replay/barrier.h"
#include "replay/inject.h"
#include "replay/inject_arch.h"
#include "replay/outside_holders.h"
#include "replay/pending_calls.h"
#include "util/ptrace.h"
#include "util/sys.h"

namespace lockcr {

namespace {

// The lock as the conflict finder wants it, with the inode the live fd has now (the image's may
// be of a filesystem copied back since).
WantedLock wantedFor(pid_t hostPid, pid_t containerPid, int fd, const FileIdentity& file, const Lock& lock) {
    WantedLock want{file.path, file.inode, file.device, lock, hostPid, containerPid, fd};
    struct stat info {};
    int err = 0;
    std::string link = sys::threadDirectory(hostPid, filesThreadOf(hostPid)) + "/fd/" + std::to_string(fd);
    if (sys::tryStatAt(AT_FDCWD, link, info, err)) want.inode = info.st_ino;
    return want;
}

// The kernel said EAGAIN: find who holds it, for the message.
[[noreturn]] void throwHeldElsewhere(const WantedLock& want, const Container& container) {
    ProcLocksTable table = parseProcLocks(sys::readFile("/proc/locks"));
    WantedLock anyDevice = want;
    for (const LockLine& held : table.held)
        if (held.inode == want.inode) anyDevice.device = held.device;
    auto conflicts = findConflicts({anyDevice}, table, &container);
    if (!conflicts.empty()) throw HeldElsewhere(conflicts.front().line());
    throw HeldElsewhere("pid " + std::to_string(want.containerPid) + " fd " + std::to_string(want.fd) + " " +
                        want.path + ": " + describeLock(want.lock) +
                        ": refused by the kernel (EAGAIN), holder not found");
}

}  // namespace

bool isHeldElsewhere(const std::exception_ptr& failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const HeldElsewhere&) {
        return true;
    } catch (...) {
        return false;
    }
}

ReplayResult ReplayExecutor::run(PhaseClock& clock) {
    pids_ = mapImagePids(image_, container_, pidMap_);
    std::set<FdKey> targets = imageFds(image_, pids_);
    LockDifferences before = compareLockTables(
        image_, collectLocks(container_, {.pathsOf = &targets, .paths = &livePaths_, .keep = &firstLook_}), pids_);
    result_.alreadyInPlace = countLocks(image_) - before.missingPosix.size() - before.missingDescription.size();
    clock.lap("live table compared");
    // No pre-check through /proc/locks here: every read of it takes the kernel's file_rwsem
    // for writing (an RCU grace period per page read). The kernel's own non-blocking
    // refusal (EAGAIN) is the check; the rollback keeps all or nothing, and /proc/locks is
    // read only then, to name the holder.
    if (!before.ownerHoldsOther.empty())
        throwFailure("replay: " + before.ownerHoldsOther.front() +
                     "; refusing to change a lock its owner already holds (nothing was set)");
    ReplayPlan plan = planReplay(before, pids_, livePaths_);
    clock.lap("targets checked");
    saveLeaseSignalSettings(plan.inside);
    setLocks(plan, clock);
    clock.lap("OFD locks set");
    finishLeases(plan.inside);
    LockImage live = collectLocks(container_, {.pending = pendingThroughBarrier(), .kept = &firstLook_});
    LockDifferences after = compareLockTables(image_, live, pids_);
    clock.lap("verified");
    if (!after.empty())
        throwFailure("replay: after setting the locks, verify still finds " + std::to_string(after.lines().size()) +
                     " difference(s); first: " + after.lines().front());
    undo_.commit();
    return result_;
}

// OFD locks (pidfd_getfd, from a second thread) and the injections (ptrace, which belongs to
// this thread) touch nothing in common: they run side by side.
void ReplayExecutor::setLocks(const ReplayPlan& plan, PhaseClock& clock) {
    std::exception_ptr ofdFailure, insideFailure;
    {
        std::jthread ofd([&] {
            try {
                setOfdLocks(plan.ofdLocks);
            } catch (...) {
                ofdFailure = std::current_exception();
            }
        });
        try {
            if (!plan.inside.empty()) {
                barrier_.ensureTraced();
                clock.lap("every thread in a ptrace stop");
                setLocksInside(plan.inside);
                clock.lap("POSIX locks, flocks and leases set from inside their processes");
            }
        } catch (...) {
            insideFailure = std::current_exception();
        }
    }
    result_.descriptionLocksSet += ofdLocksSet_;
    // Both may have failed: a hard error goes before a lock held elsewhere, which policy
    // "wait" would retry.
    if (ofdFailure && insideFailure && isHeldElsewhere(insideFailure)) std::rethrow_exception(ofdFailure);
    if (insideFailure) std::rethrow_exception(insideFailure);
    if (ofdFailure) std::rethrow_exception(ofdFailure);
}

// OFD locks show no pid: lockcr sets them on its duplicate of the description.
void ReplayExecutor::setOfdLocks(const std::vector<PlannedOfdLock>& locks) {
    for (const PlannedOfdLock& lock : locks) {
        if (int err = descriptions_.set(lock.hostPid, lock.fd, lock.lock))
            failLock(lock.hostPid, lock.containerPid, lock.fd, lock.description->file, lock.lock, err);
        undo_.setOfdLock(lock);
        ++ofdLocksSet_;
    }
}

// All processes' loops run at once. Every call a process may have applied is recorded (for the
// rollback) before any failure is thrown: a hard error first, as in setLocks.
void ReplayExecutor::setLocksInside(const CallsByProcess& byProcess) {
    std::vector<InjectionJob> jobs;
    std::vector<const std::vector<PlannedCall>*> plans;
    for (const auto& [host, planned] : byProcess) {
        StoppedProcess* process = barrier_.stoppedProcess(host);
        if (!process)
            throwFailure("replay: pid " + std::to_string(planned.front().containerPid) + " is not held by the barrier");
        InjectionJob& job = jobs.emplace_back();
        job.process = process;
        for (const PlannedCall& call : planned) job.calls.push_back(call.call);
        plans.push_back(&planned);
    }
    injectLockCallsTogether(jobs);
    std::exception_ptr hardFailure, heldElsewhere;
    for (size_t j = 0; j < jobs.size(); ++j) {
        const InjectionJob& job = jobs[j];
        const std::vector<PlannedCall>& planned = *plans[j];
        pid_t host = job.process->pid();
        size_t applied = job.result.applied;
        std::exception_ptr failure = job.failure;
        if (failure) {
            applied = 0;
            try {
                std::rethrow_exception(failure);
            } catch (const FailedAfterLoop& after) {
                applied = after.applied();
            } catch (...) {}
        }
        for (size_t i = 0; i < applied; ++i) {
            undo_.setInside(host, planned[i]);
            if (!failure) ++(planned[i].description ? result_.descriptionLocksSet : result_.posixLocksSet);
        }
        if (!job.started) continue;
        if (!failure) ++result_.processesInjected;
        if (!failure && job.result.firstError) {
            const PlannedCall& failed = planned[applied];
            try {
                failLock(host, failed.containerPid, failed.call.fd, *failed.file, failed.lock, job.result.firstError);
            } catch (...) {
                failure = std::current_exception();
            }
        }
        if (!failure) continue;
        std::exception_ptr& first = isHeldElsewhere(failure) ? heldElsewhere : hardFailure;
        if (!first) first = failure;
    }
    if (hardFailure) std::rethrow_exception(hardFailure);
    if (heldElsewhere) std::rethrow_exception(heldElsewhere);
}

// Before any lease is set: whom each description's breaks signal now (what CRIU restored), so
// that a rollback leaves it so.
void ReplayExecutor::saveLeaseSignalSettings(const CallsByProcess& byProcess) {
    for (const auto& [host, planned] : byProcess)
        for (const PlannedCall& call : planned)
            if (call.lock.kind == LockKind::lease)
                undo_.savedSignalSetting(host, call.call.fd, descriptions_.saveSignalSetting(host, call.call.fd));
}

// F_SETLEASE made the caller the owner its break signals; the image's owner replaces it. A
// breaking lease is broken again with no owner yet, so the break signals nobody: the
// application had its signal before the checkpoint.
void ReplayExecutor::finishLeases(const CallsByProcess& byProcess) {
    for (const auto& [host, planned] : byProcess)
        for (const PlannedCall& call : planned) {
            if (call.lock.kind != LockKind::lease) continue;
            int err = descriptions_.finishLease(host, call.call.fd, call.lock, call.description->signalOwner,
                                                hostOwnerOf(call.description->signalOwner));
            if (err) failLock(host, call.containerPid, call.call.fd, *call.file, call.lock, err);
        }
}

// A waiter that stands before its blocking call (restored by CRIU, not yet run) is read from
// its registers, which needs it in a ptrace stop.
PendingSyscalls ReplayExecutor::pendingThroughBarrier() {
    return [this](pid_t pid, pid_t threadId, uint64_t instructionPointer) -> std::optional<SyscallLine> {
        if (!standsOnSyscallInstruction(pid, threadId, instructionPointer)) return std::nullopt;
        barrier_.ensureTraced();
        if (!barrier_.stoppedProcess(pid)) return std::nullopt;
        return inject_arch::pendingSyscall(sys::getRegisters(threadId));
    };
}

// A lease owner's host pid: a process of the container, for F_OWNER_TID one of its threads,
// for F_OWNER_PGRP the group of some task (its leader may have exited).
pid_t ReplayExecutor::hostOwnerOf(const std::optional<SignalOwner>& owner) const {
    if (!owner || owner->containerPid <= 0) return 0;
    if (owner->ownerType == F_OWNER_PGRP) {
        // Through the pid map while the leader lives (it honours --pid-map), else a member's.
        if (pid_t leader = pids_.hostPid(owner->containerPid); leader && sys::processGroupOf(leader) == leader)
            return leader;
        return hostProcessGroupOf(container_, owner->containerPid);
    }
    if (pid_t host = pids_.hostPid(owner->containerPid)) return host;
    return owner->ownerType == F_OWNER_TID ? hostThreadOf(container_, owner->containerPid) : 0;
}

void ReplayExecutor::failLock(pid_t host, pid_t containerPid, int fd, const FileIdentity& file, const Lock& lock,
                              int err) const {
    if (err == EAGAIN || err == EWOULDBLOCK || (lock.kind == LockKind::posix && err == EACCES))
        throwHeldElsewhere(wantedFor(host, containerPid, fd, file, lock), container_);
    throwErrno("replay: pid " + std::to_string(containerPid) + " fd " + std::to_string(fd) + " " + file.path + ": " +
                   describeLock(lock),
               err);
}

}  // namespace lockcr
