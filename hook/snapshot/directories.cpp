#include "snapshot/directories.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "util/error.h"
#include "util/log.h"
#include "util/sys.h"

namespace lockcr {

namespace {

// "" for "/": the prefix every path of the part starts with.
std::string prefixOf(const SnapshotPart& part) { return part.mountPoint == "/" ? "" : part.mountPoint; }

// PATH is strictly below PREFIX ("" for "/"): "/vol/a" is below "/vol", "/vol" and "/" are not.
bool isBelow(const std::string& path, const std::string& prefix) {
    return path.size() > prefix.size() + 1 && path.compare(0, prefix.size(), prefix) == 0 &&
           path[prefix.size()] == '/';
}

const SnapshotDirectory* recordedDirectory(const SnapshotPart& part, const std::string& path) {
    auto found = std::find_if(part.directories.begin(), part.directories.end(),
                              [&](const SnapshotDirectory& directory) { return directory.path == path; });
    return found == part.directories.end() ? nullptr : &*found;
}

std::string octal(uint32_t mode) {
    char text[16];
    std::snprintf(text, sizeof text, "%04o", mode & 07777);
    return text;
}

// NAME made in PARENT_FD as the directory PATH: its recorded mode and owner, or the parent's owner.
UniqueFd makeDirectory(int parentFd, const std::string& name, const std::string& path,
                       const SnapshotDirectory* recorded, std::vector<std::string>& made) {
    SnapshotDirectory wanted{path, 0755, 0, 0};
    if (recorded) {
        wanted = *recorded;
    } else {
        struct stat parent {};
        if (::fstat(parentFd, &parent) != 0) throwErrno("rollback: stat the parent of " + path);
        wanted.uid = parent.st_uid;
        wanted.gid = parent.st_gid;
    }
    // 0700 until its owner and mode are set: nobody else gets in between.
    if (::mkdirat(parentFd, name.c_str(), 0700) != 0) throwErrno("rollback: make the directory " + path);
    UniqueFd directory = sys::openAt(parentFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    // Owner first: chown may clear set-id bits that the mode then sets.
    if (::fchown(directory.get(), wanted.uid, wanted.gid) != 0) throwErrno("rollback: chown " + path);
    if (::fchmod(directory.get(), wanted.mode & 07777) != 0) throwErrno("rollback: chmod " + path);
    made.push_back(path + " (" + octal(wanted.mode) + ", " + std::to_string(wanted.uid) + ":" +
                   std::to_string(wanted.gid) + (recorded ? "" : ", not recorded: its parent's owner") + ")");
    logInfo("snapshot rollback: made the directory " + made.back());
    return directory;
}

}  // namespace

void recordParentDirectories(int rootFd, SnapshotPart& part) {
    std::string prefix = prefixOf(part);
    std::set<std::string> parents;
    for (const SnapshotFile& file : part.files)
        for (size_t slash = file.path.rfind('/'); slash != std::string::npos && slash > prefix.size();
             slash = file.path.rfind('/', slash - 1)) {
            std::string parent = file.path.substr(0, slash);
            if (!isBelow(parent, prefix) || !parents.insert(parent).second) break;  // its parents are in already
        }
    part.directories.clear();
    for (const std::string& path : parents) {  // sorted: a parent comes before what it holds
        UniqueFd fd = sys::openInRoot(rootFd, path, O_PATH | O_NOFOLLOW);
        struct stat status {};
        int error = 0;
        if (!sys::tryStatFd(fd.get(), status, error)) throwErrno("stat " + path, error);
        if (!S_ISDIR(status.st_mode)) continue;
        part.directories.push_back({path, static_cast<uint32_t>(status.st_mode & 07777), status.st_uid, status.st_gid});
    }
}

UniqueFd openOrRecreateDirectory(int rootFd, const SnapshotPart& part, const std::string& path,
                                 std::vector<std::string>& made) {
    std::string prefix = prefixOf(part);
    if (!isBelow(path, prefix)) return sys::openInRoot(rootFd, path.empty() ? "/" : path, O_PATH | O_DIRECTORY);
    UniqueFd current = sys::openInRoot(rootFd, part.mountPoint, O_PATH | O_DIRECTORY);
    std::string sofar = prefix;
    for (size_t start = prefix.size() + 1; start <= path.size();) {
        size_t end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        std::string name = path.substr(start, end - start);
        sofar += "/" + name;
        start = end + 1;
        const SnapshotDirectory* recorded = recordedDirectory(part, sofar);
        int error = 0;
        // Component by component, never following a symlink: what is made is made inside the root.
        UniqueFd next = sys::tryOpenAt(current.get(), name, O_PATH | O_DIRECTORY | O_NOFOLLOW, error);
        if (!next && (error == ENOTDIR || error == ELOOP)) {
            if (!recorded) {
                // Not a directory of the record (an older record): resolved inside the root as before.
                next = sys::openInRoot(rootFd, sofar, O_PATH | O_DIRECTORY);
            } else {
                if (::unlinkat(current.get(), name.c_str(), 0) != 0)
                    throwErrno("rollback: remove what replaced the directory " + sofar);
                error = ENOENT;
            }
        }
        if (!next && error == ENOENT) next = makeDirectory(current.get(), name, sofar, recorded, made);
        if (!next) throwErrno("rollback: open the directory " + sofar + " inside the container root", error);
        current = std::move(next);
    }
    return current;
}

}  // namespace lockcr
