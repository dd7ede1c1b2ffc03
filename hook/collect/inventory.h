// Collection: the lock table of a discovered container, from /proc only: the fdinfo of each fd of
// each container process (one read per fd, where lslocks searches all of /proc for every lock),
// kcmp to tell shared descriptions apart, /proc/TID/syscall for waiters.
#pragma once

#include "collect/waiters.h"
#include "discover/container.h"
#include "image/model.h"

namespace lockcr {

// Everything but createdAt/tool/host: the caller stamps those when it writes an image.
// PENDING finds the waiters that stand before their blocking call (see waiters.h).
LockImage collectLocks(const Container& container, const PendingSyscalls& pending = {});

}  // namespace lockcr
