#include "replay/replay.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "collect/inventory.h"
#include "collect/proc_locks.h"
#include "replay/barrier.h"
#include "replay/conflicts.h"
#include "replay/description_locks.h"
#include "replay/inject.h"
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

short fcntlType(LockType type) {
    return type == LockType::write ? F_WRLCK : type == LockType::read ? F_RDLCK : F_UNLCK;
}

PosixLockRequest requestFor(int fd, const Lock& lock, short type) {
    uint64_t length = lock.range.end ? *lock.range.end - lock.range.start + 1 : 0;
    return PosixLockRequest{fd, type, lock.range.start, length};
}

// The lock as the conflict finder wants it, with the inode the live fd has now (the image's may
// be of a filesystem copied back since).
WantedLock wantedFor(pid_t hostPid, pid_t containerPid, int fd, const FileIdentity& file, const Lock& lock) {
    WantedLock want{file.path, file.inode, file.device, lock, hostPid, containerPid, fd};
    struct stat info {};
    std::string link = "/proc/" + std::to_string(hostPid) + "/fd/" + std::to_string(fd);
    if (::stat(link.c_str(), &info) == 0) want.inode = info.st_ino;
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

// The fd numbers are the image's: the live fd must still be the recorded file.
void checkSameFile(pid_t hostPid, pid_t containerPid, int fd, const FileIdentity& file) {
    std::string live;
    int err = 0;
    std::string link = "/proc/" + std::to_string(hostPid) + "/fd/" + std::to_string(fd);
    if (!sys::tryReadLinkAt(AT_FDCWD, link, live, err))
        throwErrno("replay: pid " + std::to_string(containerPid) + " fd " + std::to_string(fd) + " (" + file.path + ")", err);
    std::string expected = file.deleted ? file.path + " (deleted)" : file.path;
    if (!file.path.empty() && live != expected)
        throw Error("replay: pid " + std::to_string(containerPid) + " fd " + std::to_string(fd) + ": refers to " + live +
                    ", the image has " + expected, 0, ExitStatus::failure);
}

class Attempt {
public:
    Attempt(const LockImage& image, Container& container, const ReplaySettings& settings)
        : image_(image), container_(container), settings_(settings) {}

    ReplayResult run() {
        PhaseClock clock("replay");
        barrier_ = StartBarrier::hold(container_, settings_.useFreezer, settings_.holdTimeout);
        clock.lap("barrier held");
        pids_ = mapImagePids(image_, container_, settings_.pidMap);
        LockDifferences before = compareLockTables(image_, collectLocks(container_), pids_);
        result_.alreadyInPlace = countLocks() - before.missingPosix.size() - before.missingDescription.size();
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
        try {
            setDescriptionLocks(before);
            clock.lap("description locks set");
            if (!before.missingPosix.empty()) {
                barrier_->ensureTraced();
                clock.lap("every thread in a ptrace stop");
                setPosixLocks(before);
                clock.lap("POSIX locks injected");
            }
            LockDifferences after = compareLockTables(image_, collectLocks(container_), pids_);
            clock.lap("verified");
            if (!after.empty())
                throwFailure("replay: after setting the locks, verify still finds " + std::to_string(after.lines().size()) +
                             " difference(s); first: " + after.lines().front());
        } catch (const Error&) {
            rollBack();
            throw;
        }
        barrier_->release();
        clock.lap("barrier released");
        return result_;
    }

private:
    size_t countLocks() const {
        size_t count = 0;
        for (const Process& process : image_.processes)
            for (const ProcessFd& fd : process.fds) count += fd.posixLocks.size();
        for (const OpenFileDescription& description : image_.descriptions) count += description.locks.size();
        return count;
    }

    pid_t hostPidOf(pid_t containerPid, const std::string& command) const {
        pid_t host = pids_.hostPid(containerPid);
        if (!host)
            throwFailure("replay: pid " + std::to_string(containerPid) + " (" + command +
                         ") of the image has no process in the container");
        return host;
    }

    const Holder& liveHolder(const OpenFileDescription& description) const {
        for (const Holder& holder : description.holders)
            if (pids_.hostPid(holder.containerPid)) return holder;
        throwFailure("replay: description of " + description.file.path + ": none of the processes sharing it is in the container");
    }

    void checkTargets(const LockDifferences& missing) const {
        std::set<std::pair<pid_t, int>> checked;
        auto check = [&](pid_t host, pid_t containerPid, int fd, const FileIdentity& file) {
            if (checked.insert({host, fd}).second) checkSameFile(host, containerPid, fd, file);
        };
        for (const MissingPosixLock& lock : missing.missingPosix)
            check(hostPidOf(lock.process->containerPid, lock.process->command), lock.process->containerPid, lock.fd->fd,
                  lock.fd->file);
        for (const MissingDescriptionLock& lock : missing.missingDescription) {
            const Holder& holder = liveHolder(*lock.description);
            check(pids_.hostPid(holder.containerPid), holder.containerPid, holder.fd, lock.description->file);
        }
    }

    // flock and OFD locks one by one; leases in one batch after them (one child sets them all).
    void setDescriptionLocks(const LockDifferences& missing) {
        std::vector<const MissingDescriptionLock*> leases;
        for (const MissingDescriptionLock& lock : missing.missingDescription) {
            if (lock.lock.kind == LockKind::lease) {
                leases.push_back(&lock);
                continue;
            }
            const Holder& holder = liveHolder(*lock.description);
            pid_t host = pids_.hostPid(holder.containerPid);
            if (int err = descriptions_.set(host, holder.fd, lock.lock)) failDescriptionLock(lock, host, holder, err);
            setDescription_.push_back({host, holder.fd, lock.lock});
            ++result_.descriptionLocksSet;
        }
        std::vector<LeaseRequest> requests;
        for (const MissingDescriptionLock* lock : leases) {
            const Holder& holder = liveHolder(*lock->description);
            requests.push_back({pids_.hostPid(holder.containerPid), holder.fd, lock->lock, lock->description->signalOwner});
        }
        BatchResult batch = descriptions_.setLeases(requests, pids_.containerToHost);
        for (size_t i = 0; i < batch.applied; ++i) setDescription_.push_back({requests[i].hostPid, requests[i].fd, requests[i].lock});
        result_.descriptionLocksSet += batch.applied;
        if (batch.firstError) {
            const MissingDescriptionLock& failed = *leases[batch.applied];
            failDescriptionLock(failed, requests[batch.applied].hostPid, liveHolder(*failed.description), batch.firstError);
        }
    }

    [[noreturn]] void failDescriptionLock(const MissingDescriptionLock& lock, pid_t host, const Holder& holder, int err) const {
        if (err == EAGAIN || err == EWOULDBLOCK)
            throwHeldElsewhere(wantedFor(host, holder.containerPid, holder.fd, lock.description->file, lock.lock), container_);
        throwErrno("replay: pid " + std::to_string(holder.containerPid) + " fd " + std::to_string(holder.fd) + " " +
                       lock.description->file.path + ": " + describeLock(lock.lock),
                   err);
    }

    void setPosixLocks(const LockDifferences& missing) {
        std::map<pid_t, std::vector<const MissingPosixLock*>> byProcess;
        for (const MissingPosixLock& lock : missing.missingPosix)
            byProcess[pids_.hostPid(lock.process->containerPid)].push_back(&lock);
        for (const auto& [host, locks] : byProcess) {
            StoppedProcess* process = barrier_->stoppedProcess(host);
            if (!process) throwFailure("replay: pid " + std::to_string(locks.front()->process->containerPid) + " is not held by the barrier");
            std::vector<PosixLockRequest> requests;
            for (const MissingPosixLock* lock : locks) requests.push_back(requestFor(lock->fd->fd, lock->lock, fcntlType(lock->lock.type)));
            InjectionResult injected = injectPosixLocks(*process, requests);
            auto& applied = setPosix_[host];
            applied.insert(applied.end(), requests.begin(), requests.begin() + static_cast<long>(injected.applied));
            result_.posixLocksSet += injected.applied;
            ++result_.processesInjected;
            if (injected.firstError == 0) continue;
            const MissingPosixLock& failed = *locks[injected.applied];
            WantedLock want = wantedFor(host, failed.process->containerPid, failed.fd->fd, failed.fd->file, failed.lock);
            if (injected.firstError == EAGAIN || injected.firstError == EACCES) throwHeldElsewhere(want, container_);
            throwErrno("replay: pid " + std::to_string(want.containerPid) + " fd " + std::to_string(want.fd) + " " + want.path +
                       ": " + describeLock(failed.lock), injected.firstError);
        }
    }

    // Undo in reverse, best effort: every step that fails is logged, none stops the others.
    void rollBack() {
        for (auto& [host, requests] : setPosix_) {
            StoppedProcess* process = barrier_->stoppedProcess(host);
            std::vector<PosixLockRequest> unlocks = requests;
            for (PosixLockRequest& request : unlocks) request.type = F_UNLCK;
            try {
                InjectionResult undone = process ? injectPosixLocks(*process, unlocks) : InjectionResult{0, ESRCH};
                if (undone.firstError) logError("replay: rollback of pid " + std::to_string(host) + " POSIX locks failed: " + std::strerror(undone.firstError));
            } catch (const Error& error) {
                logError(std::string("replay: rollback: ") + error.what());
            }
        }
        for (auto it = setDescription_.rbegin(); it != setDescription_.rend(); ++it) {
            try {
                if (int err = descriptions_.unset(it->hostPid, it->fd, it->lock))
                    logError("replay: rollback of pid " + std::to_string(it->hostPid) + " fd " + std::to_string(it->fd) +
                             " " + describeLock(it->lock) + " failed: " + std::strerror(err));
            } catch (const Error& error) {
                logError(std::string("replay: rollback: ") + error.what());
            }
        }
    }

    struct SetDescriptionLock {
        pid_t hostPid;
        int fd;
        Lock lock;
    };

    const LockImage& image_;
    Container& container_;
    const ReplaySettings& settings_;
    std::unique_ptr<StartBarrier> barrier_;
    PidMapping pids_;
    DescriptionLocks descriptions_;
    std::vector<SetDescriptionLock> setDescription_;
    std::map<pid_t, std::vector<PosixLockRequest>> setPosix_;
    ReplayResult result_;
};

}  // namespace

ReplayResult replayImage(const LockImage& image, Container& container, const ReplaySettings& settings) {
    auto deadline = std::chrono::steady_clock::now() + settings.waitTimeout;
    for (int attempt = 1;; ++attempt) {
        try {
            ReplayResult result = Attempt(image, container, settings).run();
            result.attempts = attempt;
            return result;
        } catch (const HeldElsewhere& conflict) {
            if (settings.conflicts != ConflictPolicy::wait) throw;
            if (std::chrono::steady_clock::now() >= deadline)
                throw Error(std::string(conflict.what()) + " (still held after waiting " +
                            std::to_string(settings.waitTimeout.count()) + " ms)", EAGAIN);
            logInfo(std::string(conflict.what()) + "; waiting");
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            refreshTasks(container);
        }
    }
}

}  // namespace lockcr
