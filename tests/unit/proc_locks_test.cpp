// /proc/locks lines and tables: real lines captured on this machine (tests/samples, made by
// tests/samples/capture_samples.py), the kernel's other variants, and hostile text.
#include <doctest/doctest.h>

#include <time.h>

#include <chrono>

#include "collect/proc_locks.h"
#include "util/error.h"
#include "util/sys.h"

using namespace lockcr;
using doctest::Contains;

namespace {

std::string procLocksSample(const std::string& name) { return sys::readFile(std::string(LOCKCR_SAMPLES) + "/" + name); }

}  // namespace

TEST_CASE("a POSIX line gives kind, type, owner, file and inclusive range") {
    LockLine line = parseLockLine("3: POSIX  ADVISORY  WRITE 2583 fe:00:10952858 5 14");
    CHECK(line.id == 3);
    CHECK(line.blockedLevel == 0);
    CHECK(line.lock.kind == LockKind::posix);
    CHECK(line.lock.type == LockType::write);
    CHECK(line.lock.leaseState == LeaseState::none);
    CHECK(line.pid == 2583);
    CHECK(line.device == DeviceNumber{0xfe, 0});
    CHECK(line.inode == 10952858);
    CHECK(line.lock.range == LockRange{5, 14});
    CHECK(line.hasInode);
}

TEST_CASE("an OFD line has pid -1 and EOF as an open end") {
    LockLine line = parseLockLine("1: OFDLCK ADVISORY  WRITE -1 fe:00:10952858 50 EOF");
    CHECK(line.lock.kind == LockKind::ofd);
    CHECK(line.pid == -1);
    CHECK(line.lock.range.start == 50);
    CHECK_FALSE(line.lock.range.end.has_value());
}

TEST_CASE("a flock line covers the whole file") {
    LockLine line = parseLockLine("2: FLOCK  ADVISORY  READ 2583 fe:00:10952858 0 EOF");
    CHECK(line.lock.kind == LockKind::flock);
    CHECK(line.lock.type == LockType::read);
    CHECK(line.lock.range == LockRange{0, std::nullopt});
}

TEST_CASE("the indentation before \"->\" is the waiter's depth") {
    CHECK(parseLockLine("3: -> POSIX  ADVISORY  WRITE 2584 fe:00:1 5 14").blockedLevel == 1);
    CHECK(parseLockLine("3:  -> FLOCK  ADVISORY  WRITE 2585 fe:00:1 0 EOF").blockedLevel == 2);
    CHECK(parseLockLine("3:     -> FLOCK  ADVISORY  WRITE 2585 fe:00:1 0 EOF").blockedLevel == 5);
}

TEST_CASE("lease lines give their state; a breaking lease shows the type it breaks to") {
    LockLine active = parseLockLine("1: LEASE  ACTIVE    READ 4637 fe:00:10952996 0 EOF");
    CHECK(active.lock.kind == LockKind::lease);
    CHECK(active.lock.leaseState == LeaseState::active);
    LockLine unlocking = parseLockLine("3: LEASE  BREAKING  UNLCK 4637 fe:00:10952994 0 EOF");
    CHECK(unlocking.lock.leaseState == LeaseState::breaking);
    CHECK(unlocking.lock.type == LockType::unlock);
}

TEST_CASE("a lease breaker has no file: \"<none>:0\"") {
    LockLine breaker = parseLockLine("2: -> LEASE  BREAKER   READ 4644 <none>:0 0 EOF");
    CHECK(breaker.lock.leaseState == LeaseState::breaker);
    CHECK_FALSE(breaker.hasInode);
    CHECK(breaker.inode == 0);
    CHECK(breaker.device == DeviceNumber{});
}

TEST_CASE("older and rarer kernel variants are recognised and flagged") {
    LockLine delegation = parseLockLine("4: DELEG  ACTIVE    READ 812 fd:01:77 0 EOF");
    CHECK(delegation.lock.kind == LockKind::lease);
    CHECK(delegation.delegation);
    LockLine mandatory = parseLockLine("5: POSIX  MANDATORY WRITE 9 08:01:12 0 EOF");
    CHECK(mandatory.mandatory);
    LockLine access = parseLockLine("5: -> ACCESS MANDATORY READ 10 08:01:12 0 0");
    CHECK(access.accessCheck);
    CHECK(access.lock.kind == LockKind::posix);
    LockLine noInode = parseLockLine("6: POSIX  *NOINODE* WRITE 11 <none>:0 0 EOF");
    CHECK_FALSE(noInode.hasInode);
    // Kernels before 4.x printed "READ " for a breaking lease: two spaces before the pid.
    CHECK(parseLockLine("2: LEASE  BREAKING  READ  7 fe:00:3 0 EOF").pid == 7);
}

