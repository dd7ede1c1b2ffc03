#include "image/host.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <ctime>

#include "util/sys.h"

namespace lockcr {

void stampImage(LockImage& image) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    tm utc{};
    gmtime_r(&now.tv_sec, &utc);
    char text[64];
    strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    char fraction[32];
    snprintf(fraction, sizeof fraction, ".%06ldZ", now.tv_nsec / 1000);
    image.createdAt = std::string(text) + fraction;
    image.tool = std::string("lockcr ") + LOCKCR_VERSION;

    char hostname[256] = {};
    ::gethostname(hostname, sizeof hostname - 1);
    image.host.hostname = hostname;
    utsname names{};
    if (::uname(&names) == 0) image.host.kernelRelease = names.release;
    std::string bootId;
    int err = 0;
    if (sys::tryReadFileAt(AT_FDCWD, "/proc/sys/kernel/random/boot_id", bootId, err)) {
        while (!bootId.empty() && bootId.back() == '\n') bootId.pop_back();
        image.host.bootId = bootId;
    }
}

}  // namespace lockcr
