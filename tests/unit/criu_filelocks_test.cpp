// CRIU's filelocks.img decoded with the protoc-c code generated from hook/criu/images/: the sample
// is a real one (tests/samples/checkpoint/, runc + CRIU 4.1.1 --file-locks of the demo container,
// tests/container/show_test.sh), then hostile bytes.
#include <doctest/doctest.h>

#include "criu/filelocks_image.h"
#include "util/error.h"
#include "util/sys.h"

using namespace lockcr;
using doctest::Contains;

namespace {

std::string sample() { return sys::readFile(std::string(LOCKCR_SAMPLES) + "/checkpoint/filelocks.img"); }

std::string word(uint32_t value) { return std::string(reinterpret_cast<const char*>(&value), sizeof value); }

}  // namespace

TEST_CASE("a real filelocks.img: every entry of the demo container, as CRIU's dump.log listed them") {
    std::vector<CriuFileLock> locks = criuFileLocksFromBytes(sample(), "filelocks.img");
    REQUIRE(locks.size() == 5);
    CHECK(locks[0].kind() == LockKind::flock);
    CHECK(locks[0].lockType() == LockType::write);
    CHECK(locks[0].pid == 1);
    CHECK(locks[0].fd == 3);
    CHECK(locks[1].kind() == LockKind::posix);
    CHECK(locks[1].range() == LockRange{0, 99});
    CHECK(locks[2].range() == LockRange{200, std::nullopt});  // len 0: to EOF
    CHECK(locks[2].lockType() == LockType::read);
    CHECK(locks[3].kind() == LockKind::ofd);
    CHECK(locks[3].range() == LockRange{0, 49});
    CHECK(locks[4].kind() == LockKind::lease);
    CHECK_FALSE(locks[4].breaking());
    CHECK(criuKindName(locks[3]) == "OFDLCK");
    CHECK(criuTypeName(locks[4]) == "READ");
}

TEST_CASE("images of CRIU before 1.4 have no head magic; an empty image has no entry") {
    std::string old = sample().substr(4);
    CHECK(criuFileLocksFromBytes(old, "old").size() == 5);
    CHECK(criuFileLocksFromBytes(word(kCriuImageCommonMagic) + word(kCriuFileLocksMagic), "empty").empty());
}

TEST_CASE("a breaking lease keeps its target type beside CRIU's breaking flag") {
    CriuFileLock lease{kCriuLockLease, 2 | kCriuLeaseBreaking, 1, 5, 0, 0};
    CHECK(lease.breaking());
    CHECK(lease.lockType() == LockType::unlock);
    CHECK(criuTypeName(lease) == "UNLCK (breaking)");
    CriuFileLock mandatory{kCriuLockFlock, 32 | 64, 1, 5, 0, 0};  // LOCK_MAND | LOCK_READ
    CHECK_FALSE(mandatory.lockType());
    CHECK(criuTypeName(mandatory) == "type 96");
}

TEST_CASE("hostile filelocks images are refused naming the byte") {
    std::string good = sample();
    CHECK_THROWS_WITH_AS(criuFileLocksFromBytes("", "f"), Contains("f: byte 0: too short"), Error);
    CHECK_THROWS_WITH_AS(criuFileLocksFromBytes(word(kCriuImageCommonMagic) + word(0x12345678), "f"),
                         Contains("not a CRIU filelocks image"), Error);
    // Another image of CRIU's (inventory.img has its own magic and no head magic).
    CHECK_THROWS_WITH_AS(criuFileLocksFromBytes(word(0x58313116) + word(0), "f"), Contains("FILE_LOCKS_MAGIC"), Error);
    CHECK_THROWS_WITH_AS(criuFileLocksFromBytes(good.substr(0, 10), "f"), Contains("byte 8: an entry size cut short"),
                         Error);
    CHECK_THROWS_WITH_AS(criuFileLocksFromBytes(good.substr(0, 13), "f"), Contains("runs past the end"), Error);
    std::string huge = good.substr(0, 8) + word(0xffffffffu) + std::string(16, '\0');
    CHECK_THROWS_WITH_AS(criuFileLocksFromBytes(huge, "f"), Contains("more than 4096"), Error);
    std::string garbage = good.substr(0, 8) + word(4) + std::string("\xff\xff\xff\xff", 4);
    CHECK_THROWS_WITH_AS(criuFileLocksFromBytes(garbage, "f"), Contains("not a FileLockEntry"), Error);
    // A message missing required fields (only flag = 1) does not unpack either.
    std::string partial = good.substr(0, 8) + word(2) + std::string("\x08\x01", 2);
    CHECK_THROWS_WITH_AS(criuFileLocksFromBytes(partial, "f"), Contains("not a FileLockEntry"), Error);
    // fd -1 (varint of a negative int32 is ten bytes): refused, not used as an fd.
    std::string negative = std::string("\x08\x01\x10\x01\x18\x01\x20", 7) +
                           std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10) +
                           std::string("\x28\x00\x30\x00", 4);
    CHECK_THROWS_WITH_AS(criuFileLocksFromBytes(good.substr(0, 8) + word(negative.size()) + negative, "f"),
                         Contains("negative pid, fd or range"), Error);
}
