// The thin layer over the kernel: every syscall lockcr makes goes through here, retried on EINTR,
// and failures come back as Error with errno and the object named. Nothing else calls syscall().
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "util/unique_fd.h"

namespace lockcr::sys {

// Whether ERRNO_VALUE, from a call on a process, its threads or its /proc entries, says the
// process is gone (ESRCH; ENOENT when its /proc directory went first): it exited meanwhile, and
// what it held went with it.
bool isGone(int errnoValue);

// Opens or throws "open PATH: reason".
UniqueFd openAt(int dirFd, const std::string& path, int flags, mode_t mode = 0);
// Opens, or returns an invalid fd and sets errnoOut (for objects that may vanish: /proc races).
UniqueFd tryOpenAt(int dirFd, const std::string& path, int flags, int& errnoOut);
// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): PATH is resolved as if rootFd were "/", so a
// symlink inside an untrusted container can never lead out of it.
UniqueFd openInRoot(int rootFd, const std::string& path, int flags);
// A new open, with FLAGS, of the very inode PATH_FD (an O_PATH fd) refers to, through
// /proc/self/fd/N: no second path walk, so a name swapped meanwhile (a FIFO or a device node
// renamed over a regular file inside a container) is never opened instead. Callers check the
// O_PATH fd's type first: this opens whatever that fd refers to. Throws "open NAME: reason".
UniqueFd reopen(int pathFd, int flags, const std::string& nameForErrors);

// Whole contents of an open file (procfs files report size 0: read until EOF). Throws on error.
// With stopAfter, reading stops once more than that many bytes arrived, so an endless or huge
// input (a pipe on stdin) is refused by the caller, not swallowed: check size() > stopAfter.
std::string readAll(int fd, const std::string& nameForErrors, size_t stopAfter = SIZE_MAX);
// The same, appended to OUT (whose capacity the caller may have reserved).
void readAllInto(int fd, std::string& out, const std::string& nameForErrors, size_t stopAfter = SIZE_MAX);
// readAll of dirFd/path; returns false (errnoOut set) if it cannot be opened or read.
bool tryReadFileAt(int dirFd, const std::string& path, std::string& out, int& errnoOut);
std::string readFile(const std::string& path);
// For procfs files produced by single_open() (fdinfo, status, syscall): the kernel renders the
// whole file on the first read, so a read that does not fill the buffer was all of it and no
// second read is needed to see EOF.
bool tryReadSmallProcFileAt(int dirFd, const std::string& path, std::string& out, int& errnoOut);
// The same through an open file, from offset 0 (pread): a procfs seq_file kept open renders its
// contents again, as they are now, without the path walk and file setup of another open.
bool tryReadSmallProcFile(int fd, std::string& out, int& errnoOut);

// Grows this process's fd table once, now, to hold COUNT more fds: a table shared by threads
// waits for an RCU grace period each time it grows, so growing it one doubling at a time while
// workers open thousands of files costs milliseconds each (ANY_OPEN_FD is duplicated there and
// closed). False if the fd limit is too low.
bool reserveFdNumbers(size_t count, int anyOpenFd);

// stat(2) (fstatat; FLAGS AT_SYMLINK_NOFOLLOW for lstat) and fstat(2): false with errnoOut set.
bool tryStatAt(int dirFd, const std::string& path, struct stat& out, int& errnoOut, int flags = 0);
bool tryStatFd(int fd, struct stat& out, int& errnoOut);

// dup(2): an invalid fd and errnoOut set on failure.
UniqueFd tryDuplicate(int fd, int& errnoOut);

// getpgid(2): the process group of PID, or -1 (errno set) if it is gone.
pid_t processGroupOf(pid_t pid);

// readlink; returns false (errnoOut set) on failure.
bool tryReadLinkAt(int dirFd, const std::string& path, std::string& out, int& errnoOut);

// "/proc/PID/task/TID": a thread's own view of its process (fd, fdinfo, mem, maps). The leader's
// /proc/PID entries are empty once it has exited (pthread_exit in main) while other threads run on.
std::string threadDirectory(pid_t pid, pid_t tid);

// Names in a directory, without "." and "..". Returns false (errnoOut set) if it cannot be read.
bool tryListDirectory(int dirFd, const std::string& path, std::vector<std::string>& out, int& errnoOut);

void writeAll(int fd, const void* data, size_t size, const std::string& nameForErrors);

// pidfd_open(2) and pidfd_getfd(2): a duplicate of another process's fd that shares its open file
// description, so a flock/OFD lock/lease set on it lands on the target's description.
UniqueFd pidfdOpen(pid_t pid);
// A pidfd of one thread (PIDFD_THREAD, Linux 6.9): pidfd_getfd through it sees that thread's fd
// table, the only one left when the thread-group leader has exited.
UniqueFd pidfdOpenThread(pid_t tid);
// pidfdOpen(pid), or pidfdOpenThread(filesThread) when the two differ (see filesThreadOf).
UniqueFd pidfdOpenForFiles(pid_t pid, pid_t filesThread);
UniqueFd pidfdGetfd(int pidFd, int targetFd, pid_t pidForErrors);

// kcmp(KCMP_FILE): 0 same open file description, 1 or 2 ordered, 3 different and not ordered.
int kcmpFile(pid_t pid1, int fd1, pid_t pid2, int fd2);
// kcmp(KCMP_FILES): 0 when two tasks share one fd table.
int kcmpFdTables(pid_t task1, pid_t task2);

// fcntl with a pointer argument, EINTR retried. Returns -1 and errno on failure (callers decide
// whether EAGAIN is an error).
int fcntlPointer(int fd, int command, void* argument);
int fcntlInteger(int fd, int command, long argument);
int flockCall(int fd, int operation);

}  // namespace lockcr::sys
