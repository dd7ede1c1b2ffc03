#include "util/trusted_file.h"

#include <unistd.h>

#include <cstdio>

#include "util/error.h"

namespace lockcr {

void refuseUntrustedFile(const struct stat& status, const std::string& what) {
    if (status.st_mode & S_IWOTH) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(status.st_mode & 07777));
        throwBadInput(what + ": writable by anyone (mode " + mode + "): refused");
    }
    if (status.st_uid != 0 && status.st_uid != ::geteuid())
        throwBadInput(what + ": owned by uid " + std::to_string(status.st_uid) + ", not root: refused");
}

}  // namespace lockcr
