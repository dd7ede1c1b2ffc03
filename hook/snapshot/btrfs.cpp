#include "snapshot/btrfs.h"

#include <btrfsutil.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace lockcr {

namespace {

[[noreturn]] void throwBtrfs(const std::string& what, btrfs_util_error error) {
    // libbtrfsutil leaves errno set by the ioctl or syscall that failed.
    int savedErrno = errno;
    throw Error(
        what + ": " + btrfs_util_strerror(error) + (savedErrno ? std::string(": ") + std::strerror(savedErrno) : ""),
        savedErrno);
}

}  // namespace

bool isBtrfsSubvolumeRoot(int fd) { return btrfs_util_is_subvolume_fd(fd) == BTRFS_UTIL_OK; }

uint64_t btrfsSubvolumeId(int fd, const std::string& name) {
    uint64_t id = 0;
    btrfs_util_error error = btrfs_util_subvolume_id_fd(fd, &id);
    if (error != BTRFS_UTIL_OK) throwBtrfs("btrfs: subvolume id of " + name, error);
    return id;
}

bool createReadOnlySnapshot(int sourceFd, int parentFd, const std::string& name, const std::string& nameForErrors) {
    errno = 0;
    btrfs_util_error error = btrfs_util_create_snapshot_fd2(sourceFd, parentFd, name.c_str(),
                                                            BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY, nullptr, nullptr);
    if (error == BTRFS_UTIL_OK) return true;
    // The ioctl goes to the parent directory: another btrfs says EXDEV, another filesystem ENOTTY.
    bool createFailed = error == BTRFS_UTIL_ERROR_SNAP_CREATE_FAILED || error == BTRFS_UTIL_ERROR_SUBVOL_CREATE_FAILED;
    if (createFailed && (errno == EXDEV || errno == ENOTTY)) {
        errno = EXDEV;
        return false;
    }
    throwBtrfs("btrfs: read-only snapshot of " + nameForErrors, error);
}

void deleteBtrfsSubvolume(const std::string& path) {
    errno = 0;
    btrfs_util_error error = btrfs_util_delete_subvolume(path.c_str(), 0);
    if (error != BTRFS_UTIL_OK) throwBtrfs("btrfs: delete snapshot " + path, error);
}

}  // namespace lockcr
