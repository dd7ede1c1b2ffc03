// /proc/PID/stat start time (hook/criu/restore_state.cpp): field 2 (comm) is the process's to
// choose and may hold spaces and parentheses.
#include <string>

#include "criu/restore_state.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lockcr;
    fuzz::expectOnlyLockcrErrors([&] { startTimeFromStat(std::string(fuzz::textOf(data, size))); });
    return 0;
}
