// /proc/PID/mountinfo of a container (hook/snapshot/mountinfo.cpp): the container's mounts decide
// what the snapshot stage takes and where. Property: only lockcr's Error escapes, and every mount
// the parser accepts can be classified (writableContainerMounts) without failing otherwise.
#include "fuzz_common.h"
#include "snapshot/mountinfo.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lockcr;
    fuzz::expectOnlyLockcrErrors([&] {
        std::vector<MountInfoEntry> mounts = parseMountInfo(fuzz::textOf(data, size));
        for (const MountInfoEntry& mount : mounts)
            fuzz::require(!mount.mountPoint.empty() && mount.mountPoint.front() == '/',
                          "mountinfo: a mount point is absolute");
        (void)writableContainerMounts(mounts);
    });
    return 0;
}
