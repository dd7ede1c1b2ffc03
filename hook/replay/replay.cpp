#include "replay/replay.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <ranges>
#include <set>
#include <thread>

#include "collect/inventory.h"
#include "collect/proc_locks.h"
#include "freeze/watchdog.h"
#include "replay/barrier.h"
#include "replay/conflicts.h"
#include "replay/description_locks.h"
#include "replay/inject.h"
#include "replay/inject_arch.h"
#include "replay/pending_calls.h"
#include "util/ptrace.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sys.h"
#include "verify/verify.h"

namespace lockcr {

namespace {

// A lock is held by someone else: the one failure that policy "wait" may outlast.
class HeldElsewhere : public Error {
public:
    explicit HeldElsewhere(const std::string& line) : Error("replay: " + line, EAGAIN) {}
};

bool isHeldElsewhere(const std::exception_ptr& failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const HeldElsewhere&) {
        return true;
    } catch (...) {
        return false;
    }
}

short fcntlType(LockType type) {
    return type == LockType::write ? F_WRLCK : type == LockType::read ? F_RDLCK : F_UNLCK;
}

LockCall requestFor(int fd, const Lock& lock, short type) {
    uint64_t length = lock.range.end ? *lock.range.end - lock.range.start + 1 : 0;
    return LockCall{fd, type, lock.range.start, length};
}

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
    throw HeldElsewhere("pid " + std::to_string(want.containerPid) + " fd " + std::to_string(want.fd) + " " + want.path +
                        ": " + describeLock(want.lock) + ": refused by the kernel (EAGAIN), holder not found");
}

// The fd numbers are the image's: the live fd must still be the recorded file. LIVE is its link
// text, read with the live lock table (nothing if the fd is not open).
void checkSameFile(const FdPaths& live, pid_t hostPid, pid_t containerPid, int fd, const FileIdentity& file) {
    auto found = live.find({hostPid, fd});
    if (found == live.end())
        throwErrno("replay: pid " + std::to_string(containerPid) + " fd " + std::to_string(fd) + " (" + file.path + ")", ENOENT);
    std::string expected = file.deleted ? file.path + " (deleted)" : file.path;
    if (!file.path.empty() && found->second != expected)
        throw Error("replay: pid " + std::to_string(containerPid) + " fd " + std::to_string(fd) + ": refers to " +
                    found->second + ", the image has " + expected, 0, ExitStatus::failure);
}

class Attempt {
public:
    // FROZEN_BY_US: an earlier attempt left the cgroup frozen for this one (see leftFrozen).
    Attempt(const LockImage& image, Container& container, const ReplaySettings& settings,
            std::chrono::steady_clock::time_point waitDeadline, bool frozenByUs)
        : image_(image), container_(container), settings_(settings), waitDeadline_(waitDeadline), frozenByUs_(frozenByUs) {}

    // Throws HeldElsewhere only when policy "wait" may try again; any other failure, after the
    // rollback and the --on-failure action, as one Error that says what became of the container.
    ReplayResult run() {
        PhaseClock clock("replay");
        try {
            barrier_ = StartBarrier::hold(container_, settings_.useFreezer, settings_.holdTimeout, frozenByUs_);
        } catch (...) {  // nothing was set; the container was let go again
            throw finalError(std::current_exception(), failClosed());
        }
        clock.lap("barrier held");
        try {
            armWatchdog();
            setEverything(clock);
        } catch (...) {  // any failure, not only ours (bad_alloc, system_error): all or nothing
            std::exception_ptr failure = std::current_exception();
            rollBack();
            if (settings_.conflicts == ConflictPolicy::wait && isHeldElsewhere(failure) &&
                std::chrono::steady_clock::now() < waitDeadline_) {
                keepFrozenForRetry();
                throw;
            }
            throw finalError(failure, failClosed());
        }
        barrier_->release();
        clock.lap("barrier released");
        return result_;
    }

