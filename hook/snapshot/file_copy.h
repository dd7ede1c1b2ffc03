// Copies for the snapshot stage: one file's bytes (a reflink where the filesystem shares extents,
// copy_file_range where it copies in the kernel, read/write otherwise), a file's metadata, and a
// whole directory tree with its types: an overlay upper layer keeps its whiteouts (0:0 character
// devices) and its trusted.overlay.* attributes (opaque directories), which are its meaning.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>

namespace lockcr {

// All of FROM (from offset 0) into TO, which must be empty. Throws Error with errno (ENOSPC...).
void copyFileBytes(int fromFd, int toFd, const std::string& nameForErrors);

// Owner, then permission bits (chown clears set-id bits), then mtime and atime, on an open file.
void applyMetadata(int fd, const struct stat& status, const std::string& nameForErrors);

// Everything inside FROM_DIR into TO_DIR (an existing empty directory): regular files, directories,
// symlinks, character and block devices, fifos; owner, mode, times and extended attributes of
// each. Sockets are skipped (they cannot be recreated with meaning). Never follows a symlink in
// FROM_DIR. Throws Error naming the path on the first failure.
void copyTree(int fromDirFd, int toDirFd, const std::string& nameForErrors);

}  // namespace lockcr
