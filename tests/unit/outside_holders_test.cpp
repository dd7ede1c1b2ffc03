// findConflicts on the sample /proc/locks (tests/samples/proc_locks.txt): who holds what an image
// lock needs, and how the holder is named.
#include <doctest/doctest.h>

#include "collect/proc_locks.h"
#include "replay/outside_holders.h"
#include "util/sys.h"

using namespace lockcr;

namespace {

ProcLocksTable sampleTable() { return parseProcLocks(sys::readFile(LOCKCR_SAMPLES "/proc_locks.txt")); }

// The container whose init is host pid 4637 (pid 1 inside).
Container sampleContainer() {
    Container container;
    container.tasks.push_back({4637, 1, "holder", 1, 4637});
    return container;
}

WantedLock wanted(uint64_t inode, Lock lock, pid_t ownerHostPid = 0) {
    return WantedLock{"/data/x", inode, DeviceNumber{0xfe, 0}, lock, ownerHostPid, 3, 7};
}

}  // namespace

TEST_CASE("findConflicts: held and conflicting, per the kernel's rules") {
    ProcLocksTable table = sampleTable();
    Container container = sampleContainer();
    struct Row {
        const char* name;
        WantedLock want;
        bool conflict;
    };
    const Row rows[] = {
        {"a flock write against a held flock write", wanted(10952993, {LockKind::flock, LockType::write}), true},
        {"a flock read against a held flock read", wanted(10952992, {LockKind::flock, LockType::read}), false},
        {"an OFD write over a held OFD read to EOF", wanted(10952992, {LockKind::ofd, LockType::write, {}, {20, 30}}),
         true},
        {"an OFD read beside a held OFD write", wanted(10952991, {LockKind::ofd, LockType::read, {}, {100, 200}}),
         false},
        {"another inode", wanted(1, {LockKind::flock, LockType::write}), false},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        CHECK(findConflicts({row.want}, table, &container).size() == (row.conflict ? 1u : 0u));
    }
}

TEST_CASE("findConflicts: the holder is named, inside or outside the container") {
    ProcLocksTable table = sampleTable();
    SUBCASE("a flock held by a process of the container") {
        Container container = sampleContainer();
        auto conflicts = findConflicts({wanted(10952993, {LockKind::flock, LockType::write})}, table, &container);
        REQUIRE(conflicts.size() == 1);
        CHECK(conflicts[0].holderInContainer);
        CHECK(conflicts[0].holderContainerPid == 1);
        CHECK_MESSAGE(conflicts[0].line().find("pid 3 fd 7 /data/x: FLOCK WRITE: held by pid 1 (") != std::string::npos,
                      conflicts[0].line());
        CHECK_MESSAGE(
            conflicts[0].line().find("host pid 4637, inside the container) as FLOCK WRITE") != std::string::npos,
            conflicts[0].line());
    }
    SUBCASE("the same flock, with no container known") {
        auto conflicts = findConflicts({wanted(10952993, {LockKind::flock, LockType::write})}, table, nullptr);
        REQUIRE(conflicts.size() == 1);
        CHECK_FALSE(conflicts[0].holderInContainer);
        CHECK_MESSAGE(conflicts[0].line().find("held by pid 4637 (") != std::string::npos, conflicts[0].line());
        CHECK_MESSAGE(conflicts[0].line().find(", outside the container) as FLOCK WRITE") != std::string::npos,
                      conflicts[0].line());
    }
    SUBCASE("an OFD lock names no pid") {
        auto conflicts = findConflicts({wanted(10952991, {LockKind::ofd, LockType::write, {}, {60, 70}})}, table,
                                       nullptr);
        REQUIRE(conflicts.size() == 1);
        CHECK(
            conflicts[0].line() ==
            "pid 3 fd 7 /data/x: OFD WRITE [60,70]: held by an OFD lock (OFD locks name no pid) as OFD WRITE [50,99]");
    }
}

TEST_CASE("findConflicts: a process's own POSIX locks never conflict with its new one") {
    ProcLocksTable table = parseProcLocks("1: POSIX  ADVISORY  WRITE 4637 fe:00:10952991 0 9\n");
    Lock write{LockKind::posix, LockType::write, LeaseState::none, {5, 5}};
    CHECK(findConflicts({wanted(10952991, write, 4637)}, table, nullptr).empty());
    CHECK(findConflicts({wanted(10952991, write, 4638)}, table, nullptr).size() == 1);
}
