// What replay has set, to take it back: every lock call that took effect inside a process, every
// OFD lock set on a duplicate, and the lease signal settings as they were before. The destructor
// rolls everything back unless commit() was called, so every path out of a failed replay (an
// Error, bad_alloc, a failure in another thread) leaves the container's locks as they were.
#pragma once

#include <sys/types.h>

#include <vector>

#include "replay/description_locks.h"
#include "replay/plan.h"

namespace lockcr {

class StartBarrier;

class UndoLog {
public:
    UndoLog(StartBarrier& barrier, DescriptionLocks& descriptions, const PidMapping& pids)
            : barrier_(barrier), descriptions_(descriptions), pids_(pids) {}
    ~UndoLog();
    UndoLog(const UndoLog&) = delete;
    UndoLog& operator=(const UndoLog&) = delete;

    // CALL took effect inside HOST (it may have, for a loop that failed after it started).
    void setInside(pid_t host, const PlannedCall& call) { setInside_[host].push_back(call); }
    // Called from the thread that sets OFD locks, beside the one that records setInside.
    void setOfdLock(const PlannedOfdLock& lock) {
        setDescription_.push_back({lock.hostPid, lock.fd, lock.lock, lock.description});
    }
    // Whom the description behind HOST's FD signalled before a lease was set on it.
    void savedSignalSetting(pid_t host, int fd, const DescriptionLocks::SignalSetting& setting) {
        savedSignals_.push_back({host, fd, setting});
    }
    // Everything set stays: the destructor takes nothing back.
    void commit() { committed_ = true; }

private:
    struct SetDescriptionLock {
        pid_t hostPid;
        int fd;
        Lock lock;
        const OpenFileDescription* description;
    };
    struct SavedSignal {
        pid_t hostPid;
        int fd;
        DescriptionLocks::SignalSetting setting;
    };

    void rollBack();
    void unsetDescriptionLock(const SetDescriptionLock& set);

    StartBarrier& barrier_;
    DescriptionLocks& descriptions_;
    const PidMapping& pids_;
    CallsByProcess setInside_;
    std::vector<SetDescriptionLock> setDescription_;
    std::vector<SavedSignal> savedSignals_;
    bool committed_ = false;
};

}  // namespace lockcr
