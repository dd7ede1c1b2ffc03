#include "util/fault.h"

#include <signal.h>

#include <cstdlib>
#include <chrono>
#include <cstring>
#include <string_view>
#include <thread>

namespace lockcr {

void faultPoint(const char* name) {
    const char* wanted = std::getenv("LOCKCR_FAULT");
    if (!wanted) return;
    std::string_view fault = wanted;
    if (fault == name) ::raise(SIGKILL);
    if (!fault.starts_with(name)) return;
    std::string_view mode = fault.substr(std::strlen(name));
    if (mode == ":pause") std::this_thread::sleep_for(std::chrono::seconds(3));
    // SIGSTOP stops the whole process, whichever thread raises it; SIGCONT goes on from here.
    if (mode == ":stop") ::raise(SIGSTOP);
}

}  // namespace lockcr
