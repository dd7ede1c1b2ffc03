// Collection: the lock table of a discovered container, from /proc only. Reads /proc/locks once to
// learn which inodes carry locks, then visits only the fds that refer to one of them (a stat per fd,
// the fdinfo only for those), so the cost follows the number of locked fds, not lslocks' search of
// all of /proc for every lock.
#pragma once

#include "discover/container.h"
#include "image/model.h"

namespace lockcr {

// Everything but createdAt/tool/host: the caller stamps those when it writes an image.
LockImage collectLocks(const Container& container);

}  // namespace lockcr