TEST_CASE("wide device numbers and large inodes and offsets are read exactly") {
    LockLine line = parseLockLine(
        "1: POSIX  ADVISORY  READ 4194304 fff:fffff:18446744073709551615 0 9223372036854775806");
    CHECK(line.device == DeviceNumber{0xfff, 0xfffff});
    CHECK(line.inode == UINT64_MAX);
    CHECK(line.pid == 4194304);
    CHECK(line.lock.range.end == INT64_MAX - 1);
}

TEST_CASE("the real /proc/locks sample has every kind of held lock") {
    ProcLocksTable table = parseProcLocks(procLocksSample("proc_locks.txt"));
    REQUIRE(table.held.size() == 9);
    CHECK(table.held[0].lock.leaseState == LeaseState::active);
    CHECK(table.held[1].lock.leaseState == LeaseState::breaking);
    CHECK(table.held[1].lock.type == LockType::read);
    CHECK(table.held[2].lock.type == LockType::unlock);
    CHECK(table.held[3].lock.kind == LockKind::flock);
    CHECK(table.held[3].lock.type == LockType::write);
    CHECK(table.held[5].lock.kind == LockKind::ofd);
    CHECK(table.held[6].lock.range == LockRange{50, 99});
    CHECK(table.held[7].lock.range == LockRange{100, std::nullopt});
    CHECK(table.held[8].lock.range == LockRange{5, 14});
    for (const LockLine& line : table.held) CHECK(line.device == DeviceNumber{0xfe, 0});
}

TEST_CASE("each waiter of the real sample is paired with the line it waits on") {
    ProcLocksTable table = parseProcLocks(procLocksSample("proc_locks.txt"));
    REQUIRE(table.waits.size() == 5);
    const LockWait& breaker = table.waits[0];
    CHECK(breaker.waiter.lock.leaseState == LeaseState::breaker);
    CHECK(breaker.blocker.inode == 10952995);
    const LockWait& posix = table.waits[4];
    CHECK(posix.waiter.pid == 4639);
    CHECK(posix.blocker.pid == 4637);
    CHECK(posix.blocker.lock.range == LockRange{5, 14});
    const LockWait& ofd = table.waits[3];
    CHECK(ofd.waiter.lock.range == LockRange{60, 70});
    CHECK(ofd.blocker.lock.range == LockRange{50, 99});
}

TEST_CASE("a nested waiter is blocked on the waiter above it, not on the held lock") {
    ProcLocksTable table = parseProcLocks(procLocksSample("proc_locks.txt"));
    const LockWait& first = table.waits[1];
    const LockWait& second = table.waits[2];
    CHECK(first.waiter.pid == 4641);
    CHECK(first.blocker.pid == 4637);
    CHECK(second.waiter.blockedLevel == 2);
    CHECK(second.waiter.pid == 4642);
    CHECK(second.blocker.pid == 4641);
    CHECK(second.blocker.blockedLevel == 1);
}

TEST_CASE("inside a pid namespace a waiter from outside shows pid 0 and ids have gaps") {
    ProcLocksTable table = parseProcLocks(procLocksSample("proc_locks_in_pid_namespace.txt"));
    REQUIRE(table.held.size() == 3);
    CHECK(table.held[0].pid == 1);
    CHECK(table.held[1].id == 7);
    REQUIRE(table.waits.size() == 2);
    CHECK(table.waits[0].waiter.pid == 0);
}

TEST_CASE("a waiter deeper than one below the line above it is refused") {
    CHECK_THROWS_WITH_AS(parseProcLocks("1: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF\n"
                                        "1:  -> POSIX  ADVISORY  WRITE 2 fe:00:1 0 EOF\n"),
                         Contains("line 2: a waiter at depth 2 with no line at depth 1"), Error);
    CHECK_THROWS_WITH_AS(parseProcLocks("1: -> POSIX  ADVISORY  WRITE 2 fe:00:1 0 EOF\n"),
                         Contains("line 1: a waiter at depth 1"), Error);
}

TEST_CASE("a waiter with another id than its blocker is refused") {
    CHECK_THROWS_WITH_AS(parseProcLocks("1: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF\n"
                                        "2: -> POSIX  ADVISORY  WRITE 2 fe:00:1 0 EOF\n"),
                         Contains("line 2: a waiter with id 2 under a lock with id 1"), Error);
}

TEST_CASE("empty /proc/locks is an empty table") {
    ProcLocksTable table = parseProcLocks("");
    CHECK(table.held.empty());
    CHECK(table.waits.empty());
}

