// The replay plan: which lock calls to make, in which process, for which lock of the image. A pure
// function of what verify found missing, the pid mapping and the link text of the live fds: no
// kernel call, so it is unit-tested on images alone (tests/unit/replay_plan_test.cpp). The
// executor (replay/executor.h) carries it out; the undo log (replay/undo_log.h) takes it back.
#pragma once

#include <sys/types.h>

#include <map>
#include <set>
#include <vector>

#include "collect/inventory.h"
#include "image/model.h"
#include "replay/inject.h"
#include "verify/verify.h"

namespace lockcr {

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

// An OFD lock, set by lockcr on its duplicate of the description HOSTPID's FD refers to (OFD locks
// show no pid).
struct PlannedOfdLock {
    pid_t hostPid;
    pid_t containerPid;
    int fd;
    Lock lock;
    const OpenFileDescription* description;
};

struct ReplayPlan {
    // POSIX locks inside their owner; flocks and leases inside a process holding the description.
    CallsByProcess inside;
    std::vector<PlannedOfdLock> ofdLocks;
};

// Every (host pid, fd) the image names in a process of the container: the fds whose link text
// planReplay needs.
std::set<FdKey> imageFds(const LockImage& image, const PidMapping& pids);

// Checks that every fd a missing lock goes through is still the recorded file (LIVE: the link
// text of the image's fds, read with the live lock table), then plans the calls. Throws Error
// naming the first process that is not in the container or fd that is not the recorded file.
ReplayPlan planReplay(const LockDifferences& missing, const PidMapping& pids, const FdPaths& live);

// The holder a description lock is set through: the process that set it (the pid the kernel
// shows for a flock or lease, and a process that had the right to take a lease) if it still holds
// the description, else the first live holder. Throws if none is in the container.
const Holder& holderFor(const OpenFileDescription& description, const Lock& lock, const PidMapping& pids);

}  // namespace lockcr
