// Files looked up inside a container's root, one directory at a time: the directory
// of each path is resolved once with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) and kept, and
// the last component is looked up in it without following it. Thousands of recorded files in a few
// directories then cost one path walk per directory, not one per file, and a symlink planted
// anywhere in a path still never leads out of the root.
#pragma once

#include <sys/stat.h>

#include <string>
#include <unordered_map>

#include "util/unique_fd.h"

namespace lockcr {

class FilesInRoot {
public:
    explicit FilesInRoot(int rootFd) : rootFd_(rootFd) {}

    // Absolute PATH inside the root as an O_PATH fd of what its name is (a symlink is not followed):
    // fstat it, and reopen the same inode through it (sys::reopen), never the name again, so a name
    // swapped meanwhile for a device node or a FIFO is never opened. Invalid with ERROR set when it
    // is not there: ENOENT, or ENOTDIR when a parent is not a directory. Other errors throw.
    UniqueFd openPath(const std::string& path, int& error);

private:
    // The kept directory of PATH and its last component in NAME; -1 with ERROR when the directory
    // is not there.
    int directoryOf(const std::string& path, std::string& name, int& error);

    int rootFd_;
    std::unordered_map<std::string, UniqueFd> directories_;
};

}  // namespace lockcr
