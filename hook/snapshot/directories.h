// The directories between a part's mount point and its recorded files: their mode and owner are
// recorded at checkpoint, so that a rollback can make again a directory that was removed (with its
// files) between checkpoint and restore, instead of failing on the first file inside it.
#pragma once

#include <string>
#include <vector>

#include "snapshot/record.h"
#include "util/unique_fd.h"

namespace lockcr {

// PART.directories from the container's root ROOT_FD: every directory strictly below the part's
// mount point that holds a recorded file, once, parents first.
void recordParentDirectories(int rootFd, SnapshotPart& part);

// The directory PATH (inside the container, at or below PART's mount point) opened through ROOT_FD,
// making again each missing directory below the mount point (never the mount point itself: a
// missing one means the volume is not mounted). A made directory gets its recorded mode and owner,
// or, for a record without them, 0755 and the owner of the directory it is made in. A recorded
// directory whose name now holds a file or a symlink is replaced by the directory; the symlink is
// removed, never followed. Each directory made is appended to MADE.
UniqueFd openOrRecreateDirectory(int rootFd, const SnapshotPart& part, const std::string& path,
                                 std::vector<std::string>& made);

}  // namespace lockcr
