#include "snapshot/overlay.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "snapshot/file_copy.h"
#include "util/error.h"
#include "util/sys.h"

namespace lockcr {

std::string copyUpperLayer(const std::string& upperDirectory, const std::string& partDirectory) {
    std::string copy = partDirectory + "/upper";
    UniqueFd from = sys::openAt(AT_FDCWD, upperDirectory, O_RDONLY | O_DIRECTORY);
    struct stat status {};
    if (::fstat(from.get(), &status) != 0) throwErrno("stat " + upperDirectory);
    if (::mkdir(copy.c_str(), 0700) != 0) throwErrno("mkdir " + copy);
    UniqueFd to = sys::openAt(AT_FDCWD, copy, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    try {
        copyTree(from.get(), to.get(), upperDirectory);
        applyMetadata(to.get(), status, copy);
    } catch (const Error& error) {
        throw error.within("overlay: copy of upper layer " + upperDirectory);
    }
    return copy;
}

}  // namespace lockcr
