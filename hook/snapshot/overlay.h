// The overlay backend: a copy of the container's upper layer (what it wrote over its image), with
// whiteouts and opaque directories, taken while the container is frozen. The copy is only ever
// read back through the container's mounted root: writing into an upper layer under a mounted
// overlay is undefined (Documentation/filesystems/overlayfs.rst, "Changes to underlying filesystems").
#pragma once

#include <string>

namespace lockcr {

// UPPER_DIRECTORY (a host path, from the overlay's upperdir= option) into PART_DIRECTORY/upper.
// Returns the copy's path.
std::string copyUpperLayer(const std::string& upperDirectory, const std::string& partDirectory);

}  // namespace lockcr
