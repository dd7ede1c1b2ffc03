#include "util/files_in_root.h"

#include <fcntl.h>

#include "util/error.h"
#include "util/sys.h"

namespace lockcr {

int FilesInRoot::directoryOf(const std::string& path, std::string& name, int& error) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos || slash + 1 >= path.size())
        throwBadInput("\"" + path + "\" is not an absolute path to a file");
    name = path.substr(slash + 1);
    if (name == "." || name == "..") throwBadInput("\"" + path + "\" ends in " + name);
    std::string directory = slash == 0 ? "/" : path.substr(0, slash);
    auto kept = directories_.find(directory);
    if (kept != directories_.end()) return kept->second.get();
    try {
        UniqueFd fd = sys::openInRoot(rootFd_, directory, O_PATH | O_DIRECTORY);
        int raw = fd.get();
        directories_.emplace(directory, std::move(fd));
        return raw;
    } catch (const Error& failure) {
        if (failure.errnoValue() != ENOENT && failure.errnoValue() != ENOTDIR) throw;
        error = failure.errnoValue();
        return -1;
    }
}

UniqueFd FilesInRoot::openPath(const std::string& path, int& error) {
    std::string name;
    int directory = directoryOf(path, name, error);
    if (directory < 0) return UniqueFd();
    UniqueFd fd = sys::tryOpenAt(directory, name, O_PATH | O_NOFOLLOW, error);
    if (!fd && error != ENOENT && error != ENOTDIR) throwErrno("open " + path, error);
    return fd;
}

}  // namespace lockcr
