// The test support itself, against real locks: if these fail, no other integration test means
// anything. Every lock is taken by an agent and checked through kernel_truth.h.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "agent.h"
#include "kernel_truth.h"
#include "temp_directory.h"
#include "test_cgroup.h"
#include "wait_until.h"

using namespace lockcr::test;

namespace {

const std::string agentBinary = LOCKCR_WORKLOAD_DIR "/lockagent";

bool hasLineContaining(const std::vector<std::string>& lines, const std::string& needle) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& line) { return line.find(needle) != std::string::npos; });
}

// "-> POSIX  ADVISORY  WRITE PID ": the kernel's line for a process blocked in F_SETLKW.
bool isBlockedWaiter(uint64_t ino, pid_t pid) {
    for (const std::string& line : procLocksLinesForInode(ino))
        if (line.find("-> POSIX") != std::string::npos &&
            line.find(" " + std::to_string(pid) + " ") != std::string::npos)
            return true;
    return false;
}

}  // namespace

TEST_CASE("support: an agent's POSIX lock is what F_GETLK, /proc/locks and fdinfo report") {
    TempDirectory directory;
    std::string file = directory.file("posix.dat");
    Agent holder = Agent::spawn(agentBinary);
    int fd = static_cast<int>(holder.callForNumber("open " + file + " rw"));

    CHECK(posixHolder(file, F_WRLCK, 0, 0) == 0);
    CHECK(holder.call("posix " + std::to_string(fd) + " w 10 20") == "ok");

    CHECK(posixHolder(file, F_WRLCK, 0, 0) == holder.pid());
    CHECK(posixHolder(file, F_RDLCK, 29, 1) == holder.pid());
    CHECK(posixHolder(file, F_RDLCK, 30, 0) == 0);
    std::vector<std::string> lines = procLocksLinesForInode(inodeOf(file));
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("POSIX  ADVISORY  WRITE " + std::to_string(holder.pid())) != std::string::npos);
    CHECK(lines[0].find(" 10 29") != std::string::npos);
    CHECK(hasLineContaining(fdinfoLockLines(holder.pid(), fd), "POSIX  ADVISORY  WRITE"));
    CHECK(holder.call("posix " + std::to_string(fd) + " w 0 0 bogus").rfind("err EINVAL", 0) == 0);
}

TEST_CASE("support: OFD locks, flocks and leases are visible to the probes") {
    TempDirectory directory;
    std::string file = directory.file("kinds.dat");
    Agent holder = Agent::spawn(agentBinary);
    int fd = static_cast<int>(holder.callForNumber("open " + file + " rw"));
    std::string fdText = std::to_string(fd);

    CHECK(holder.call("ofd " + fdText + " w 0 50") == "ok");
    CHECK(ofdConflict(file, F_RDLCK, 0, 1) == -1);
    CHECK(ofdConflict(file, F_RDLCK, 50, 0) == 0);
    CHECK(posixHolder(file, F_RDLCK, 0, 1) == -1);

    CHECK_FALSE(flockWouldBlock(file, LOCK_SH));
    CHECK(holder.call("flock " + fdText + " sh") == "ok");
    CHECK_FALSE(flockWouldBlock(file, LOCK_SH));
    CHECK(flockWouldBlock(file, LOCK_EX));

    std::string leaseFile = directory.file("lease.dat");
    CHECK(holder.call("close " + std::to_string(holder.callForNumber("open " + leaseFile + " w"))) == "ok");
    std::string leaseFd = std::to_string(holder.callForNumber("open " + leaseFile + " r"));
    CHECK(holder.call("setsig " + leaseFd + " USR1") == "ok");
    CHECK(holder.call("lease " + leaseFd + " r") == "ok");
    CHECK(holder.call("getlease " + leaseFd) == "ok r");
    CHECK(holder.call("getsig " + leaseFd) == "ok " + std::to_string(SIGUSR1));
    CHECK(hasLineContaining(procLocksLinesForInode(inodeOf(leaseFile)), "LEASE  ACTIVE    READ"));
    // The probes open read-only, which must not break a read lease.
    CHECK(posixHolder(leaseFile, F_WRLCK, 0, 0) == 0);
    CHECK(holder.call("getlease " + leaseFd) == "ok r");
    CHECK(holder.call("sigcount USR1") == "ok 0");
}

