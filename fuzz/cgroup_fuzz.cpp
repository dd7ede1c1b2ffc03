// /proc/PID/cgroup (hook/discover/cgroup_file.cpp); cgroup paths are named by the container's runtime
// and, inside a delegated hierarchy, by the container itself.
#include "discover/cgroup_file.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lockcr;
    fuzz::expectOnlyLockcrErrors([&] {
        auto memberships = parseProcCgroup(fuzz::textOf(data, size));
        fuzz::require(!memberships.empty(), "cgroup: an accepted file has a line");
        for (const auto& path : {freezerPathV1(memberships), unifiedPath(memberships)})
            fuzz::require(!path || path->starts_with('/'), "cgroup: paths start with '/'");
    });
    return 0;
}
