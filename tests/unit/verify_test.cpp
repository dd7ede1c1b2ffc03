// compareLockTables and describeLock, on the sample image (tests/samples/lock_image.json) against
// live tables made from it: what verify reports, and what replay takes as missing.
#include <doctest/doctest.h>

#include "image/json.h"
#include "util/sys.h"
#include "verify/verify.h"

using namespace lockcr;

namespace {

LockImage sampleImage() { return lockImageFromText(sys::readFile(LOCKCR_SAMPLES "/lock_image.json")); }

// The sample records host pids 4637 (pid 1) and 4639 (pid 2): the live table has them still.
PidMapping samplePids() { return PidMapping{{{1, 4637}, {2, 4639}}}; }

bool hasLine(const std::vector<std::string>& lines, const std::string& text) {
    for (const std::string& line : lines)
        if (line.find(text) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST_CASE("verify: an image matches itself") {
    LockImage image = sampleImage();
    LockDifferences differences = compareLockTables(image, image, samplePids());
    CHECK(differences.empty());
    CHECK(differences.lines().empty());
    CHECK(differences.ownerHoldsOther.empty());
}

TEST_CASE("verify: one difference each, as replay and the report see it") {
    LockImage image = sampleImage();
    LockImage live = image;
    LockDifferences differences;
    SUBCASE("a POSIX lock is missing") {
        live.processes[0].fds[0].posixLocks.erase(live.processes[0].fds[0].posixLocks.begin());
        differences = compareLockTables(image, live, samplePids());
        REQUIRE(differences.missingPosix.size() == 1);
        CHECK(differences.missingPosix[0].process == &image.processes[0]);
        CHECK(differences.missingPosix[0].lock.range == LockRange{5, 14});
        CHECK(differences.lines() ==
              std::vector<std::string>{"pid 1 (holder) fd 3 /data/a: POSIX WRITE [5,14] missing"});
    }
    SUBCASE("a description lock is missing") {
        live.descriptions[0].locks.pop_back();
        differences = compareLockTables(image, live, samplePids());
        REQUIRE(differences.missingDescription.size() == 1);
        CHECK(differences.missingDescription[0].description == &image.descriptions[0]);
        CHECK(differences.lines() == std::vector<std::string>{"pid 1 fd 4 /data/a: OFD WRITE [50,99] missing"});
    }
    SUBCASE("a POSIX lock is held that the image does not have") {
        live.processes[1].fds[0].posixLocks.push_back(Lock{LockKind::posix, LockType::read, LeaseState::none, {0, 0}});
        differences = compareLockTables(image, live, samplePids());
        CHECK(differences.missingPosix.empty());
        CHECK(differences.lines() ==
              std::vector<std::string>{"pid 2 (waiter) /data/a: POSIX READ [0,0] held, not in the image"});
    }
    SUBCASE("the waiter no longer waits") {
        live.waiters.clear();
        differences = compareLockTables(image, live, samplePids());
        CHECK(differences.lines() ==
              std::vector<std::string>{"waiter pid 2 /data/a: POSIX WRITE [5,14] no longer waiting"});
    }
    SUBCASE("a process is not in the container") {
        differences = compareLockTables(image, live, PidMapping{{{2, 4639}}});
        CHECK(hasLine(differences.lines(), "pid 1 (holder): not running in the container"));
    }
    SUBCASE("a description is shared by other fds now") {
        live.descriptions[0].holders.pop_back();
        differences = compareLockTables(image, live, samplePids());
        CHECK(hasLine(differences.lines(),
                      "description of /data/a: shared by {4637:4,4637:5} (host pid:fd) in the image, "
                      "by {4637:4} (host pid:fd) now"));
    }
    CHECK_FALSE(differences.empty());
    CHECK(differences.ownerHoldsOther.empty());
}

TEST_CASE("verify: a missing lock whose owner holds an overlapping other one is refused to replay") {
    LockImage image = sampleImage();
    LockImage live = image;
    SUBCASE("POSIX: the process holds a read lock where the image has a write lock") {
        live.processes[0].fds[0].posixLocks[0].type = LockType::read;
        LockDifferences differences = compareLockTables(image, live, samplePids());
        REQUIRE(differences.ownerHoldsOther.size() == 1);
        CHECK(differences.ownerHoldsOther[0] ==
              "pid 1 (holder) /data/a: POSIX WRITE [5,14] missing, but the process holds POSIX READ [5,14]");
    }
    SUBCASE("flock: the description holds a write flock where the image has a read one") {
        live.descriptions[0].locks[0].type = LockType::write;
        LockDifferences differences = compareLockTables(image, live, samplePids());
        REQUIRE(differences.ownerHoldsOther.size() == 1);
        CHECK(differences.ownerHoldsOther[0] == "description of /data/a: FLOCK READ missing, but it holds FLOCK WRITE");
    }
}

TEST_CASE("describeLock: kind, type, lease state, range") {
    LockImage image = sampleImage();
    CHECK(describeLock(image.processes[0].fds[0].posixLocks[0]) == "POSIX WRITE [5,14]");
    CHECK(describeLock(image.processes[0].fds[0].posixLocks[1]) == "POSIX READ [100,EOF]");
    CHECK(describeLock(image.descriptions[0].locks[0]) == "FLOCK READ");
    CHECK(describeLock(image.descriptions[0].locks[1]) == "OFD WRITE [50,99]");
    CHECK(describeLock(image.descriptions[1].locks[0]) == "LEASE UNLOCK (breaking)");
    CHECK(describeLock(Lock{LockKind::lease, LockType::read, LeaseState::active, {}}) == "LEASE READ");
}
