// /proc/PID/fdinfo/FD: real files captured on this machine (tests/samples/fdinfo_*.txt, made by
// tests/samples/capture_samples.py) and hostile text.
#include <doctest/doctest.h>

#include "collect/fdinfo.h"
#include "util/error.h"
#include "util/sys.h"

using namespace lockcr;
using doctest::Contains;

namespace {

FdInfo parseFdInfoSample(const std::string& name) {
    return parseFdInfo(sys::readFile(std::string(LOCKCR_SAMPLES) + "/fdinfo_" + name + ".txt"));
}

}  // namespace

TEST_CASE("fdinfo gives position, octal flags, mount id and inode") {
    FdInfo info = parseFdInfo("pos:\t0\nflags:\t02100002\nmnt_id:\t27\nino:\t10952858\n");
    CHECK(info.position == 0);
    CHECK(info.flags == 02100002);
    CHECK(info.mountId == 27);
    CHECK(info.inode == 10952858);
    CHECK(info.locks.empty());
}

TEST_CASE("every POSIX lock set through the fd is listed in order") {
    FdInfo info = parseFdInfoSample("posix");
    CHECK(info.flags == 02100002);  // O_CLOEXEC | O_LARGEFILE | O_RDWR
    CHECK(info.inode == 10952991);
    REQUIRE(info.locks.size() == 2);
    CHECK(info.locks[0].lock.type == LockType::write);
    CHECK(info.locks[0].lock.range == LockRange{5, 14});
    CHECK(info.locks[0].pid == 4637);
    CHECK(info.locks[1].id == 2);
    CHECK(info.locks[1].lock.range == LockRange{100, std::nullopt});
}

TEST_CASE("OFD locks in fdinfo carry pid -1") {
    FdInfo info = parseFdInfoSample("ofd");
    REQUIRE(info.locks.size() == 1);
    CHECK(info.locks[0].lock.kind == LockKind::ofd);
    CHECK(info.locks[0].pid == -1);
    CHECK(info.locks[0].lock.range == LockRange{50, 99});
    CHECK(parseFdInfoSample("ofd_eof").locks[0].lock.range == LockRange{10, std::nullopt});
}

TEST_CASE("flocks in fdinfo are read and write") {
    CHECK(parseFdInfoSample("flock").locks.at(0).lock.type == LockType::read);
    CHECK(parseFdInfoSample("flock_exclusive").locks.at(0).lock.type == LockType::write);
    CHECK(parseFdInfoSample("flock").flags == 02100000);  // O_RDONLY
}

TEST_CASE("leases in fdinfo show active and breaking states") {
    FdInfo active = parseFdInfoSample("lease_active");
    CHECK(active.locks.at(0).lock.leaseState == LeaseState::active);
    FdInfo toRead = parseFdInfoSample("lease_breaking_read");
    CHECK(toRead.locks.at(0).lock.leaseState == LeaseState::breaking);
    CHECK(toRead.locks.at(0).lock.type == LockType::read);
    FdInfo toNone = parseFdInfoSample("lease_breaking_unlock");
    CHECK(toNone.locks.at(0).lock.type == LockType::unlock);
    CHECK(toNone.flags == 02120000);  // FASYNC: F_SETLEASE turns on break notification
}

TEST_CASE("lines of other file kinds are ignored") {
    FdInfo eventfd = parseFdInfoSample("eventfd");
    CHECK(eventfd.mountId == 17);
    CHECK(eventfd.locks.empty());
    FdInfo epoll = parseFdInfoSample("epoll");
    CHECK(epoll.inode == 1038);
    CHECK(epoll.position == 0);  // not the "pos:0" inside the tfd line
}

TEST_CASE("a negative position is kept as the same 64 bits") {
    FdInfo info = parseFdInfo("pos:\t-2\nflags:\t0100000\n");
    CHECK(info.position == UINT64_MAX - 1);
    FdInfo lowest = parseFdInfo("pos:\t-9223372036854775808\nflags:\t0\n");
    CHECK(lowest.position == uint64_t{1} << 63);
}

TEST_CASE("mount id and inode may be absent on older kernels") {
    FdInfo info = parseFdInfo("pos:\t7\nflags:\t02\n");
    CHECK(info.position == 7);
    CHECK(info.mountId == -1);
    CHECK(info.inode == 0);
}