TEST_CASE("a last line without its newline is a truncated read") {
    CHECK_THROWS_WITH_AS(parseProcLocks("1: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF\n"
                                        "2: POSIX  ADVISORY  WRITE 1 fe:00:2 0 1"),
                         Contains("/proc/locks line 2: no newline at the end"), Error);
}

TEST_CASE("errors name the line number and quote the line") {
    CHECK_THROWS_WITH_AS(parseProcLocks("1: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF\n\n"),
                         Contains("/proc/locks line 2: lock line \"\": bad id"), Error);
    CHECK_THROWS_WITH_AS(parseProcLocks("1: POSIX  ADVISORY  WRITE x fe:00:1 0 EOF\n"),
                         "/proc/locks line 1: lock line \"1: POSIX  ADVISORY  WRITE x fe:00:1 0 "
                         "EOF\": bad pid \"x\" (expected -4194304..4194304)",
                         Error);
}

TEST_CASE("parse errors are bad input, not system failures") {
    try {
        parseLockLine("garbage");
        FAIL("no error");
    } catch (const Error& error) {
        CHECK(error.status() == ExitStatus::badInput);
        CHECK(error.errnoValue() == 0);
    }
}

TEST_CASE("numbers that overflow or are out of range are refused") {
    CHECK_THROWS_WITH_AS(parseLockLine("99999999999: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF"), Contains("bad id"),
                         Error);
    CHECK_THROWS_WITH_AS(parseLockLine("1: POSIX  ADVISORY  WRITE 4194305 fe:00:1 0 EOF"), Contains("bad pid"), Error);
    CHECK_THROWS_WITH_AS(parseLockLine("1: POSIX  ADVISORY  WRITE -99999999999 fe:00:1 0 EOF"), Contains("bad pid"),
                         Error);
    CHECK_THROWS_WITH_AS(parseLockLine("1: POSIX  ADVISORY  WRITE 1 fe:00:18446744073709551616 0 EOF"),
                         Contains("bad file"), Error);
    CHECK_THROWS_WITH_AS(parseLockLine("1: POSIX  ADVISORY  WRITE 1 1000:00:1 0 EOF"), Contains("bad device number"),
                         Error);
    CHECK_THROWS_WITH_AS(parseLockLine("1: POSIX  ADVISORY  WRITE 1 fe:00:1 9223372036854775808 EOF"),
                         Contains("bad start offset"), Error);
    CHECK_THROWS_WITH_AS(parseLockLine("1: POSIX  ADVISORY  WRITE 1 fe:00:1 0 99999999999999999999"),
                         Contains("bad end offset"), Error);
}

TEST_CASE("signs, spaces inside numbers and hex where decimal is due are refused") {
    CHECK_THROWS_AS(parseLockLine("-1: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF"), Error);
    CHECK_THROWS_AS(parseLockLine("1: POSIX  ADVISORY  WRITE +1 fe:00:1 0 EOF"), Error);
    CHECK_THROWS_AS(parseLockLine("1: POSIX  ADVISORY  WRITE 1 fe:00:0x1 0 EOF"), Error);
    CHECK_THROWS_AS(parseLockLine("1: POSIX  ADVISORY  WRITE 1 fe:00:1 -5 EOF"), Error);
    CHECK_THROWS_AS(parseLockLine("1: POSIX  ADVISORY  WRITE 1 fe:-1:1 0 EOF"), Error);
    CHECK_THROWS_AS(parseLockLine("0: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF"), Error);
}

TEST_CASE("an end before the start is refused") {
    CHECK_THROWS_WITH_AS(parseLockLine("1: POSIX  ADVISORY  WRITE 1 fe:00:1 10 9"), Contains("bad end offset \"9\""),
                         Error);
}

TEST_CASE("missing fields and junk after the last field are refused") {
    CHECK_THROWS_WITH_AS(parseLockLine("1: POSIX  ADVISORY  WRITE 1 fe:00:1 0"), Contains("missing fields"), Error);
    CHECK_THROWS_WITH_AS(parseLockLine("1:"), Contains("no space after the id"), Error);
    CHECK_THROWS_WITH_AS(parseLockLine("1: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF x"),
                         Contains("junk after the end offset"), Error);
    CHECK_THROWS_WITH_AS(parseLockLine("1: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF\r"),
                         Contains("bad end offset \"EOF\\x0d\""), Error);
}

