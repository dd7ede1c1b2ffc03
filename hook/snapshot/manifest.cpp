#include "snapshot/manifest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <set>
#include <utility>

#include "util/error.h"
#include "util/sys.h"

namespace lockcr {

namespace {

struct StateDeleter {
    void operator()(XXH3_state_t* state) const { XXH3_freeState(state); }
};

uint64_t mountIdOf(int dirFd, const std::string& name, const std::string& nameForErrors) {
    struct statx status {};
    if (::statx(dirFd, name.c_str(), AT_SYMLINK_NOFOLLOW | (name.empty() ? AT_EMPTY_PATH : 0), STATX_MNT_ID, &status) !=
        0)
        throwErrno("statx " + nameForErrors);
    return status.stx_mnt_id;
}

void collectRegularFiles(int dirFd, const std::string& path, uint64_t mountId, std::vector<std::string>& out) {
    std::vector<std::string> entries;
    int error = 0;
    if (!sys::tryListDirectory(dirFd, ".", entries, error)) throwErrno("list " + path, error);
    for (const std::string& entry : entries) {
        std::string child = (path == "/" ? "" : path) + "/" + entry;
        struct stat status {};
        if (::fstatat(dirFd, entry.c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0) throwErrno("stat " + child);
        if (S_ISREG(status.st_mode)) out.push_back(child);
        if (!S_ISDIR(status.st_mode) || mountIdOf(dirFd, entry, child) != mountId) continue;
        UniqueFd childFd = sys::openAt(dirFd, entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        collectRegularFiles(childFd.get(), child, mountId, out);
    }
}

}  // namespace

namespace {

std::string digestText(XXH128_hash_t hash) {
    char text[48];
    std::snprintf(text, sizeof text, "xxh3-128:%016llx%016llx", static_cast<unsigned long long>(hash.high64),
                  static_cast<unsigned long long>(hash.low64));
    return text;
}

}  // namespace

const std::string& emptyFileDigest() {
    static const std::string digest = digestText(XXH3_128bits(nullptr, 0));
    return digest;
}

std::string digestOfFile(int fd, const std::string& name) {
    std::unique_ptr<XXH3_state_t, StateDeleter> state(XXH3_createState());
    if (!state || XXH3_128bits_reset(state.get()) != XXH_OK) throwFailure("digest " + name + ": out of memory");
    // One buffer per thread, never cleared: a snapshot digests thousands of files, most of them
    // small, and zeroing a fresh megabyte for each was a third of a restore's file check. 128 KiB
    // (cat's size) stays in the core's cache between the read that fills it and the hash: 1 MiB
    // read and hashed at 0.5 to 0.6 of cat's throughput here, 128 KiB on two threads at 1.06.
    constexpr size_t kBufferBytes = size_t{128} << 10;
    thread_local std::unique_ptr<char[]> buffer(new char[kBufferBytes]);
    off_t offset = 0;
    for (;;) {
        ssize_t n = ::pread(fd, buffer.get(), kBufferBytes, offset);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throwErrno("read " + name);
        if (n == 0) break;
        if (offset == 0 && static_cast<size_t>(n) == kBufferBytes) (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        XXH3_128bits_update(state.get(), buffer.get(), static_cast<size_t>(n));
        offset += n;
    }
    return digestText(XXH3_128bits_digest(state.get()));
}

SnapshotFile describeStatus(const struct stat& status, const std::string& path, const std::string& digest) {
    SnapshotFile file;
    file.path = path;
    file.size = static_cast<uint64_t>(status.st_size);
    file.mode = status.st_mode;
    file.uid = status.st_uid;
    file.gid = status.st_gid;
    file.mtimeSeconds = status.st_mtim.tv_sec;
    file.mtimeNanoseconds = static_cast<uint32_t>(status.st_mtim.tv_nsec);
    file.device = status.st_dev;
    file.inode = status.st_ino;
    file.digest = digest;
    return file;
}

SnapshotFile describeFile(int fd, const std::string& path) {
    struct stat status {};
    if (::fstat(fd, &status) != 0) throwErrno("stat " + path);
    if (!S_ISREG(status.st_mode)) throwFailure("snapshot: " + path + ": not a regular file");
    return describeStatus(status, path, digestOfFile(fd, path));
}

std::vector<OpenFile> openRegularFiles(const std::vector<pid_t>& tasks) {
    std::vector<OpenFile> files;
    std::set<std::string> seen;
    for (pid_t pid : tasks) {
        // The kernel renders an fd's path from the reader's root (d_path): a task chrooted below
        // ours shows our path to its root in front, a task in another mount namespace does not.
        std::string rootPrefix;
        int rootError = 0;
        if (!sys::tryReadLinkAt(AT_FDCWD, "/proc/" + std::to_string(pid) + "/root", rootPrefix, rootError)) continue;
        if (rootPrefix == "/") rootPrefix.clear();
        std::string fdDirectory = "/proc/" + std::to_string(pid) + "/fd";
        std::vector<std::string> fds;
        int error = 0;
        if (!sys::tryListDirectory(AT_FDCWD, fdDirectory, fds, error)) {
            if (error == ENOENT || error == ESRCH) continue;  // exited
            throwErrno("list " + fdDirectory, error);
        }
        // The link alone: a socket, pipe or anonymous inode reads as "type:[...]", not a path. What a
        // path names (a regular file, or a directory or device) is seen when it is opened inside
        // the container's root (O_PATH); a stat here would walk each path a second time.
        UniqueFd fdDirectoryFd = sys::tryOpenAt(AT_FDCWD, fdDirectory, O_RDONLY | O_DIRECTORY, error);
        if (!fdDirectoryFd) continue;  // exited
        for (const std::string& fd : fds) {
            std::string target;
            if (!sys::tryReadLinkAt(fdDirectoryFd.get(), fd, target, error) || !target.starts_with('/')) continue;
            if (target.ends_with(" (deleted)")) continue;
            if (!rootPrefix.empty()) {
                if (!target.starts_with(rootPrefix + "/")) continue;  // outside its root: not the container's
                target.erase(0, rootPrefix.size());
            }
            if (!seen.insert(target).second) continue;
            files.push_back({target, pid, std::stoi(fd)});
        }
    }
    return files;
}

std::vector<std::string> regularFilesBelow(int rootFd, const std::string& directory) {
    UniqueFd directoryFd = sys::openInRoot(rootFd, directory, O_RDONLY | O_DIRECTORY);
    std::vector<std::string> files;
    collectRegularFiles(directoryFd.get(), directory, mountIdOf(directoryFd.get(), "", directory), files);
    return files;
}

}  // namespace lockcr