TEST_CASE("pos and flags are required") {
    CHECK_THROWS_WITH_AS(parseFdInfo(""), Contains("no \"pos\" line"), Error);
    CHECK_THROWS_WITH_AS(parseFdInfo("pos:\t0\n"), Contains("no \"flags\" line"), Error);
}

TEST_CASE("a key twice is refused") {
    CHECK_THROWS_WITH_AS(parseFdInfo("pos:\t0\nflags:\t02\nflags:\t04\n"), "fdinfo line 3: flags appears twice", Error);
}

TEST_CASE("bad numbers are refused with the line number") {
    CHECK_THROWS_WITH_AS(parseFdInfo("pos:\t0\nflags:\t0789\n"), "fdinfo line 2: bad flags \"0789\"", Error);
    CHECK_THROWS_WITH_AS(parseFdInfo("pos:\t0\nflags:\t077777777777\n"), Contains("bad flags"), Error);
    CHECK_THROWS_WITH_AS(parseFdInfo("pos:\t9223372036854775808\nflags:\t0\n"), Contains("bad pos"), Error);
    CHECK_THROWS_WITH_AS(parseFdInfo("pos:\t0\nflags:\t0\nmnt_id:\t-1\n"), Contains("bad mnt_id"), Error);
    CHECK_THROWS_WITH_AS(parseFdInfo("pos:\t0\nflags:\t0\nino:\t18446744073709551616\n"), Contains("bad ino"), Error);
    CHECK_THROWS_WITH_AS(parseFdInfo("pos:\t0 junk\nflags:\t0\n"), Contains("bad pos"), Error);
}

TEST_CASE("a bad lock line is refused with the fdinfo line number") {
    CHECK_THROWS_WITH_AS(parseFdInfo("pos:\t0\nflags:\t0\nlock:\t1: POSIX  ADVISORY  WRITE 1 fe:00:1 0\n"),
                         Contains("fdinfo line 3: lock line \"1: POSIX  ADVISORY  WRITE 1 fe:00:1 0\": missing"),
                         Error);
}

TEST_CASE("a waiter line cannot appear in fdinfo") {
    CHECK_THROWS_WITH_AS(parseFdInfo("pos:\t0\nflags:\t0\nlock:\t1: -> POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF\n"),
                         Contains("a waiter"), Error);
}

TEST_CASE("truncated fdinfo is refused") {
    CHECK_THROWS_WITH_AS(parseFdInfo("pos:\t0\nflags:\t02100002\nmnt_id:\t2"),
                         "fdinfo line 3: no newline at the end (truncated read?)", Error);
}

TEST_CASE("hostile fdinfo texts are refused cleanly") {
    CHECK_THROWS_AS(parseFdInfo(std::string(10 << 20, 'j') + "\n"), Error);
    CHECK_THROWS_AS(parseFdInfo("pos:\t0\nflags:\t0\nlock:" + std::string(10000, '1') + "\n"), Error);
    CHECK_THROWS_AS(parseFdInfo("pos:\t\nflags:\t0\n"), Error);
    CHECK_THROWS_AS(parseFdInfo("pos\nflags\n"), Error);
    // Unknown keys may be long: a big epoll set prints one tfd line per watched fd.
    std::string many = "pos:\t0\nflags:\t02\n";
    for (int i = 0; i < 100000; ++i) many += "tfd: " + std::to_string(i) + " events: 19\n";
    CHECK(parseFdInfo(many).flags == 02);
}

TEST_CASE("a reused FdInfo is parsed afresh: nothing of the previous file is left in it") {
    FdInfo info;
    parseFdInfo(sys::readFile(std::string(LOCKCR_SAMPLES) + "/fdinfo_posix.txt"), info);
    REQUIRE(info.locks.size() == 2);
    parseFdInfo("pos:\t7\nflags:\t02\n", info);
    CHECK(info.position == 7);
    CHECK(info.mountId == -1);
    CHECK(info.inode == 0);
    CHECK(info.locks.empty());
    // Its keys count again from none: a file with each key once is not "a key twice".
    CHECK_NOTHROW(parseFdInfo("pos:\t0\nflags:\t02\nmnt_id:\t27\nino:\t5\n", info));
    CHECK(info.inode == 5);
}
