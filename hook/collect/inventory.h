// Collection: the lock table of a discovered container, from /proc only: the fdinfo of each fd of
// each container process (one read per fd, where lslocks searches all of /proc for every lock),
// kcmp to tell shared descriptions apart, /proc/TID/syscall for waiters.
#pragma once

#include <map>
#include <memory>
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

// Replay looks at a container twice while its barrier holds every process still. The first look
// can keep, for the second, each process's fd listing and, for each fd that matters then (it held
// locks, or its path was asked for), its link text and its fdinfo file left open: the second look
// re-reads a kept file with pread, which renders it again as it is now, without an open's path
// walk, permission check and file setup (about half of the cost of a read), and lists no fd
// directory again. Valid only while no fd of the container opens or closes: while it is held.
// The second look takes each file it reads again, and closes it then (on the workers: closing
// thousands of /proc files at the end, one after the other, was 10 ms of a replay's release).
class KeptLook {
public:
    KeptLook();
    ~KeptLook();
    KeptLook(const KeptLook&) = delete;
    KeptLook& operator=(const KeptLook&) = delete;

    struct State;  // inventory.cpp
    std::unique_ptr<State> state;
};

struct CollectOptions {
    // Finds the waiters that stand before their blocking call (see waiters.h).
    PendingSyscalls pending;
    // Fds whose link text is wanted, locked or not (replay checks that each fd it will lock is
    // still the recorded file): read by the same workers, in the same pass, into *paths. An fd
    // that is not open has no entry.
    const std::set<FdKey>* pathsOf = nullptr;
    FdPaths* paths = nullptr;
    // The first of two looks at a held container fills *keep; the second reads *kept again and
    // closes what it read (a later look opens those files anew).
    KeptLook* keep = nullptr;
    KeptLook* kept = nullptr;
    // The caller holds the container still (frozen by us, or its tasks held by CRIU at post-dump):
    // a process that exits or appears during the collection then fails it, as its locks would be
    // missing from the image (at post-dump CRIU's checkpoint still has that process). Off only for a
    // look at a running container (inspect, verify), where processes come and go.
    bool heldStill = true;
};

LockImage collectLocks(const Container& container, const CollectOptions& options = {});

}  // namespace lockcr
