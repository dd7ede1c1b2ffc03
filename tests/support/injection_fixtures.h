// Fixtures of the injection tests (tests/integration/inject_test.cpp): a lockagent with a data file
// (in a freezer cgroup if asked), a second agent holding a lock, a stopped process, and the
// /proc/locks checks they are judged by.
#pragma once

#include <fcntl.h>
#include <sys/syscall.h>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "agent.h"
#include "kernel_truth.h"
#include "replay/tracee.h"
#include "scene.h"
#include "temp_directory.h"
#include "test_cgroup.h"
#include "wait_until.h"

namespace lockcr::test {

inline constexpr auto kStopTimeout = std::chrono::milliseconds(5000);

inline StoppedProcess stopProcess(pid_t pid) {
    StoppedProcess process = StoppedProcess::seizeAndInterrupt(pid);
    process.waitUntilStopped(kStopTimeout);
    return process;
}

// A lockagent with DIRECTORY/data open read-write; with a cgroup, inside a test freezer cgroup.
struct AgentScene {
    explicit AgentScene(bool inCgroup = false) {
        if (inCgroup) {
            cgroup.emplace();
            cgroup->add(agent.pid());
        }
        fd = openIn(agent, path);
    }
    TempDirectory directory;
    std::string path = directory.file("data");
    std::optional<TestCgroup> cgroup;
    Agent agent = Agent::spawn(agentBinary);
    int fd = -1;
};

// A second agent holding a POSIX lock on PATH ("w START LEN"), outside the process under test.
struct LockHolder {
    LockHolder(const std::string& path, const std::string& range)
            : agent(Agent::spawn(agentBinary)), fd(openIn(agent, path)) {
        REQUIRE(call("w " + range) == "ok");
    }
    std::string call(const std::string& typeAndRange) {
        return agent.call("posix " + std::to_string(fd) + " " + typeAndRange);
    }
    Agent agent;
    int fd;
};

// The syscall a blocked thread sits in (first field of /proc/PID/syscall), -1 if none.
inline long currentSyscall(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/syscall");
    std::string first;
    file >> first;
    char* end = nullptr;
    long number = std::strtol(first.c_str(), &end, 10);
    return end != first.c_str() && *end == '\0' ? number : -1;
}

inline bool isSleepSyscall(long number) {
    return number == SYS_nanosleep || number == SYS_clock_nanosleep || number == SYS_restart_syscall;
}

// Whether /proc/locks shows EXPECTED lines of PID on INODE. Read again for up to 2 s: /proc/locks
// is one global list read a page at a time, and while other processes add and remove locks a
// read can skip or repeat lines; the locks under test do not change.
inline bool procLocksShows(uint64_t inode, pid_t pid, size_t expected, bool blocked = false) {
    size_t seen = 0;
    bool shown = waitUntil([&] { return (seen = lockLinesOf(inode, pid, blocked)) == expected; }, 2000);
    if (!shown) MESSAGE("/proc/locks shows " << seen << " lines of pid " << pid << ", not " << expected);
    return shown;
}

// The "lock:" lines of /proc/PID/fdinfo/FD: one consistent snapshot of that file's locks.
inline size_t fdinfoLocks(pid_t pid, int fd) { return fdinfoLockLines(pid, fd).size(); }

inline double secondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The test process itself write-locks bytes 0, 2, 4... (COUNT of them) of FD: the seconds it took.
inline double lockEveryOtherByte(int fd, size_t count) {
    auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < count; ++i) {
        struct flock lock {};
        lock.l_type = F_WRLCK;
        lock.l_whence = SEEK_SET;
        lock.l_start = static_cast<off_t>(2 * i);
        lock.l_len = 1;
        REQUIRE(fcntl(fd, F_SETLK, &lock) == 0);
    }
    return secondsSince(start);
}

}  // namespace lockcr::test
