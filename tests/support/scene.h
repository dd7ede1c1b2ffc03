// A test "container": a freezer cgroup of its own holding lockagent processes, and a directory
// for their files. Everything it made goes when it does: the cgroup thaws and its members are
// killed before the agents are reaped (a frozen process can't be), then the directory is removed.
#pragma once

#include <deque>
#include <string>

#include "agent.h"
#include "temp_directory.h"
#include "test_cgroup.h"

namespace lockcr::test {

inline const std::string agentBinary = LOCKCR_WORKLOAD_DIR "/lockagent";

struct Scene {
    explicit Scene(TestCgroup::Version version = TestCgroup::Version::v1) : cgroup(version) {}

    std::deque<Agent> agents;  // push_back keeps references valid; destroyed after the cgroup
    TestCgroup cgroup;
    TempDirectory directory;

    Agent& spawn() {
        agents.push_back(Agent::spawn(agentBinary));
        cgroup.add(agents.back().pid());
        return agents.back();
    }
    std::string pid() const { return std::to_string(agents.front().pid()); }
};

inline int openIn(Agent& agent, const std::string& path, const std::string& mode = "rw") {
    return static_cast<int>(agent.callForNumber("open " + path + " " + mode));
}

}  // namespace lockcr::test
