#include "util/capabilities.h"

#include <cap-ng.h>

#include <vector>

#include "util/error.h"
#include "util/fault.h"

namespace lockcr {

void keepOnlyCapabilities(std::initializer_list<int> capabilities) {
    capng_get_caps_process();
    if (capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE) return;
    bool canShrinkBounding = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
    // Only what this process holds can be kept: in a container started with fewer capabilities
    // (podman's default set has no CAP_DAC_READ_SEARCH) asking for more failed the whole command;
    // an operation that needs a missing one fails on its own, naming its object, with EPERM.
    std::vector<int> held;
    for (int capability : capabilities)
        if (capng_have_capability(CAPNG_PERMITTED, static_cast<unsigned>(capability))) held.push_back(capability);
    capng_clear(canShrinkBounding ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS);
    for (int capability : held)
        if (capng_update(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET),
                         static_cast<unsigned>(capability)) != 0)
            throwFailure("capabilities: cannot keep capability " + std::to_string(capability));
    if (capng_apply(canShrinkBounding ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS) != 0)
        throwFailure("capabilities: cannot drop the capabilities lockcr does not need");
    faultPoint("capabilities-kept");  // a test reads CapEff here (tests/integration/privilege_test.cpp)
}

}  // namespace lockcr