TEST_CASE("unknown kinds, qualifiers and types are refused by name") {
    CHECK_THROWS_WITH_AS(parseLockLine("1: UNKNOWN UNKNOWN  READ 1 fe:00:1 0 EOF"),
                         Contains("unknown lock kind \"UNKNOWN\""), Error);
    CHECK_THROWS_WITH_AS(parseLockLine("1: FLOCK  MSNFS     RW    1 fe:00:1 0 EOF"), Contains("LOCK_MAND"), Error);
    CHECK_THROWS_WITH_AS(parseLockLine("1: LEASE  SLEEPING  READ 1 fe:00:1 0 EOF"), Contains("bad lease state"), Error);
    CHECK_THROWS_WITH_AS(parseLockLine("1: POSIX  ADVISORY  READWRITE 1 fe:00:1 0 EOF"), Contains("bad lock type"),
                         Error);
}

TEST_CASE("combinations the kernel never prints are refused") {
    CHECK_THROWS_WITH_AS(parseLockLine("1: POSIX  ADVISORY  UNLCK 1 fe:00:1 0 EOF"),
                         Contains("UNLCK on a lock that is not a breaking lease"), Error);
    CHECK_THROWS_WITH_AS(parseLockLine("1: FLOCK  ADVISORY  READ 1 fe:00:1 5 EOF"),
                         Contains("range other than \"0 EOF\""), Error);
    CHECK_THROWS_WITH_AS(parseLockLine("1: FLOCK  ADVISORY  READ 1 <none>:0 0 EOF"), Contains("not a lease breaker"),
                         Error);
    CHECK_THROWS_WITH_AS(parseLockLine("1: POSIX  *NOINODE* READ 1 fe:00:1 0 EOF"), Contains("*NOINODE* with a device"),
                         Error);
}

TEST_CASE("a very long line is refused without quoting all of it") {
    std::string line = "1: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF" + std::string(200000, 'x');
    try {
        parseLockLine(line);
        FAIL("no error");
    } catch (const Error& error) {
        std::string message = error.what();
        CHECK(message.size() < 300);
        CHECK(message.find("longer than 131072 bytes") != std::string::npos);
    }
}

TEST_CASE("control bytes in a bad line are escaped in the message") {
    CHECK_THROWS_WITH_AS(parseLockLine("1: POSIX\n2: fake log line"), Contains("\"1: POSIX\\x0a2: fake log line\""),
                         Error);
}

TEST_CASE("hostile texts are refused cleanly") {
    CHECK_THROWS_AS(parseProcLocks("\n"), Error);
    CHECK_THROWS_AS(parseProcLocks(std::string(1, '\0') + "\n"), Error);
    CHECK_THROWS_AS(parseProcLocks("1: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF\n1: POSI"), Error);
    CHECK_THROWS_AS(parseProcLocks("1: -> -> POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF\n"), Error);
    CHECK_THROWS_AS(parseProcLocks("\xff\xfe\x00\x01 binary\n"), Error);
}

// Refused, not timed: how fast is bench/'s business (a timed check flakes under sanitizers and load).
TEST_CASE("10 MB of junk is refused") {
    std::string junk(10 << 20, '\0');
    for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>("x 9:-\n"[(i * 7) % 6]);
    CHECK_THROWS_AS(parseProcLocks(junk), Error);
    CHECK_THROWS_AS(parseProcLocks(std::string(10 << 20, ' ') + "\n"), Error);
}

TEST_CASE("20,000 lines parse (the time is printed; bench/ holds the timed figures)") {
    std::string text;
    for (int i = 1; i <= 20000; ++i) {
        if (i % 4 == 0)
            text += std::to_string(i - 1) + ": -> POSIX  ADVISORY  WRITE " + std::to_string(i) +
                    " fe:00:" + std::to_string(10000000 + i) + " 0 EOF\n";
        else
            text += std::to_string(i) + ": FLOCK  ADVISORY  WRITE " + std::to_string(i) +
                    " fe:00:" + std::to_string(10000000 + i) + " 0 EOF\n";
    }
    // CPU time of this thread, best of five: parallel builds on the machine must not fail it.
    auto cpuMicroseconds = [] {
        timespec now{};
        ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
        return int64_t{now.tv_sec} * 1000000 + now.tv_nsec / 1000;
    };
    int64_t microseconds = INT64_MAX;
    for (int run = 0; run < 5; ++run) {
        int64_t begin = cpuMicroseconds();
        ProcLocksTable table = parseProcLocks(text);
        microseconds = std::min(microseconds, cpuMicroseconds() - begin);
        CHECK(table.held.size() + table.waits.size() == 20000);
    }
    MESSAGE("20,000 /proc/locks lines: " << microseconds << " us");
}
