// The cgroup v2 freezer path, proved on the unified hierarchy directly: runc uses cgroup v1 on this
// hybrid host, so a container of agents whose only cgroup is a v2 one (cgroup.freeze,
// cgroup.events) stands in for a container on a v2 host. Kernel truth: F_GETLK, flock probes,
// cgroup.procs, cgroup.events.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <fstream>
#include <thread>

#include "agent.h"
#include "discover/container.h"
#include "freeze/freezer.h"
#include "kernel_truth.h"
#include "run_lockcr.h"
#include "scene.h"
#include "wait_until.h"

using namespace lockcr::test;

namespace {

// Like Scene, with the agents in a v2 cgroup only (v1 freezer root: discovery falls to v2).
struct UnifiedScene {
    std::deque<Agent> agents;
    TestCgroup cgroup{TestCgroup::Version::v2};
    TempDirectory directory;
    std::string image = directory.file("image.json");

    Agent& spawn() {
        agents.push_back(Agent::spawn(agentBinary));
        cgroup.add(agents.back().pid());
        return agents.back();
    }
    std::string pid() const { return std::to_string(agents.front().pid()); }
};

bool unifiedHierarchyUsable() { return access("/sys/fs/cgroup/unified/cgroup.procs", W_OK) == 0; }

bool inCgroupProcs(const std::string& directory, pid_t pid) {
    std::ifstream procs(directory + "/cgroup.procs");
    pid_t member;
    while (procs >> member)
        if (member == pid) return true;
    return false;
}

}  // namespace

TEST_CASE("cgroup v2: a container found through the unified hierarchy is frozen for dump and replayed") {
    REQUIRE_MESSAGE(unifiedHierarchyUsable(), "no writable cgroup v2 hierarchy at /sys/fs/cgroup/unified");
    UnifiedScene scene;
    Agent& agent = scene.spawn();
    lockcr::Container container = lockcr::discoverContainerOfPid(agent.pid());
    REQUIRE(container.cgroupVersion == lockcr::CgroupVersion::v2);
    CHECK(container.cgroupDirectory == scene.cgroup.path());

    std::string posixFile = scene.directory.file("posix"), flockFile = scene.directory.file("flock");
    int posixFd = openIn(agent, posixFile), flockFd = openIn(agent, flockFile);
    REQUIRE(agent.call("posix " + std::to_string(posixFd) + " w 0 100") == "ok");
    REQUIRE(agent.call("flock " + std::to_string(flockFd) + " ex") == "ok");
    CommandResult dump = runLockcr({"dump", "--pid", scene.pid(), "-o", scene.image});
    REQUIRE_MESSAGE(dump.status == 0, dump.err);
    CHECK(scene.cgroup.state() == "THAWED");  // the dump's freeze let go again

    REQUIRE(agent.call("posix " + std::to_string(posixFd) + " u 0 0") == "ok");
    REQUIRE(agent.call("flock " + std::to_string(flockFd) + " un") == "ok");
    REQUIRE(posixHolder(posixFile, F_WRLCK, 0, 100) == 0);
    CommandResult replay = runLockcr({"replay", scene.image, "--pid", scene.pid(), "--on-failure", "freeze"});
    REQUIRE_MESSAGE(replay.status == 0, replay.err);
    CHECK(posixHolder(posixFile, F_WRLCK, 0, 100) == agent.pid());
    CHECK(flockWouldBlock(flockFile, LOCK_SH));
    CHECK(scene.cgroup.state() == "THAWED");
    CHECK(agent.call("pid").rfind("ok", 0) == 0);  // it runs again
}

TEST_CASE("cgroup v2: a failed replay under on-failure freeze leaves the container frozen") {
    REQUIRE(unifiedHierarchyUsable());
    UnifiedScene scene;
    Agent& agent = scene.spawn();
    std::string file = scene.directory.file("posix");
    int fd = openIn(agent, file);
    REQUIRE(agent.call("posix " + std::to_string(fd) + " w 0 10") == "ok");
    CommandResult dump = runLockcr({"dump", "--pid", scene.pid(), "-o", scene.image});
    REQUIRE_MESSAGE(dump.status == 0, dump.err);
    REQUIRE(agent.call("posix " + std::to_string(fd) + " u 0 0") == "ok");
    Agent outsider = Agent::spawn(agentBinary);  // not in the cgroup: outside the container
    int outsideFd = openIn(outsider, file);
    REQUIRE(outsider.call("posix " + std::to_string(outsideFd) + " w 5 1") == "ok");

    CommandResult replay = runLockcr({"replay", scene.image, "--pid", scene.pid(), "--on-failure", "freeze"});
    CHECK(replay.status == 1);
    CHECK(replay.err.find("left frozen") != std::string::npos);
    CHECK(scene.cgroup.state() == "FROZEN");
    CHECK(posixHolder(file, F_WRLCK, 0, 1) == 0);  // nothing of the image was left set
    CHECK(posixHolder(file, F_WRLCK, 5, 1) == outsider.pid());
}

TEST_CASE("cgroup v2: pre-resume's hand-off moves CRIU's stand-in out before the freeze") {
    REQUIRE(unifiedHierarchyUsable());
    UnifiedScene scene;
    Agent& task = scene.spawn();
    Agent& standIn = scene.spawn();  // runc puts CRIU into the container's cgroups
    lockcr::Container container = lockcr::discoverContainerOfPid(task.pid());
    REQUIRE(container.cgroupVersion == lockcr::CgroupVersion::v2);

    CHECK(lockcr::moveOutOfCgroup(container.cgroupMount, container.cgroupDirectory, standIn.pid()));
    CHECK_FALSE(inCgroupProcs(scene.cgroup.path(), standIn.pid()));
    CHECK(inCgroupProcs(container.cgroupMount, standIn.pid()));
    // Not in the cgroup (any more): nothing to move, and nothing moved.
    CHECK_FALSE(lockcr::moveOutOfCgroup(container.cgroupMount, container.cgroupDirectory, standIn.pid()));

    lockcr::writeFreezeState(container.cgroupVersion, container.cgroupDirectory, true);
    lockcr::waitUntilFrozen(container.cgroupVersion, container.cgroupDirectory, std::chrono::seconds(10));
    CHECK(standIn.call("pid").rfind("ok", 0) == 0);  // the stand-in still answers
    task.send("pid");
    CHECK_FALSE(task.reply(300).has_value());  // the container's task does not
    lockcr::writeFreezeState(container.cgroupVersion, container.cgroupDirectory, false);
    CHECK(task.reply(10000).value_or("").rfind("ok", 0) == 0);
    standIn.stop();
}
