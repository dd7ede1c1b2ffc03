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

bool FilesInRoot::status(const std::string& path, struct stat& status, int& error) {
    std::string name;
    int directory = directoryOf(path, name, error);
    if (directory < 0) return false;
    if (::fstatat(directory, name.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0) return true;
    if (errno != ENOENT && errno != ENOTDIR) throwErrno("stat " + path);
    error = errno;
    return false;
}

UniqueFd FilesInRoot::openForReading(const std::string& path) {
    std::string name;
    int error = 0;
    int directory = directoryOf(path, name, error);
    if (directory < 0) throwErrno("open " + path, error);
    return sys::openAt(directory, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
}

}  // namespace lockcr
