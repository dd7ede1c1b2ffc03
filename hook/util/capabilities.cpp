#include "util/capabilities.h"

#include <cap-ng.h>

#include "util/error.h"

namespace lockcr {

void keepOnlyCapabilities(std::initializer_list<int> capabilities) {
    capng_get_caps_process();
    if (capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE) return;
    bool canShrinkBounding = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
    capng_clear(canShrinkBounding ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS);
    for (int capability : capabilities)
        if (capng_update(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET),
                         static_cast<unsigned>(capability)) != 0)
            throwFailure("capabilities: cannot keep capability " + std::to_string(capability));
    if (capng_apply(canShrinkBounding ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS) != 0)
        throwFailure("capabilities: cannot drop the capabilities lockcr does not need");
}

}  // namespace lockcr
