// What the kernel itself says about locks, read with plain libc and none of lockcr's code, so a test
// can hold lockcr's parsers and replay to a truth they did not produce.
//
// The probes open the file afresh, read-only: F_GETLK and F_OFD_GETLK do not check the access mode,
// and a read-only open breaks no read lease (an O_RDWR open would start a lease break). Any open
// still breaks a write lease. Closing the probe fd drops every POSIX lock the TEST process holds on
// that file, so tests must take their locks through agents, never in the test process itself.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "util/unique_fd.h"

namespace lockcr::test {

namespace detail {

[[noreturn]] inline void throwErrno(const std::string& what, int errnoValue = errno) {
    throw std::runtime_error(what + ": " + std::strerror(errnoValue));
}

inline lockcr::UniqueFd openForProbe(const std::string& path) {
    lockcr::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throwErrno("kernel truth: open " + path);
    return fd;
}

inline std::vector<std::string> readLines(const std::string& path) {
    std::ifstream file(path);
    if (!file) throwErrno("kernel truth: open " + path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(file, line);) lines.push_back(line);
    return lines;
}

}  // namespace detail

// The inode number of PATH (what /proc/locks shows after the device).
inline uint64_t inodeOf(const std::string& path) {
    struct stat status;
    if (stat(path.c_str(), &status) != 0) detail::throwErrno("kernel truth: stat " + path);
    return status.st_ino;
}

// /proc/locks lines (blocked "->" waiter lines included) whose MAJOR:MINOR:INODE field ends in
// ":" + ino, without the leading "N:" ordinal: it is the line's position in the host-wide list and
// moves whenever anyone on the host takes or drops a lock. Device numbers are not compared: tests
// use one filesystem at a time. /proc/locks is read a page per read() with the lock dropped in
// between, so under host lock churn one read may skip or repeat lines: the truth is two reads in a
// row that agree.
inline std::vector<std::string> procLocksLinesForInode(uint64_t ino) {
    const std::string suffix = ":" + std::to_string(ino);
    auto readOnce = [&] {
        std::vector<std::string> matching;
        for (const std::string& line : detail::readLines("/proc/locks")) {
            std::istringstream words(line);
            std::string word;
            words >> word;  // the ordinal
            std::string rest;
            std::getline(words, rest);
            std::istringstream fields(rest);
            for (std::string field; fields >> field;) {
                if (std::count(field.begin(), field.end(), ':') != 2) continue;
                if (field.size() > suffix.size() &&
                    field.compare(field.size() - suffix.size(), suffix.size(), suffix) == 0)
                    matching.push_back(rest.substr(rest.find_first_not_of(' ')));
                break;
            }
        }
        std::sort(matching.begin(), matching.end());
        return matching;
    };
    std::vector<std::string> previous = readOnce();
    for (int attempt = 0; attempt < 100; ++attempt) {
        std::vector<std::string> current = readOnce();
        if (current == previous) return current;
        previous = current;
    }
    throw std::runtime_error("kernel truth: /proc/locks never read the same twice in a row (100 reads)");
}

// /proc/locks lines on INODE whose holder (or waiter, with BLOCKED) is PID.
inline size_t lockLinesOf(uint64_t inode, pid_t pid, bool blocked = false) {
    size_t count = 0;
    for (const std::string& line : procLocksLinesForInode(inode)) {
        std::istringstream words(line);
        std::vector<std::string> fields;
        for (std::string word; words >> word;) fields.push_back(word);
        bool isWaiter = !fields.empty() && fields[0] == "->";
        size_t pidField = isWaiter ? 4 : 3;  // "POSIX ADVISORY WRITE PID ..." / "-> POSIX ..."
        if (isWaiter == blocked && fields.size() > pidField && fields[pidField] == std::to_string(pid)) count++;
    }
    return count;
}

// F_GETLK from the test process: the pid of a POSIX lock conflicting with a lock of TYPE (F_RDLCK
// or F_WRLCK) on [start, start+len) (len 0 = to EOF), 0 if none conflicts. An OFD lock shows as -1;
// a holder in another pid namespace as 0 — use procLocksLinesForInode to tell that from "none".
inline pid_t posixHolder(const std::string& path, short type, off_t start, off_t len) {
    lockcr::UniqueFd fd = detail::openForProbe(path);
    struct flock lock {};
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    lock.l_start = start;
    lock.l_len = len;
    if (fcntl(fd.get(), F_GETLK, &lock) != 0) detail::throwErrno("kernel truth: F_GETLK " + path);
    return lock.l_type == F_UNLCK ? 0 : lock.l_pid;
}

// F_OFD_GETLK: 0 if nothing conflicts, -1 if an OFD lock conflicts, the holder's pid if a POSIX
// lock does (0 again when that holder is in another pid namespace).
inline pid_t ofdConflict(const std::string& path, short type, off_t start, off_t len) {
    lockcr::UniqueFd fd = detail::openForProbe(path);
    struct flock lock {};
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    lock.l_start = start;
    lock.l_len = len;
    if (fcntl(fd.get(), F_OFD_GETLK, &lock) != 0) detail::throwErrno("kernel truth: F_OFD_GETLK " + path);
    return lock.l_type == F_UNLCK ? 0 : lock.l_pid;
}

// Whether flock(OP | LOCK_NB) (OP = LOCK_SH or LOCK_EX) on a fresh open of PATH would block; a
// lock it gets is released at once.
inline bool flockWouldBlock(const std::string& path, int op) {
    lockcr::UniqueFd fd = detail::openForProbe(path);
    if (flock(fd.get(), op | LOCK_NB) == 0) {
        flock(fd.get(), LOCK_UN);
        return false;
    }
    if (errno == EWOULDBLOCK) return true;
    detail::throwErrno("kernel truth: flock " + path);
}

// The "lock:" lines of /proc/PID/fdinfo/FD, verbatim. The kernel (fs/locks.c, show_fd_locks) lists
// the locks set through this fd's open file description; a POSIX lock only if it also belongs to
// PID's fd table, so a lock a child took on an inherited fd shows in the child's fdinfo only.
inline std::vector<std::string> fdinfoLockLines(pid_t pid, int fd) {
    std::vector<std::string> locks;
    std::string path = "/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(fd);
    for (const std::string& line : detail::readLines(path))
        if (line.rfind("lock:", 0) == 0) locks.push_back(line);
    return locks;
}

}  // namespace lockcr::test
