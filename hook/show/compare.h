// lockcr's record of a checkpoint's locks against CRIU's own (filelocks.img): which locks only
// lockcr recorded -- the ones a restore by CRIU alone would not bring back -- and which only CRIU
// did. Known causes of the first kind: CRIU drops a POSIX lock a child set on an inherited fd
// (discard_dup_locks_tail in criu/file-lock.c) and records no blocked waiter; and a restore without
// --file-locks (CRI-O, containerd, podman unless the flag is repeated) sets none of CRIU's at all.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "criu/filelocks_image.h"
#include "image/model.h"

namespace lockcr {

// One lock of the lock image, flattened to what CRIU records of a lock.
struct RecordedLock {
    Lock lock;
    pid_t pid = 0;  // container pid: the POSIX owner, or the holder CRIU would pick (setter first)
    int fd = -1;
    std::string file;
};

struct LockComparison {
    size_t matched = 0;
    std::vector<RecordedLock> onlyLockcr;
    std::vector<CriuFileLock> onlyCriu;
};

// Pure. A CRIU entry matches a lock of the same kind and type (a lease's type is not compared while
// it is breaking: CRIU stores the target type with a flag), the same range for POSIX and OFD locks,
// and a (pid, fd) that is the POSIX lock's own or one of the description's holders. Each lock and
// each entry matches at most once.
LockComparison compareWithCriu(const LockImage& image, const std::vector<CriuFileLock>& criuLocks);

// The path lockcr recorded for a container pid's fd, or "" when the image has none.
std::string recordedPathOf(const LockImage& image, pid_t pid, int fd);

}  // namespace lockcr
