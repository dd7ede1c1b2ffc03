#include "util/sys.h"

#include <dirent.h>
#include <linux/kcmp.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "util/error.h"

namespace lockcr::sys {

namespace {

template <typename Call>
auto retryOnEintr(Call call) {
    for (;;) {
        auto result = call();
        if (result != -1 || errno != EINTR) return result;
    }
}

}  // namespace

bool isGone(int errnoValue) { return errnoValue == ESRCH || errnoValue == ENOENT; }

UniqueFd openAt(int dirFd, const std::string& path, int flags, mode_t mode) {
    int fd = retryOnEintr([&] { return ::openat(dirFd, path.c_str(), flags | O_CLOEXEC, mode); });
    if (fd < 0) throwErrno("open " + path);
    return UniqueFd(fd);
}

UniqueFd tryOpenAt(int dirFd, const std::string& path, int flags, int& errnoOut) {
    int fd = retryOnEintr([&] { return ::openat(dirFd, path.c_str(), flags | O_CLOEXEC); });
    errnoOut = fd < 0 ? errno : 0;
    return UniqueFd(fd);
}

UniqueFd openInRoot(int rootFd, const std::string& path, int flags) {
    open_how how{};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    long fd = retryOnEintr([&] { return ::syscall(SYS_openat2, rootFd, path.c_str(), &how, sizeof how); });
    if (fd < 0) throwErrno("open " + path + " inside the container root");
    return UniqueFd(static_cast<int>(fd));
}

UniqueFd reopen(int pathFd, int flags, const std::string& nameForErrors) {
    std::string link = "/proc/self/fd/" + std::to_string(pathFd);
    int fd = retryOnEintr([&] { return ::open(link.c_str(), flags | O_CLOEXEC); });
    if (fd < 0) throwErrno("open " + nameForErrors);
    return UniqueFd(fd);
}

std::string readAll(int fd, const std::string& nameForErrors, size_t stopAfter) {
    std::string out;
    readAllInto(fd, out, nameForErrors, stopAfter);
    return out;
}

void readAllInto(int fd, std::string& out, const std::string& nameForErrors, size_t stopAfter) {
    char buffer[65536];
    while (out.size() <= stopAfter) {
        ssize_t n = retryOnEintr([&] { return ::read(fd, buffer, sizeof buffer); });
        if (n < 0) throwErrno("read " + nameForErrors);
        if (n == 0) break;
        out.append(buffer, static_cast<size_t>(n));
    }
}

bool tryReadFileAt(int dirFd, const std::string& path, std::string& out, int& errnoOut) {
    UniqueFd fd = tryOpenAt(dirFd, path, O_RDONLY, errnoOut);
    if (!fd) return false;
    out.clear();
    char buffer[16384];
    for (;;) {
        ssize_t n = retryOnEintr([&] { return ::read(fd.get(), buffer, sizeof buffer); });
        if (n < 0) {
            errnoOut = errno;
            return false;
        }
        if (n == 0) return true;
        out.append(buffer, static_cast<size_t>(n));
    }
}

bool tryReadSmallProcFileAt(int dirFd, const std::string& path, std::string& out, int& errnoOut) {
    UniqueFd fd = tryOpenAt(dirFd, path, O_RDONLY, errnoOut);
    return fd && tryReadSmallProcFile(fd.get(), out, errnoOut);
}

bool tryReadSmallProcFile(int fd, std::string& out, int& errnoOut) {
    // One buffer per thread, grown when a file with many lock lines needs it, never cleared: a
    // std::string resized to 16 KiB would zero it for every one of thousands of fds.
    thread_local std::vector<char> buffer(16384);
    size_t used = 0;
    for (;;) {
        ssize_t n = retryOnEintr(
            [&] { return ::pread(fd, buffer.data() + used, buffer.size() - used, static_cast<off_t>(used)); });
        if (n < 0) {
            errnoOut = errno;
            return false;
        }
        used += static_cast<size_t>(n);
        if (n == 0 || used < buffer.size()) break;
        buffer.resize(buffer.size() * 2);  // a file with many lock lines: keep reading
    }
    out.assign(buffer.data(), used);
    return true;
}

bool reserveFdNumbers(size_t count, int anyOpenFd) {
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) != 0) return false;
    int lowestFree = ::fcntl(anyOpenFd, F_DUPFD_CLOEXEC, 0);
    if (lowestFree < 0) return false;
    ::close(lowestFree);
    size_t highest = static_cast<size_t>(lowestFree) + count + 256;  // room for the workers' own
    if (highest > INT_MAX || (files.rlim_cur != RLIM_INFINITY && highest >= files.rlim_cur)) return false;
    int probe = ::fcntl(anyOpenFd, F_DUPFD_CLOEXEC, static_cast<int>(highest));
    if (probe < 0) return false;
    ::close(probe);
    return true;
}

std::string readFile(const std::string& path) {
    UniqueFd fd = openAt(AT_FDCWD, path, O_RDONLY);
    return readAll(fd.get(), path);
}

