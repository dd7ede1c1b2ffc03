// A thread may have an fd table of its own: clone without CLONE_FILES, or unshare(CLONE_FILES).
// Its POSIX locks belong to that table, show only in its own /proc/PID/task/TID/fdinfo and can
// only be set again from that thread; so do flocks, OFD locks and leases on descriptions opened
// only there. lockcr records one fd table per process: such a table holding locks of its own is
// refused, loudly, rather than left out of the image.
#pragma once

#include "discover/container.h"

namespace lockcr {

// Throws Error naming the process and the thread when a thread of a container process has an fd
// table of its own with locks the process's table does not show. Threads that exit meanwhile are
// skipped.
void refuseSeparateFdTables(const Container& container);

}  // namespace lockcr
