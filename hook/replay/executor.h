// The replay executor: under a held start barrier it compares the live table with the image, plans
// (replay/plan.h), sets the missing locks -- OFD locks on lockcr's duplicate of the description,
// POSIX locks, flocks and leases from inside their processes -- and verifies again. Everything it
// sets goes into an undo log that takes it back unless the whole run succeeded.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>

#include "collect/inventory.h"
#include "discover/container.h"
#include "image/model.h"
#include "replay/description_locks.h"
#include "replay/plan.h"
#include "replay/replay.h"
#include "replay/undo_log.h"
#include "util/error.h"
#include "util/log.h"
#include "verify/verify.h"

namespace lockcr {

class StartBarrier;

// A lock is held by someone else: the one failure that policy "wait" may outlast.
class HeldElsewhere : public Error {
public:
    explicit HeldElsewhere(const std::string& line) : Error("replay: " + line, EAGAIN) {}
};

bool isHeldElsewhere(const std::exception_ptr& failure);

class ReplayExecutor {
public:
    ReplayExecutor(const LockImage& image, Container& container, const std::map<pid_t, pid_t>& pidMap,
                   StartBarrier& barrier)
            : image_(image), container_(container), pidMap_(pidMap), barrier_(barrier) {}
    ReplayExecutor(const ReplayExecutor&) = delete;
    ReplayExecutor& operator=(const ReplayExecutor&) = delete;

    // Compare, plan, set, verify. Throws on the first failure; what was set is then taken back
    // when the executor goes (its undo log), before the caller's failure policy runs.
    ReplayResult run(PhaseClock& clock);

private:
    void setLocks(const ReplayPlan& plan, PhaseClock& clock);
    void setOfdLocks(const std::vector<PlannedOfdLock>& locks);
    void setLocksInside(const CallsByProcess& byProcess);
    void saveLeaseSignalSettings(const CallsByProcess& byProcess);
    void finishLeases(const CallsByProcess& byProcess);
    PendingSyscalls pendingThroughBarrier();
    pid_t hostOwnerOf(const std::optional<SignalOwner>& owner) const;
    [[noreturn]] void failLock(pid_t host, pid_t containerPid, int fd, const FileIdentity& file, const Lock& lock,
                               int err) const;

    const LockImage& image_;
    Container& container_;
    const std::map<pid_t, pid_t>& pidMap_;
    StartBarrier& barrier_;
    PidMapping pids_;
    // Declared before the undo log, which rolls back through it.
    DescriptionLocks descriptions_;
    UndoLog undo_{barrier_, descriptions_, pids_};
    size_t ofdLocksSet_ = 0;  // counted apart: setOfdLocks runs beside setLocksInside
    FdPaths livePaths_;       // link text of every fd the image names, read with the live table
    KeptLook firstLook_;      // what the second look (the final verify) reads again
    ReplayResult result_;
};

}  // namespace lockcr
