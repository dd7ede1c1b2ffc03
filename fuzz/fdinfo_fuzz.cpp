// /proc/PID/fdinfo/FD (hook/collect/fdinfo.cpp), read from a container's process.
#include "collect/fdinfo.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lockcr;
    fuzz::expectOnlyLockcrErrors([&] {
        FdInfo info = parseFdInfo(fuzz::textOf(data, size));
        for (const LockLine& lock : info.locks) fuzz::require(lock.blockedLevel == 0, "fdinfo: only held locks");
    });
    return 0;
}
