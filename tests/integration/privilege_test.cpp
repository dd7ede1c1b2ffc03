// Least privilege (issue 15 item 5): each face of lockcr keeps only the capabilities it uses. lockcr
// stops itself right after dropping them (LOCKCR_FAULT=capabilities-kept:stop) and the kernel's
// CapEff and CapBnd of the stopped process are read: kernel truth, not what lockcr says it kept.
#include <linux/capability.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <string>

#include "run_lockcr.h"

using namespace lockcr::test;

namespace {

uint64_t maskOf(std::initializer_list<int> capabilities) {
    uint64_t mask = 0;
    for (int capability : capabilities) mask |= uint64_t{1} << capability;
    return mask;
}

// The hexadecimal value of FIELD ("CapEff") in /proc/PID/status.
uint64_t capabilityField(pid_t pid, const std::string& field) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with(field + ":")) return std::strtoull(line.c_str() + field.size() + 1, nullptr, 16);
    FAIL("no " << field << " in /proc/" << pid << "/status");
    return 0;
}

struct Kept {
    uint64_t effective = 0;
    uint64_t bounding = 0;
};

// lockcr ARGS with ENV, stopped once it dropped its capabilities: what it kept.
Kept capabilitiesKept(const std::vector<std::string>& args, std::vector<std::string> env = {}) {
    env.push_back("LOCKCR_FAULT=capabilities-kept:stop");
    env.push_back("LOCKCR_CONFIG=/nonexistent/lockcr.yaml");  // the defaults
    LockcrProcess lockcr(args, {"", env});
    REQUIRE_MESSAGE(lockcr.waitUntilStopped(), "lockcr did not stop after dropping its capabilities");
    Kept kept{capabilityField(lockcr.pid(), "CapEff"), capabilityField(lockcr.pid(), "CapBnd")};
    lockcr.resume();
    lockcr.finish();
    return kept;
}

}  // namespace

TEST_CASE("each face of lockcr keeps only the capabilities it uses (CapEff of the running process)") {
    REQUIRE(geteuid() == 0);
    const uint64_t lookAtProcesses = maskOf({CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH});
    struct Face {
        const char* what;
        std::vector<std::string> args;
        std::vector<std::string> env;
        uint64_t allowed;
    };
    const Face faces[] = {
        {"inspect", {"inspect", "--pid", "1"}, {}, lookAtProcesses},
        {"dump", {"dump", "--pid", "1", "-o", "/nonexistent/image.json"}, {}, lookAtProcesses},
        {"verify", {"verify", "/nonexistent/image.json", "--pid", "1"}, {}, lookAtProcesses},
        {"replay",
         {"replay", "/nonexistent/image.json", "--pid", "1"},
         {},
         maskOf({CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_LEASE, CAP_FOWNER, CAP_KILL})},
        {"OCI hook", {"oci-hook", "poststop"}, {}, maskOf({CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH})},
        {"CRIU action",
         {},
         {"CRTOOLS_SCRIPT_ACTION=post-dump"},
         maskOf({CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_LEASE, CAP_FOWNER, CAP_KILL, CAP_CHOWN,
                 CAP_SYS_ADMIN})},
        {"show", {"show", "/nonexistent"}, {}, maskOf({CAP_DAC_READ_SEARCH})},
    };
    for (const Face& face : faces) {
        CAPTURE(face.what);
        Kept kept = capabilitiesKept(face.args, face.env);
        CHECK(kept.effective != 0);                           // it kept what it needs (lockcr runs as root here)
        CHECK((kept.effective & ~face.allowed) == 0);         // and nothing else
        CHECK((kept.bounding & ~face.allowed) == 0);          // nor can it get anything back
        CHECK((kept.effective & maskOf({CAP_SYS_MODULE, CAP_NET_ADMIN, CAP_SETUID, CAP_SYS_RAWIO})) == 0);
    }
}
