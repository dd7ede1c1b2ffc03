// /proc/PID/fdinfo/FD: the position, open flags, mount and inode of one fd, and the locks set
// through it (fs/proc/fd.c seq_show, then show_fd_locks() in fs/locks.c):
//
//   pos:	0
//   flags:	02100002
//   mnt_id:	27
//   ino:	10952858
//   lock:	1: POSIX  ADVISORY  WRITE 2583 fe:00:10952858 5 14
//
// Other kinds of files add their own lines (eventfd-count, tfd, inotify...): they are ignored.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "collect/proc_locks.h"

namespace lockcr {

struct FdInfo {
    // f_pos, printed signed: files with FMODE_UNSIGNED_OFFSET (/proc/PID/mem, /dev/mem) can show
    // a negative value, kept here as the same 64 bits.
    uint64_t position = 0;
    unsigned flags = 0;           // octal in the text
    int mountId = -1;             // -1 if absent (kernels before 3.15)
    uint64_t inode = 0;           // 0 if absent (older kernels)
    std::vector<LockLine> locks;  // each one held (blockedLevel 0)
};

// The whole file. "pos" and "flags" are required, each key at most once except "lock"; the text
// must end in a newline. Throws Error(badInput) naming the line.
FdInfo parseFdInfo(std::string_view text);
// The same into OUT, whose room for lock lines is kept: a reader of thousands of fds allocates
// (and touches fresh pages) once, not per fd.
void parseFdInfo(std::string_view text, FdInfo& out);

}  // namespace lockcr
