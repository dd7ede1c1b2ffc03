// The btrfs backend, through libbtrfsutil: a read-only snapshot of a subvolume is O(1) in the
// data it holds (it shares every extent), and is taken only of a subvolume that is exactly the
// container's root or a volume, never of a directory inside one.
#pragma once

#include <cstdint>
#include <string>

namespace lockcr {

// Whether the open directory FD is the root of a btrfs subvolume (false on other filesystems).
bool isBtrfsSubvolumeRoot(int fd);
// The id of the subvolume holding FD. Throws if FD is not on btrfs.
uint64_t btrfsSubvolumeId(int fd, const std::string& nameForErrors);

// A read-only snapshot of the subvolume SOURCE_FD as PARENT_FD/NAME. Returns false, with
// errno EXDEV, when PARENT_FD is on another filesystem (a snapshot cannot leave its filesystem);
// throws Error on any other failure.
bool createReadOnlySnapshot(int sourceFd, int parentFd, const std::string& name, const std::string& nameForErrors);

// Deletes the subvolume at PATH (a read-only snapshot too). Throws Error on failure.
void deleteBtrfsSubvolume(const std::string& path);

}  // namespace lockcr