TEST_CASE("support: a blocked waiter shows as -> and its wait ends with ok or EINTR") {
    TempDirectory directory;
    std::string file = directory.file("wait.dat");
    uint64_t ino = 0;
    Agent holder = Agent::spawn(agentBinary);
    Agent waiter = Agent::spawn(agentBinary);
    std::string holderFd = std::to_string(holder.callForNumber("open " + file + " rw"));
    std::string waiterFd = std::to_string(waiter.callForNumber("open " + file + " rw"));
    ino = inodeOf(file);
    REQUIRE(holder.call("posix " + holderFd + " w 0 100") == "ok");

    SUBCASE("released: the wait returns ok") {
        waiter.send("posix " + waiterFd + " w 0 100 wait");
        REQUIRE(waitUntil([&] { return isBlockedWaiter(ino, waiter.pid()); }));
        CHECK_FALSE(waiter.reply(200).has_value());
        CHECK(holder.call("posix " + holderFd + " u 0 0") == "ok");
        CHECK(waiter.reply(5000) == "ok");
        CHECK(posixHolder(file, F_WRLCK, 0, 0) == waiter.pid());
    }
    SUBCASE("signalled: the wait returns EINTR") {
        waiter.send("posix " + waiterFd + " w 0 100 wait");
        REQUIRE(waitUntil([&] { return isBlockedWaiter(ino, waiter.pid()); }));
        kill(waiter.pid(), SIGUSR2);
        std::optional<std::string> line = waiter.reply(5000);
        REQUIRE(line.has_value());
        CHECK(line->rfind("err EINTR ", 0) == 0);
        CHECK_FALSE(isBlockedWaiter(ino, waiter.pid()));
    }
}

TEST_CASE("support: freezing the test cgroup stops its agents and thawing resumes them") {
    TempDirectory directory;
    std::string file = directory.file("frozen.dat");
    TestCgroup cgroup;
    Agent holder = Agent::spawn(agentBinary);
    Agent waiter = Agent::spawn(agentBinary);
    cgroup.add(holder.pid());
    cgroup.add(waiter.pid());
    std::vector<pid_t> members = cgroup.members();
    CHECK(std::count(members.begin(), members.end(), holder.pid()) == 1);
    CHECK(std::count(members.begin(), members.end(), waiter.pid()) == 1);

    std::string holderFd = std::to_string(holder.callForNumber("open " + file + " rw"));
    std::string waiterFd = std::to_string(waiter.callForNumber("open " + file + " rw"));
    REQUIRE(holder.call("posix " + holderFd + " w 0 0") == "ok");
    waiter.send("posix " + waiterFd + " w 0 0 wait");
    REQUIRE(waitUntil([&] { return isBlockedWaiter(inodeOf(file), waiter.pid()); }));

    cgroup.freeze();
    CHECK(cgroup.state() == "FROZEN");
    holder.send("pid");
    CHECK_FALSE(holder.reply(300).has_value());
    // The freeze interrupted the waiter's F_SETLKW: frozen, it is not queued on the lock.
    CHECK_FALSE(isBlockedWaiter(inodeOf(file), waiter.pid()));
    cgroup.thaw();
    CHECK(holder.reply(5000) == "ok " + std::to_string(holder.pid()));

    // Thawed, the wait restarts by itself (ERESTARTSYS): it ends in ok, not EINTR.
    REQUIRE(waitUntil([&] { return isBlockedWaiter(inodeOf(file), waiter.pid()); }));
    CHECK(holder.call("posix " + holderFd + " u 0 0") == "ok");
    CHECK(waiter.reply(5000) == "ok");
}

TEST_CASE("support: children share the agent's open file descriptions") {
    TempDirectory directory;
    std::string file = directory.file("shared.dat");
    Agent parent = Agent::spawn(agentBinary);
    std::string fd = std::to_string(parent.callForNumber("open " + file + " rw"));
    REQUIRE(parent.call("flock " + fd + " ex") == "ok");

    Agent child = parent.forkAgent();
    CHECK(child.pid() != parent.pid());
    // Same description: the child's flock call converts the shared lock instead of conflicting.
    CHECK(child.call("flock " + fd + " ex") == "ok");
    CHECK(child.call("posix " + fd + " w 0 10") == "ok");
    CHECK(posixHolder(file, F_WRLCK, 0, 10) == child.pid());

    pid_t lockedChild = static_cast<pid_t>(parent.callForNumber("spawn-child-posix " + fd + " w 100 10"));
    CHECK(posixHolder(file, F_WRLCK, 100, 10) == lockedChild);
    CHECK(parent.call("spawn-child-posix " + fd + " w 0 10").rfind("err EAGAIN ", 0) == 0);

    pid_t parentPid = parent.pid();
    parent = Agent::spawn(agentBinary);  // kills the old parent: its children must die with it
    CHECK(parent.pid() != parentPid);
    CHECK(waitUntil([&] { return posixHolder(file, F_WRLCK, 0, 0) == 0; }));
    CHECK_FALSE(flockWouldBlock(file, LOCK_EX));
}