    // With policy freeze or kill the container must never run without its locks, also if lockcr
    // is killed while the tasks wait thawed in ptrace stops (see freeze/watchdog.h).
    void armWatchdog() {
        if (settings_.onFailure == FailurePolicy::resume || !settings_.useFreezer ||
            container_.cgroupVersion == CgroupVersion::none)
            return;
        sys::killTraceesIfTracerDies(settings_.onFailure == FailurePolicy::kill);
        watchdog_ = FreezeWatchdog::arm(container_.cgroupVersion, container_.cgroupDirectory,
                                        "container of pid " + std::to_string(container_.identity.initHostPid));
    }

    // The next attempt takes over a cgroup this one left frozen.
    bool leftFrozen() const { return leftFrozen_; }

private:
    // Under the barrier: compare, check, set, verify. Throws on the first failure.
    void setEverything(PhaseClock& clock) {
        pids_ = mapImagePids(image_, container_, settings_.pidMap);
        std::set<FdKey> targets = imageFds();
        LockDifferences before =
            compareLockTables(image_, collectLocks(container_, {.pathsOf = &targets, .paths = &livePaths_, .keep = &firstLook_}), pids_);
        result_.alreadyInPlace = countLocks(image_) - before.missingPosix.size() - before.missingDescription.size();
        clock.lap("live table compared");
        // No pre-check through /proc/locks here: every read of it takes the kernel's file_rwsem
        // for writing (an RCU grace period per page read). The kernel's own non-blocking
        // refusal (EAGAIN) is the check; the rollback keeps all or nothing, and /proc/locks is
        // read only then, to name the holder.
        if (!before.ownerHoldsOther.empty())
            throwFailure("replay: " + before.ownerHoldsOther.front() +
                         "; refusing to change a lock its owner already holds (nothing was set)");
        checkTargets(before);
        clock.lap("targets checked");
        CallsByProcess inside = planCallsInside(before);
        saveLeaseSignalSettings(inside);
        setLocks(before, inside, clock);
        clock.lap("OFD locks set");
        finishLeases(inside);
        LockImage live = collectLocks(container_, {.pending = pendingThroughBarrier(), .kept = &firstLook_});
        LockDifferences after = compareLockTables(image_, live, pids_);
        clock.lap("verified");
        if (!after.empty())
            throwFailure("replay: after setting the locks, verify still finds " + std::to_string(after.lines().size()) +
                         " difference(s); first: " + after.lines().front());
    }

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

    // A lock call to make inside a process, with the image's lock it restores.
    struct PlannedCall {
        LockCall call;
        pid_t containerPid;
        const FileIdentity* file;
        Lock lock;
        const OpenFileDescription* description;  // flock and lease only
    };

    // Per host pid, in the order they are made.
    using CallsByProcess = std::map<pid_t, std::vector<PlannedCall>>;

