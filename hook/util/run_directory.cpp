#include "util/run_directory.h"

#include <cstdlib>

namespace lockcr {

std::string runDirectory() {
    const char* directory = std::getenv("LOCKCR_RUN_DIR");
    return directory && *directory == '/' ? directory : "/run/lockcr";
}

}  // namespace lockcr
