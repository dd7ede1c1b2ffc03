// OCI state JSON (hook/discover/state.cpp): what a runtime hands the OCI hook on stdin.
#include "discover/state.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lockcr;
    for (StatePid pid : {StatePid::required, StatePid::mayBeZero})
        fuzz::expectOnlyLockcrErrors([&] {
            OciState state = parseOciState(fuzz::textOf(data, size), pid);
            fuzz::require(!state.id.empty(), "OCI state: an accepted state has an id");
            fuzz::require(pid == StatePid::mayBeZero || (state.pid >= 1 && state.pid <= 4194304),
                          "OCI state: an accepted pid is in 1..4194304");
        });
    return 0;
}
