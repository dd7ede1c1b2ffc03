// lockcr runs as root next to untrusted container content: each command keeps only the
// capabilities it uses (libcap-ng), in the effective, permitted and bounding sets.
#pragma once

#include <initializer_list>

namespace lockcr {

// Keeps exactly these (linux/capability.h numbers). No-op when not running as root with caps.
void keepOnlyCapabilities(std::initializer_list<int> capabilities);

}  // namespace lockcr