std::string threadDirectory(pid_t pid, pid_t tid) {
    return "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid);
}

bool tryStatAt(int dirFd, const std::string& path, struct stat& out, int& errnoOut, int flags) {
    if (::fstatat(dirFd, path.c_str(), &out, flags) == 0) return true;
    errnoOut = errno;
    return false;
}

bool tryStatFd(int fd, struct stat& out, int& errnoOut) {
    if (::fstat(fd, &out) == 0) return true;
    errnoOut = errno;
    return false;
}

UniqueFd tryDuplicate(int fd, int& errnoOut) {
    int duplicate = ::dup(fd);
    errnoOut = duplicate < 0 ? errno : 0;
    return UniqueFd(duplicate);
}

pid_t processGroupOf(pid_t pid) { return ::getpgid(pid); }

bool tryReadLinkAt(int dirFd, const std::string& path, std::string& out, int& errnoOut) {
    char buffer[4096];
    ssize_t n = ::readlinkat(dirFd, path.c_str(), buffer, sizeof buffer);
    if (n < 0) {
        errnoOut = errno;
        return false;
    }
    errnoOut = 0;
    out.assign(buffer, static_cast<size_t>(n));
    return true;
}

bool tryListDirectory(int dirFd, const std::string& path, std::vector<std::string>& out, int& errnoOut) {
    UniqueFd fd = tryOpenAt(dirFd, path, O_RDONLY | O_DIRECTORY, errnoOut);
    if (!fd) return false;
    DIR* dir = ::fdopendir(fd.get());
    if (dir == nullptr) {
        errnoOut = errno;
        return false;
    }
    fd.release();  // the DIR owns it now; closedir below closes it
    out.clear();
    errno = 0;
    while (dirent* entry = ::readdir(dir)) {
        const char* name = entry->d_name;
        if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
        out.emplace_back(name);
    }
    errnoOut = errno;
    ::closedir(dir);
    return errnoOut == 0;
}

void writeAll(int fd, const void* data, size_t size, const std::string& nameForErrors) {
    const char* cursor = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = retryOnEintr([&] { return ::write(fd, cursor, size); });
        if (n < 0) throwErrno("write " + nameForErrors);
        cursor += n;
        size -= static_cast<size_t>(n);
    }
}

UniqueFd pidfdOpen(pid_t pid) {
    long fd = ::syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) throwErrno("pidfd_open pid " + std::to_string(pid));
    return UniqueFd(static_cast<int>(fd));
}

UniqueFd pidfdOpenThread(pid_t tid) {
    constexpr unsigned kPidfdThread = O_EXCL;  // PIDFD_THREAD, include/uapi/linux/pidfd.h
    long fd = ::syscall(SYS_pidfd_open, tid, kPidfdThread);
    if (fd < 0)
        throwErrno("pidfd_open of thread " + std::to_string(tid) +
                   (errno == EINVAL ? " (PIDFD_THREAD needs Linux 6.9)" : ""));
    return UniqueFd(static_cast<int>(fd));
}

UniqueFd pidfdOpenForFiles(pid_t pid, pid_t filesThread) {
    return filesThread == 0 || filesThread == pid ? pidfdOpen(pid) : pidfdOpenThread(filesThread);
}

UniqueFd pidfdGetfd(int pidFd, int targetFd, pid_t pidForErrors) {
    long fd = ::syscall(SYS_pidfd_getfd, pidFd, targetFd, 0);
    if (fd < 0) throwErrno("pidfd_getfd pid " + std::to_string(pidForErrors) + " fd " + std::to_string(targetFd));
    return UniqueFd(static_cast<int>(fd));
}

int kcmpFile(pid_t pid1, int fd1, pid_t pid2, int fd2) {
    long result = ::syscall(SYS_kcmp, pid1, pid2, KCMP_FILE, fd1, fd2);
    if (result < 0)
        throwErrno("kcmp pid " + std::to_string(pid1) + " fd " + std::to_string(fd1) + " with pid " +
                   std::to_string(pid2) + " fd " + std::to_string(fd2));
    return static_cast<int>(result);
}

int kcmpFdTables(pid_t task1, pid_t task2) {
    long result = ::syscall(SYS_kcmp, task1, task2, KCMP_FILES, 0, 0);
    if (result < 0) throwErrno("kcmp fd tables of tasks " + std::to_string(task1) + " and " + std::to_string(task2));
    return static_cast<int>(result);
}

int fcntlPointer(int fd, int command, void* argument) {
    return retryOnEintr([&] { return ::fcntl(fd, command, argument); });
}

int fcntlInteger(int fd, int command, long argument) {
    return retryOnEintr([&] { return ::fcntl(fd, command, argument); });
}

int flockCall(int fd, int operation) {
    return retryOnEintr([&] { return ::flock(fd, operation); });
}

}  // namespace lockcr::sys
