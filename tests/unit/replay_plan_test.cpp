// The replay plan, without a kernel: from the sample image (tests/samples/lock_image.json) with
// every lock missing, which calls are made in which process, and which targets are refused.
#include <doctest/doctest.h>

#include <fcntl.h>

#include "image/json.h"
#include "replay/plan.h"
#include "util/error.h"
#include "util/sys.h"

using namespace lockcr;
using doctest::Contains;

namespace {

LockImage sampleImage() { return lockImageFromText(sys::readFile(LOCKCR_SAMPLES "/lock_image.json")); }

// The sample's processes, running, with none of their locks.
LockImage withoutLocks(LockImage image) {
    for (Process& process : image.processes)
        for (ProcessFd& fd : process.fds) fd.posixLocks.clear();
    for (OpenFileDescription& description : image.descriptions) description.locks.clear();
    image.waiters.clear();
    return image;
}

PidMapping samplePids() { return PidMapping{{{1, 4637}, {2, 4639}}}; }

FdPaths sampleLivePaths() {
    return {{{4637, 3}, "/data/a"},
            {{4637, 4}, "/data/a"},
            {{4637, 5}, "/data/a"},
            {{4637, 6}, "/data/d (deleted)"},
            {{4639, 3}, "/data/a"}};
}

}  // namespace

TEST_CASE(
    "plan: POSIX locks inside their owner, last of verify's order first; flock and lease inside a holder; OFD apart") {
    LockImage image = sampleImage();
    LockDifferences missing = compareLockTables(image, withoutLocks(image), samplePids());
    ReplayPlan plan = planReplay(missing, samplePids(), sampleLivePaths());

    REQUIRE(plan.inside.size() == 1);
    const std::vector<PlannedCall>& calls = plan.inside.at(4637);
    REQUIRE(calls.size() == 4);
    // In the reverse of verify's order (by type, then range): the read lock [100,EOF] sorts first there.
    CHECK(calls[0].call.kind == LockKind::posix);
    CHECK(calls[0].call.fd == 3);
    CHECK(calls[0].call.type == F_WRLCK);
    CHECK(calls[0].call.start == 5);
    CHECK(calls[0].call.length == 10);
    CHECK(calls[1].call.type == F_RDLCK);
    CHECK(calls[1].call.start == 100);
    CHECK(calls[1].call.length == 0);  // to EOF
    CHECK(calls[1].description == nullptr);
    CHECK(calls[2].call.kind == LockKind::flock);
    CHECK(calls[2].call.fd == 4);  // the first holder of the description: set_by is pid 1
    CHECK(calls[2].call.type == F_RDLCK);
    CHECK(calls[2].description == &image.descriptions[0]);
    CHECK(calls[3].call.kind == LockKind::lease);
    CHECK(calls[3].call.fd == 6);
    CHECK(calls[3].containerPid == 1);

    REQUIRE(plan.ofdLocks.size() == 1);
    CHECK(plan.ofdLocks[0].hostPid == 4637);
    CHECK(plan.ofdLocks[0].fd == 4);
    CHECK(plan.ofdLocks[0].lock.range == LockRange{50, 99});
}

TEST_CASE("plan: nothing missing, nothing planned") {
    LockImage image = sampleImage();
    LockDifferences missing = compareLockTables(image, image, samplePids());
    ReplayPlan plan = planReplay(missing, samplePids(), {});
    CHECK(plan.inside.empty());
    CHECK(plan.ofdLocks.empty());
}

TEST_CASE("plan: a flock goes through the holder that set it while it still holds the description") {
    LockImage image = sampleImage();
    image.descriptions[0].holders = {{2, 3}, {1, 4}};
    image.descriptions[0].locks[0].setBy = 1;
    CHECK(holderFor(image.descriptions[0], image.descriptions[0].locks[0], samplePids()) == Holder{1, 4});
    image.descriptions[0].locks[0].setBy = 0;
    CHECK(holderFor(image.descriptions[0], image.descriptions[0].locks[0], samplePids()) == Holder{2, 3});
    CHECK_THROWS_WITH_AS(holderFor(image.descriptions[0], image.descriptions[0].locks[0], PidMapping{}),
                         Contains("none of the processes sharing it is in the container"), Error);
}

TEST_CASE("plan: refused targets, before any call is planned") {
    LockImage image = sampleImage();
    LockDifferences missing = compareLockTables(image, withoutLocks(image), samplePids());
    SUBCASE("the owner of a missing POSIX lock is not in the container") {
        PidMapping pids{{{2, 4639}}};
        CHECK_THROWS_WITH_AS(planReplay(missing, pids, sampleLivePaths()),
                             Contains("pid 1 (holder) of the image has no process in the container"), Error);
    }
    SUBCASE("an fd is no longer open") {
        FdPaths live = sampleLivePaths();
        live.erase({4637, 3});
        CHECK_THROWS_WITH_AS(planReplay(missing, samplePids(), live), Contains("pid 1 fd 3 is not open (the image has /data/a there)"), Error);
    }
    SUBCASE("an fd now refers to another file") {
        FdPaths live = sampleLivePaths();
        live[{4637, 6}] = "/data/d";  // the image has it deleted
        CHECK_THROWS_WITH_AS(planReplay(missing, samplePids(), live),
                             Contains("pid 1 fd 6: refers to /data/d, the image has /data/d (deleted)"), Error);
    }
}

TEST_CASE("plan: the fds whose link text replay reads are those of mapped processes") {
    LockImage image = sampleImage();
    std::set<FdKey> fds = imageFds(image, PidMapping{{{1, 4637}}});
    CHECK(fds == std::set<FdKey>{{4637, 3}, {4637, 4}, {4637, 5}, {4637, 6}});
}
