#include "replay/undo_log.h"

#include <cstring>

#include "replay/barrier.h"
#include "util/error.h"
#include "util/log.h"

namespace lockcr {

UndoLog::~UndoLog() {
    if (committed_) return;
    try {
        rollBack();
    } catch (const std::exception& error) {
        logError(std::string("replay: rollback: ") + error.what());
    }
}

// Undo in reverse, best effort: every step that fails is logged, none stops the others.
// POSIX locks are undone inside their owner; flocks and leases on lockcr's duplicate of the
// description (an unlock shows no pid).
void UndoLog::rollBack() {
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
        StoppedProcess* process = barrier_.stoppedProcess(host);
        try {
            InjectionResult undone = process ? injectLockCalls(*process, unlocks) : InjectionResult{0, ESRCH};
            if (undone.firstError)
                logError("replay: rollback of pid " + std::to_string(host) +
                         " POSIX locks failed: " + std::strerror(undone.firstError));
        } catch (const Error& error) {
            logError(std::string("replay: rollback: ") + error.what());
        }
    }
    for (auto it = setDescription_.rbegin(); it != setDescription_.rend(); ++it) unsetDescriptionLock(*it);
    for (const SavedSignal& saved : savedSignals_) {
        try {
            if (int err = descriptions_.restoreSignalSetting(saved.hostPid, saved.fd, saved.setting))
                logError("replay: rollback of pid " + std::to_string(saved.hostPid) + " fd " +
                         std::to_string(saved.fd) + " lease signal owner failed: " + std::strerror(err));
        } catch (const Error& error) {
            logError(std::string("replay: rollback: ") + error.what());
        }
    }
}

// Through the process it was set in, or, if that one is gone (killed by a failed injection),
// through any other live process sharing the description: the lock outlives its setter.
void UndoLog::unsetDescriptionLock(const SetDescriptionLock& set) {
    std::vector<std::pair<pid_t, int>> through{{set.hostPid, set.fd}};
    for (const Holder& holder : set.description->holders)
        if (pid_t host = pids_.hostPid(holder.containerPid); host && host != set.hostPid)
            through.push_back({host, holder.fd});
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

}  // namespace lockcr
