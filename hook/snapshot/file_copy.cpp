#include "snapshot/file_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/error.h"
#include "util/sys.h"
#include "util/unique_fd.h"

namespace lockcr {

namespace {

template <typename Call>
auto retryOnEintr(Call call) {
    for (;;) {
        auto result = call();
        if (result != -1 || errno != EINTR) return result;
    }
}

// The errors that mean "this way of copying does not apply here", not "the copy failed".
bool copyNotSupported(int error) {
    return error == EXDEV || error == EOPNOTSUPP || error == EINVAL || error == ENOSYS || error == ETXTBSY ||
           error == EBADF || error == EPERM;
}

void copyByReading(int fromFd, int toFd, const std::string& name) {
    std::vector<char> buffer(1 << 20);
    off_t offset = 0;
    for (;;) {
        ssize_t n = retryOnEintr([&] { return ::pread(fromFd, buffer.data(), buffer.size(), offset); });
        if (n < 0) throwErrno("copy " + name + ": read");
        if (n == 0) return;
        sys::writeAll(toFd, buffer.data(), static_cast<size_t>(n), name);
        offset += n;
    }
}

// Extended attributes of an open file (trusted.* needs CAP_SYS_ADMIN: the stage runs as root).
void copyAttributes(int fromFd, int toFd, const std::string& name) {
    ssize_t size = ::flistxattr(fromFd, nullptr, 0);
    if (size <= 0) return;  // none, or a filesystem without them
    std::string names(static_cast<size_t>(size), '\0');
    size = ::flistxattr(fromFd, names.data(), names.size());
    if (size < 0) throwErrno("list extended attributes of " + name);
    for (size_t position = 0; position < static_cast<size_t>(size);) {
        const char* key = names.c_str() + position;
        position += std::strlen(key) + 1;
        ssize_t length = ::fgetxattr(fromFd, key, nullptr, 0);
        if (length < 0) continue;  // removed meanwhile, or not readable here (security.*)
        std::string value(static_cast<size_t>(length), '\0');
        length = ::fgetxattr(fromFd, key, value.data(), value.size());
        if (length < 0) continue;
        if (::fsetxattr(toFd, key, value.data(), static_cast<size_t>(length), 0) != 0 && errno != EOPNOTSUPP)
            throwErrno("copy extended attribute " + std::string(key) + " of " + name);
    }
}

void copyEntry(int fromDirFd, int toDirFd, const std::string& entry, const std::string& name);

void copyDirectoryContents(int fromDirFd, int toDirFd, const std::string& name) {
    std::vector<std::string> entries;
    int error = 0;
    if (!sys::tryListDirectory(fromDirFd, ".", entries, error)) throwErrno("list " + name, error);
    for (const std::string& entry : entries) copyEntry(fromDirFd, toDirFd, entry, name + "/" + entry);
}

void copyEntry(int fromDirFd, int toDirFd, const std::string& entry, const std::string& name) {
    struct stat status {};
    if (::fstatat(fromDirFd, entry.c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0) throwErrno("stat " + name);
    if (S_ISREG(status.st_mode)) {
        UniqueFd from = sys::openAt(fromDirFd, entry, O_RDONLY | O_NOFOLLOW);
        UniqueFd to = sys::openAt(toDirFd, entry, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
        copyFileBytes(from.get(), to.get(), name);
        copyAttributes(from.get(), to.get(), name);
        applyMetadata(to.get(), status, name);
    } else if (S_ISDIR(status.st_mode)) {
        if (::mkdirat(toDirFd, entry.c_str(), 0700) != 0) throwErrno("mkdir " + name);
        UniqueFd from = sys::openAt(fromDirFd, entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        UniqueFd to = sys::openAt(toDirFd, entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        copyDirectoryContents(from.get(), to.get(), name);
        copyAttributes(from.get(), to.get(), name);
        applyMetadata(to.get(), status, name);
    } else if (S_ISLNK(status.st_mode)) {
        std::string target;
        int error = 0;
        if (!sys::tryReadLinkAt(fromDirFd, entry, target, error)) throwErrno("readlink " + name, error);
        if (::symlinkat(target.c_str(), toDirFd, entry.c_str()) != 0) throwErrno("symlink " + name);
        if (::fchownat(toDirFd, entry.c_str(), status.st_uid, status.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
            throwErrno("chown " + name);
        struct timespec times[2] = {status.st_atim, status.st_mtim};
        if (::utimensat(toDirFd, entry.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) throwErrno("set times of " + name);
    } else if (S_ISCHR(status.st_mode) || S_ISBLK(status.st_mode) || S_ISFIFO(status.st_mode)) {
        // Overlay whiteouts are 0:0 character devices: recreated as such, they keep hiding the lower file.
        if (::mknodat(toDirFd, entry.c_str(), status.st_mode, status.st_rdev) != 0) throwErrno("mknod " + name);
        if (::fchownat(toDirFd, entry.c_str(), status.st_uid, status.st_gid, AT_SYMLINK_NOFOLLOW) != 0 ||
            ::fchmodat(toDirFd, entry.c_str(), status.st_mode & 07777, 0) != 0)
            throwErrno("set owner and mode of " + name);
        struct timespec times[2] = {status.st_atim, status.st_mtim};
        if (::utimensat(toDirFd, entry.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) throwErrno("set times of " + name);
    }
}

}  // namespace

void copyFileBytes(int fromFd, int toFd, const std::string& name) {
    // A reflink shares the extents (btrfs, xfs): O(1) in data, and a later write to either copy
    // unshares only what it touches.
    if (::ioctl(toFd, FICLONE, fromFd) == 0) return;
    if (!copyNotSupported(errno)) throwErrno("copy " + name + " (reflink)");
    loff_t fromOffset = 0;
    for (;;) {
        ssize_t n = retryOnEintr(
            [&] { return ::copy_file_range(fromFd, &fromOffset, toFd, nullptr, size_t{1} << 30, 0); });
        if (n == 0) return;
        if (n > 0) continue;
        if (fromOffset == 0 && copyNotSupported(errno)) break;
        throwErrno("copy " + name);
    }
    copyByReading(fromFd, toFd, name);
}

void applyMetadata(int fd, const struct stat& status, const std::string& name) {
    if (::fchown(fd, status.st_uid, status.st_gid) != 0) throwErrno("chown " + name);
    if (::fchmod(fd, status.st_mode & 07777) != 0) throwErrno("chmod " + name);
    struct timespec times[2] = {status.st_atim, status.st_mtim};
    if (::futimens(fd, times) != 0) throwErrno("set times of " + name);
}

void copyTree(int fromDirFd, int toDirFd, const std::string& name) { copyDirectoryContents(fromDirFd, toDirFd, name); }

}  // namespace lockcr