    // OFD locks (pidfd_getfd, from a second thread) and the injections (ptrace, which belongs to
    // this thread) touch nothing in common: they run side by side.
    void setLocks(const LockDifferences& before, const CallsByProcess& inside, PhaseClock& clock) {
        std::exception_ptr ofdFailure, insideFailure;
        {
            std::jthread ofd([&] {
                try {
                    setOfdLocks(before);
                } catch (...) {
                    ofdFailure = std::current_exception();
                }
            });
            try {
                if (!inside.empty()) {
                    barrier_->ensureTraced();
                    clock.lap("every thread in a ptrace stop");
                    setLocksInside(inside);
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

    // A waiter that stands before its blocking call (restored by CRIU, not yet run) is read from
    // its registers, which needs it in a ptrace stop.
    PendingSyscalls pendingThroughBarrier() {
        return [this](pid_t pid, pid_t threadId, uint64_t instructionPointer) -> std::optional<SyscallLine> {
            if (!standsOnSyscallInstruction(pid, threadId, instructionPointer)) return std::nullopt;
            barrier_->ensureTraced();
            if (!barrier_->stoppedProcess(pid)) return std::nullopt;
            return inject_arch::pendingSyscall(sys::getRegisters(threadId));
        };
    }

    pid_t hostPidOf(pid_t containerPid, const std::string& command) const {
        pid_t host = pids_.hostPid(containerPid);
        if (!host)
            throwFailure("replay: pid " + std::to_string(containerPid) + " (" + command +
                         ") of the image has no process in the container");
        return host;
    }

    // The holder a description lock is set through: the process that set it (the pid the kernel
    // shows for a flock or lease, and a process that had the right to take a lease) if it still
    // holds the description, else the first live holder. Images without set_by list the setter of
    // the description's first flock or lease first.
    const Holder& holderFor(const OpenFileDescription& description, const Lock& lock) const {
        if (lock.setBy > 0)
            for (const Holder& holder : description.holders)
                if (holder.containerPid == lock.setBy && pids_.hostPid(holder.containerPid)) return holder;
        for (const Holder& holder : description.holders)
            if (pids_.hostPid(holder.containerPid)) return holder;
        throwFailure("replay: description of " + description.file.path + ": none of the processes sharing it is in the container");
    }

    // Every (host pid, fd) the image names in a process of the container.
    std::set<FdKey> imageFds() const {
        std::set<FdKey> fds;
        for (const Process& process : image_.processes)
            if (pid_t host = pids_.hostPid(process.containerPid))
                for (const ProcessFd& fd : process.fds) fds.insert({host, fd.fd});
        for (const OpenFileDescription& description : image_.descriptions)
            for (const Holder& holder : description.holders)
                if (pid_t host = pids_.hostPid(holder.containerPid)) fds.insert({host, holder.fd});
        return fds;
    }

    void checkTargets(const LockDifferences& missing) const {
        std::set<FdKey> checked;
        auto check = [&](pid_t host, pid_t containerPid, int fd, const FileIdentity& file) {
            if (checked.insert({host, fd}).second) checkSameFile(livePaths_, host, containerPid, fd, file);
        };
        for (const MissingPosixLock& lock : missing.missingPosix)
            check(hostPidOf(lock.process->containerPid, lock.process->command), lock.process->containerPid, lock.fd->fd,
                  lock.fd->file);
        for (const MissingDescriptionLock& lock : missing.missingDescription) {
            const Holder& holder = holderFor(*lock.description, lock.lock);
            check(pids_.hostPid(holder.containerPid), holder.containerPid, holder.fd, lock.description->file);
        }
    }

    // POSIX locks inside their owner; flocks and leases inside a process holding the description.
    CallsByProcess planCallsInside(const LockDifferences& missing) const {
        CallsByProcess byProcess;
        // Highest range first: the kernel keeps an owner's POSIX locks sorted and walks them from
        // the lowest to place a new one, so ascending order would walk all that came before.
        for (const MissingPosixLock& lock : std::ranges::reverse_view(missing.missingPosix)) {
            pid_t host = pids_.hostPid(lock.process->containerPid);
            byProcess[host].push_back({requestFor(lock.fd->fd, lock.lock, fcntlType(lock.lock.type)), lock.process->containerPid,
                                       &lock.fd->file, lock.lock, nullptr});
        }
        for (const MissingDescriptionLock& lock : missing.missingDescription) {
            if (lock.lock.kind == LockKind::ofd) continue;
            const Holder& holder = holderFor(*lock.description, lock.lock);
            short type = lock.lock.kind == LockKind::lease ? leaseTypeToSet(lock.lock, lock.description->openFlags)
                                                           : fcntlType(lock.lock.type);
            byProcess[pids_.hostPid(holder.containerPid)].push_back(
                {LockCall{holder.fd, type, 0, 0, lock.lock.kind}, holder.containerPid, &lock.description->file, lock.lock,
                 lock.description});
        }
        return byProcess;
    }

    // OFD locks show no pid: lockcr sets them on its duplicate of the description.
    void setOfdLocks(const LockDifferences& missing) {
        for (const MissingDescriptionLock& lock : missing.missingDescription) {
            if (lock.lock.kind != LockKind::ofd) continue;
            const Holder& holder = holderFor(*lock.description, lock.lock);
            pid_t host = pids_.hostPid(holder.containerPid);
            if (int err = descriptions_.set(host, holder.fd, lock.lock))
                failLock(host, holder.containerPid, holder.fd, lock.description->file, lock.lock, err);
            setDescription_.push_back({host, holder.fd, lock.lock, lock.description});
            ++ofdLocksSet_;
        }
    }

    // All processes' loops run at once. Every call a process may have applied is recorded (for the
    // rollback) before any failure is thrown: a hard error first, as in setLocks.
    void setLocksInside(const CallsByProcess& byProcess) {
        std::vector<InjectionJob> jobs;
        std::vector<const std::vector<PlannedCall>*> plans;
        for (const auto& [host, planned] : byProcess) {
            StoppedProcess* process = barrier_->stoppedProcess(host);
            if (!process) throwFailure("replay: pid " + std::to_string(planned.front().containerPid) + " is not held by the barrier");
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
                } catch (...) {
                }
            }
            for (size_t i = 0; i < applied; ++i) {
                setInside_[host].push_back(planned[i]);
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

    // F_SETLEASE made the caller the owner its break signals; the image's owner replaces it. A
    // breaking lease is broken again with no owner yet, so the break signals nobody: the
    // application had its signal before the checkpoint.
    void finishLeases(const CallsByProcess& byProcess) {
        for (const auto& [host, planned] : byProcess)
            for (const PlannedCall& call : planned) {
                if (call.lock.kind != LockKind::lease) continue;
                int err = descriptions_.finishLease(host, call.call.fd, call.lock, call.description->signalOwner,
                                                    hostOwnerOf(call.description->signalOwner));
                if (err) failLock(host, call.containerPid, call.call.fd, *call.file, call.lock, err);
            }
    }

    [[noreturn]] void failLock(pid_t host, pid_t containerPid, int fd, const FileIdentity& file, const Lock& lock, int err) const {
        if (err == EAGAIN || err == EWOULDBLOCK || (lock.kind == LockKind::posix && err == EACCES))
            throwHeldElsewhere(wantedFor(host, containerPid, fd, file, lock), container_);
        throwErrno("replay: pid " + std::to_string(containerPid) + " fd " + std::to_string(fd) + " " + file.path + ": " +
                       describeLock(lock),
                   err);
    }

    // Before any lease is set: whom each description's breaks signal now (what CRIU restored), so
    // that a rollback leaves it so.
    void saveLeaseSignalSettings(const CallsByProcess& byProcess) {
        for (const auto& [host, planned] : byProcess)
            for (const PlannedCall& call : planned)
                if (call.lock.kind == LockKind::lease)
                    savedSignals_.push_back({host, call.call.fd, descriptions_.saveSignalSetting(host, call.call.fd)});
    }

    // A lease owner's host pid: a process of the container, for F_OWNER_TID one of its threads,
    // for F_OWNER_PGRP the group of some task (its leader may have exited).
    pid_t hostOwnerOf(const std::optional<SignalOwner>& owner) const {
        if (!owner || owner->containerPid <= 0) return 0;
        if (owner->ownerType == F_OWNER_PGRP) {
            // Through the pid map while the leader lives (it honours --pid-map), else a member's.
            if (pid_t leader = pids_.hostPid(owner->containerPid); leader && sys::processGroupOf(leader) == leader) return leader;
            return hostProcessGroupOf(container_, owner->containerPid);
        }
        if (pid_t host = pids_.hostPid(owner->containerPid)) return host;
        return owner->ownerType == F_OWNER_TID ? hostThreadOf(container_, owner->containerPid) : 0;
    }

    struct SetDescriptionLock {
        pid_t hostPid;
        int fd;
        Lock lock;
        const OpenFileDescription* description;
    };

    // Undo in reverse, best effort: every step that fails is logged, none stops the others.
    // POSIX locks are undone inside their owner; flocks and leases on lockcr's duplicate of the
    // description (an unlock shows no pid).
    void rollBack() {
        for (auto& [host, planned] : setInside_) {
            std::vector<LockCall> unlocks;
            for (const PlannedCall& call : planned) {
                if (call.description) {
                    setDescription_.push_back({host, call.call.fd, call.lock, call.description});
                    continue;
                }
                unlocks.push_back(call.call);
                unlocks.back().type = F_UNLCK;
            }
            if (unlocks.empty()) continue;
            StoppedProcess* process = barrier_->stoppedProcess(host);
            try {
                InjectionResult undone = process ? injectLockCalls(*process, unlocks) : InjectionResult{0, ESRCH};
                if (undone.firstError) logError("replay: rollback of pid " + std::to_string(host) + " POSIX locks failed: " + std::strerror(undone.firstError));
            } catch (const Error& error) {
                logError(std::string("replay: rollback: ") + error.what());
            }
        }
        for (auto it = setDescription_.rbegin(); it != setDescription_.rend(); ++it) unsetDescriptionLock(*it);
        for (const SavedSignal& saved : savedSignals_) {
            try {
                if (int err = descriptions_.restoreSignalSetting(saved.hostPid, saved.fd, saved.setting))
                    logError("replay: rollback of pid " + std::to_string(saved.hostPid) + " fd " + std::to_string(saved.fd) +
                             " lease signal owner failed: " + std::strerror(err));
            } catch (const Error& error) {
                logError(std::string("replay: rollback: ") + error.what());
            }
        }
    }

    // Through the process it was set in, or, if that one is gone (killed by a failed injection),
    // through any other live process sharing the description: the lock outlives its setter.
    void unsetDescriptionLock(const SetDescriptionLock& set) {
        std::vector<std::pair<pid_t, int>> through{{set.hostPid, set.fd}};
        for (const Holder& holder : set.description->holders)
            if (pid_t host = pids_.hostPid(holder.containerPid); host && host != set.hostPid) through.push_back({host, holder.fd});
        std::string why;
        for (const auto& [host, fd] : through) {
            try {
                int err = descriptions_.unset(host, fd, set.lock);
                if (err == 0) return;
                why = std::strerror(err);
            } catch (const Error& error) {
                why = error.what();
            }
        }
        logError("replay: rollback of pid " + std::to_string(set.hostPid) + " fd " + std::to_string(set.fd) + " " +
                 describeLock(set.lock) + " failed: " + why);
    }

    const LockImage& image_;
    Container& container_;
    const ReplaySettings& settings_;
    // Declared before the barrier so that it is disarmed only after the barrier's last word on the
    // freezer (members are destroyed in reverse order).
    FreezeWatchdog watchdog_;
    std::unique_ptr<StartBarrier> barrier_;
    PidMapping pids_;
    DescriptionLocks descriptions_;
    std::vector<SetDescriptionLock> setDescription_;
    CallsByProcess setInside_;
    struct SavedSignal {
        pid_t hostPid;
        int fd;
        DescriptionLocks::SignalSetting setting;
    };
    std::vector<SavedSignal> savedSignals_;
    size_t ofdLocksSet_ = 0;  // counted apart: setOfdLocks runs beside setLocksInside
    FdPaths livePaths_;       // link text of every fd the image names, read with the live table
    KeptLook firstLook_;      // what the second look (the final verify) reads again
    std::chrono::steady_clock::time_point waitDeadline_;
    bool frozenByUs_ = false;
    bool leftFrozen_ = false;
    ReplayResult result_;
};

}  // namespace

ReplayResult replayImage(const LockImage& image, Container& container, const ReplaySettings& settings) {
    if (settings.onFailure == FailurePolicy::freeze && (!settings.useFreezer || container.cgroupVersion == CgroupVersion::none))
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
