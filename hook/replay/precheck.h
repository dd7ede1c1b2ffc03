// The pre-check before a restore starts: for every lock of an image, is it held now by someone
// else? No container process exists yet, so files are opened inside the container's root
// (openat2 RESOLVE_IN_ROOT: a symlink can't lead out) and asked with F_OFD_GETLK; flocks and leases
// are invisible to F_GETLK and are matched in /proc/locks by device and inode.
#pragma once

#include <string>
#include <vector>

#include "discover/container.h"
#include "image/model.h"
#include "replay/outside_holders.h"

namespace lockcr {

struct PrecheckReport {
    std::vector<Conflict> conflicts;
    std::vector<std::string> unreachable;  // files that could not be checked, with why
};

// With CONTAINER (a restored one, at CRIU's post-restore), holders are named as inside or outside it.
PrecheckReport precheckImage(const LockImage& image, int rootDirectoryFd, const Container* container = nullptr);

}  // namespace lockcr
