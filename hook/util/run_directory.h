// Where lockcr keeps what lives between two of its processes (the OCI hook's registrations, the
// CRIU actions' restores in progress): /run/lockcr, or $LOCKCR_RUN_DIR (an absolute path).
#pragma once

#include <string>

namespace lockcr {

std::string runDirectory();

}  // namespace lockcr
