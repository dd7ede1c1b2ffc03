// /proc/PID/status (hook/discover/proc_status.cpp): its Name line is the container's to choose.
#include "discover/proc_status.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lockcr;
    fuzz::expectOnlyLockcrErrors([&] { parseProcStatus(fuzz::textOf(data, size)); });
    return 0;
}
