// The manifest backend: what the container's processes have open, and what a volume holds, as
// path, size, mode, owner, mtime, inode and an XXH3-128 digest of the bytes, so a change is seen
// even when size and mtime were put back (utimensat). Copies of the bytes, for rollback, go into
// the snapshot's data directory.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "snapshot/record.h"

namespace lockcr {

// "xxh3-128:" and 32 hex digits of everything in FD from offset 0.
std::string digestOfFile(int fd, const std::string& nameForErrors);
// The digest of no bytes: an empty file's, known without opening it for reading.
const std::string& emptyFileDigest();

// The record of one open regular file (fstat and digest); PATH is its path inside the container.
SnapshotFile describeFile(int fd, const std::string& path);
// The same from a stat already made, with DIGEST as given (kNoDigest: the bytes were not read).
SnapshotFile describeStatus(const struct stat& status, const std::string& path, const std::string& digest);

// A regular file some task has open, by the path the task sees (its root is the container's).
struct OpenFile {
    std::string path;
    pid_t pid = 0;
    int fd = -1;
};

// The files TASKS (host pids; a thread whose fds stand for its process's is fine) have open, once
// per path: every fd whose link is a path (regular files, and also directories and device nodes,
// which the caller skips once it has opened the path with O_PATH and seen its type). Deleted files
// are skipped: there is no path to verify. Tasks that exit meanwhile are skipped.
std::vector<OpenFile> openRegularFiles(const std::vector<pid_t>& tasks);

// Absolute paths of every regular file below DIRECTORY (inside the root ROOT_FD), without going
// into another mount or following a symlink.
std::vector<std::string> regularFilesBelow(int rootFd, const std::string& directory);

}  // namespace lockcr
