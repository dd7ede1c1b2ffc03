#include "snapshot/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "snapshot/btrfs.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sys.h"

namespace lockcr {

namespace {

// A btrfs subvolume's root directory has inode 256 (BTRFS_FIRST_FREE_OBJECTID).
bool isSubvolumeRootAt(int dirFd, const std::string& name) {
    struct stat status {};
    if (::fstatat(dirFd, name.c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0 || status.st_ino != 256) return false;
    struct statfs filesystem {};
    return ::fstatfs(dirFd, &filesystem) == 0 && filesystem.f_type == BTRFS_SUPER_MAGIC;
}

void removeContents(int dirFd, const std::string& path) {
    std::vector<std::string> entries;
    int error = 0;
    if (!sys::tryListDirectory(dirFd, ".", entries, error)) throwErrno("list " + path, error);
    for (const std::string& entry : entries) {
        std::string child = path + "/" + entry;
        struct stat status {};
        if (::fstatat(dirFd, entry.c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0) throwErrno("stat " + child);
        if (S_ISDIR(status.st_mode)) {
            // A snapshot is read-only: it goes as a whole, never file by file.
            if (isSubvolumeRootAt(dirFd, entry)) {
                deleteBtrfsSubvolume(child);
                continue;
            }
            UniqueFd childFd = sys::openAt(dirFd, entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
            removeContents(childFd.get(), child);
        }
        if (::unlinkat(dirFd, entry.c_str(), S_ISDIR(status.st_mode) ? AT_REMOVEDIR : 0) != 0)
            throwErrno("remove " + child);
    }
}

struct StoredSnapshot {
    std::string checkpointId;
    int64_t createdSeconds = 0;
};

std::vector<StoredSnapshot> listStore(const std::string& store) {
    std::vector<std::string> names;
    int error = 0;
    if (!sys::tryListDirectory(AT_FDCWD, store, names, error)) {
        if (error == ENOENT) return {};
        throwErrno("list snapshot store " + store, error);
    }
    std::vector<StoredSnapshot> snapshots;
    for (const std::string& name : names) {
        struct stat status {};
        std::string path = store + "/" + name;
        if (::lstat(path.c_str(), &status) != 0 || !S_ISDIR(status.st_mode)) continue;
        StoredSnapshot snapshot{name, status.st_mtim.tv_sec};
        try {
            snapshot.createdSeconds = readSnapshotRecord(path + "/" + kSnapshotRecordFileName).createdSeconds;
        } catch (const Error&) {
            // Without its record (taken by a lockcr killed before commit), the directory's age counts.
        }
        snapshots.push_back(snapshot);
    }
    std::sort(snapshots.begin(), snapshots.end(), [](const StoredSnapshot& a, const StoredSnapshot& b) {
        return a.createdSeconds > b.createdSeconds;  // newest first
    });
    return snapshots;
}

// A btrfs snapshot kept outside the store is .lockcr-snapshots/ID-part-N/subvolume: its home goes
// with it. Anything else named in a record is removed as it is.
std::string externalHomeOf(const std::string& data, const std::string& checkpointId) {
    std::string home = data.substr(0, data.rfind('/'));
    std::string homes = home.substr(0, home.rfind('/'));
    bool ours = homes.ends_with("/.lockcr-snapshots") &&
                home.substr(homes.size() + 1).starts_with(checkpointId + "-part-");
    return ours ? home : data;
}

}  // namespace

PendingSnapshot::PendingSnapshot(const std::string& store, const std::string& checkpointId) {
    checkCheckpointId(checkpointId);
    if (store.empty() || store[0] != '/') throwBadInput("snapshot store \"" + store + "\": expected an absolute path");
    makePrivateDirectories(store);
    directory_ = store + "/" + checkpointId;
    if (::mkdir(directory_.c_str(), 0700) != 0) {
        if (errno == EEXIST)
            throwFailure("snapshot: " + directory_ + " already exists (checkpoint id taken; delete or prune it first)");
        throwErrno("snapshot: mkdir " + directory_);
    }
}

PendingSnapshot::~PendingSnapshot() {
    if (committed_) return;
    for (const std::string& path : adopted_) {
        try {
            removeSnapshotTree(path);
        } catch (const Error& error) {
            logError(std::string("snapshot: removing the half-taken snapshot: ") + error.what());
        }
    }
    try {
        removeSnapshotTree(directory_);
    } catch (const Error& error) {
        logError(std::string("snapshot: removing the half-taken snapshot: ") + error.what());
    }
}

void makePrivateDirectories(const std::string& path) {
    for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
        std::string prefix = path.substr(0, slash);
        if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) throwErrno("mkdir " + prefix);
        if (slash == std::string::npos) return;
    }
}

void removeSnapshotTree(const std::string& path) {
    struct stat status {};
    if (::lstat(path.c_str(), &status) != 0) {
        if (errno == ENOENT) return;
        throwErrno("stat " + path);
    }
    if (S_ISDIR(status.st_mode)) {
        if (status.st_ino == 256) {
            UniqueFd fd = sys::openAt(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
            if (isBtrfsSubvolumeRoot(fd.get())) {
                fd.reset();
                deleteBtrfsSubvolume(path);
                return;
            }
        }
        UniqueFd fd = sys::openAt(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        removeContents(fd.get(), path);
    }
    if (::remove(path.c_str()) != 0 && errno != ENOENT) throwErrno("remove " + path);
}

void deleteSnapshot(const std::string& store, const std::string& checkpointId) {
    checkCheckpointId(checkpointId);
    std::string directory = store + "/" + checkpointId;
    struct stat status {};
    if (::lstat(directory.c_str(), &status) != 0) throwErrno("snapshot delete: " + directory);
    try {
        SnapshotRecord record = readSnapshotRecord(directory + "/" + kSnapshotRecordFileName);
        for (const SnapshotPart& part : record.parts)
            if (!part.data.empty() && !part.data.starts_with(directory + "/"))
                removeSnapshotTree(externalHomeOf(part.data, checkpointId));
    } catch (const Error& error) {
        logWarning(std::string("snapshot delete: ") + error.what() + " (removing " + directory + " only)");
    }
    removeSnapshotTree(directory);
}

std::vector<std::string> pruneSnapshots(const std::string& store, const PruneRule& rule) {
    std::vector<std::string> removed;
    int64_t now = static_cast<int64_t>(std::time(nullptr));
    std::vector<StoredSnapshot> snapshots = listStore(store);
    for (size_t i = 0; i < snapshots.size(); ++i) {
        const StoredSnapshot& snapshot = snapshots[i];
        bool old = rule.olderThan && now - snapshot.createdSeconds > rule.olderThan->count();
        bool beyondKept = rule.keepNewest && i >= *rule.keepNewest;
        bool named = rule.checkpointId && *rule.checkpointId == snapshot.checkpointId;
        if (!old && !beyondKept && !named) continue;
        deleteSnapshot(store, snapshot.checkpointId);
        removed.push_back(snapshot.checkpointId);
    }
    if (rule.checkpointId && std::find(removed.begin(), removed.end(), *rule.checkpointId) == removed.end())
        throwFailure("snapshot prune: no checkpoint " + *rule.checkpointId + " in " + store);
    return removed;
}

}  // namespace lockcr
