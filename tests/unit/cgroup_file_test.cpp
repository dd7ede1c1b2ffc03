// /proc/PID/cgroup: the real file of this hybrid (v1 + v2) host (tests/samples/cgroup_hybrid.txt),
// pure v2, and hostile text.
#include <doctest/doctest.h>

#include "discover/cgroup_file.h"
#include "util/error.h"
#include "util/sys.h"

using namespace lockcr;
using doctest::Contains;

TEST_CASE("every hierarchy of a hybrid host is listed with its controllers and path") {
    auto memberships = parseProcCgroup(sys::readFile(std::string(LOCKCR_SAMPLES) + "/cgroup_hybrid.txt"));
    REQUIRE(memberships.size() == 10);
    CHECK(memberships[0].hierarchyId == 9);
    CHECK(memberships[0].controllers == std::vector<std::string>{"name=systemd"});
    CHECK(memberships[5].path == "/process_api/59c3c3b07407657af85fcdd8f6593c73");
    CHECK(memberships[9].hierarchyId == 0);
    CHECK(memberships[9].controllers.empty());
}

TEST_CASE("the freezer path and the unified path of a hybrid host") {
    auto memberships = parseProcCgroup(
        "6:freezer:/a/b\n4:memory:/process_api/f03\n"
        "9:name=systemd:/\n0::/c\n");
    CHECK(freezerPathV1(memberships) == "/a/b");
    CHECK(unifiedPath(memberships) == "/c");
}

TEST_CASE("co-mounted controllers are split on commas") {
    auto memberships = parseProcCgroup("3:cpu,cpuacct:/x\n7:freezer,net_cls:/frozen\n");
    CHECK(memberships[0].controllers == std::vector<std::string>{"cpu", "cpuacct"});
    CHECK(freezerPathV1(memberships) == "/frozen");
}

TEST_CASE("a pure v2 host has no v1 freezer") {
    auto memberships = parseProcCgroup("0::/system.slice/docker-abc.scope\n");
    CHECK_FALSE(freezerPathV1(memberships).has_value());
    CHECK(unifiedPath(memberships) == "/system.slice/docker-abc.scope");
}

TEST_CASE("a v1-only host has no unified path") {
    CHECK_FALSE(unifiedPath(parseProcCgroup("6:freezer:/\n")).has_value());
}

TEST_CASE("paths keep colons and spaces") {
    auto memberships = parseProcCgroup("0::/a:b/c d (deleted)\n");
    CHECK(memberships[0].path == "/a:b/c d (deleted)");
}

TEST_CASE("malformed lines are refused with the line number") {
    CHECK_THROWS_WITH_AS(parseProcCgroup("6:freezer:/\nfreezer:/\n"),
                         "/proc/PID/cgroup line 2: expected \"ID:CONTROLLERS:PATH\"", Error);
    CHECK_THROWS_WITH_AS(parseProcCgroup("x:freezer:/\n"), Contains("bad hierarchy id"), Error);
    CHECK_THROWS_WITH_AS(parseProcCgroup("-1:freezer:/\n"), Contains("bad hierarchy id"), Error);
    CHECK_THROWS_WITH_AS(parseProcCgroup("99999999999:freezer:/\n"), Contains("bad hierarchy id"), Error);
    CHECK_THROWS_WITH_AS(parseProcCgroup("6:freezer:relative\n"), Contains("does not start with '/'"), Error);
    CHECK_THROWS_WITH_AS(parseProcCgroup("6:cpu,:/\n"), Contains("empty controller name"), Error);
    CHECK_THROWS_WITH_AS(parseProcCgroup("0:memory:/\n"), Contains("hierarchy 0 (cgroup v2) with"), Error);
    CHECK_THROWS_WITH_AS(parseProcCgroup("1::/\n"), Contains("hierarchy 1 (cgroup v1) without controllers"), Error);
}

TEST_CASE("a hierarchy twice is refused") {
    CHECK_THROWS_WITH_AS(parseProcCgroup("6:freezer:/a\n6:freezer:/b\n"),
                         "/proc/PID/cgroup line 2: hierarchy 6 appears twice", Error);
}

TEST_CASE("empty, truncated and hostile cgroup texts are refused cleanly") {
    CHECK_THROWS_WITH_AS(parseProcCgroup(""), Contains("empty"), Error);
    CHECK_THROWS_WITH_AS(parseProcCgroup("0::/"), Contains("no newline at the end"), Error);
    CHECK_THROWS_AS(parseProcCgroup("\n"), Error);
    CHECK_THROWS_AS(parseProcCgroup("0::/" + std::string(10 << 20, 'a') + "\n"), Error);
    std::string many;
    for (int i = 1; i <= 200000; ++i) many += std::to_string(i) + ":name=h:/\n";
    CHECK(parseProcCgroup(many).size() == 200000);  // duplicates are found without n^2 work
}
