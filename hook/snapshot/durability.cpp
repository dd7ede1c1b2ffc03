#include "snapshot/durability.h"

#include <fcntl.h>
#include <unistd.h>

#include "util/error.h"
#include "util/sys.h"

namespace lockcr {

void Durability::fileCopied(int fd, const std::string& name) {
    if (++copies_ > kFsyncEach) return;
    if (::fsync(fd) != 0) throwErrno("fsync " + name);
}

void Durability::treeCopied() { copies_ = kFsyncEach + 1; }

void Durability::directoryFilled(const std::string& directory) { directories_.push_back(directory); }

void Durability::finish(const std::string& anyPathOnTheFilesystem) {
    if (copies_ > kFsyncEach) {
        UniqueFd fd = sys::openAt(AT_FDCWD, anyPathOnTheFilesystem, O_RDONLY | O_DIRECTORY);
        if (::syncfs(fd.get()) != 0) throwErrno("syncfs " + anyPathOnTheFilesystem);
        return;
    }
    for (const std::string& directory : directories_) {
        UniqueFd fd = sys::openAt(AT_FDCWD, directory, O_RDONLY | O_DIRECTORY);
        if (::fsync(fd.get()) != 0) throwErrno("fsync " + directory);
    }
}

}  // namespace lockcr
