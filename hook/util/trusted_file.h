// The files a checkpoint carries decide what lockcr, as root, does to a container: which locks it
// sets on which files and processes, which bytes a rollback writes back. One that anybody but root
// (or the user lockcr runs as) could have written is refused before it is read.
#pragma once

#include <sys/stat.h>

#include <string>

namespace lockcr {

// Throws Error(badInput) "WHAT: writable by anyone (mode 0666): refused" or "WHAT: owned by uid
// 1000, not root: refused" for STATUS of a file about to be trusted.
void refuseUntrustedFile(const struct stat& status, const std::string& what);

}  // namespace lockcr
