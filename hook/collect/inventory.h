// Collection: the lock table of a discovered container, from /proc only: the fdinfo of each fd of
// each container process (one read per fd, where lslocks searches all of /proc for every lock),
// kcmp to tell shared descriptions apart, /proc/TID/syscall for waiters.
#pragma once

#include <map>
#include <set>
#include <string>

#include "collect/waiters.h"
#include "discover/container.h"
#include "image/model.h"

namespace lockcr {

// Everything but createdAt/tool/host: the caller stamps those when it writes an image.
// (host pid, fd) -> the fd's link text in /proc/PID/fd (" (deleted)" kept).
using FdKey = std::pair<pid_t, int>;
using FdPaths = std::map<FdKey, std::string>;

struct CollectOptions {
    // Finds the waiters that stand before their blocking call (see waiters.h).
    PendingSyscalls pending;
    // Fds whose link text is wanted, locked or not (replay checks that each fd it will lock is
    // still the recorded file): read by the same workers, in the same pass, into *paths. An fd
    // that is not open has no entry.
    const std::set<FdKey>* pathsOf = nullptr;
    FdPaths* paths = nullptr;
    // Link texts already read while the container was held still (replay's second look): used
    // instead of reading them again.
    const FdPaths* knownPaths = nullptr;
};

LockImage collectLocks(const Container& container, const CollectOptions& options = {});

}  // namespace lockcr
