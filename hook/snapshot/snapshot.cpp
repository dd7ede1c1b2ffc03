#include "snapshot/snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/sysmacros.h>

#include <ctime>
#include <map>
#include <optional>
#include <set>

#include "collect/fdinfo.h"
#include "collect/proc_locks.h"
#include "snapshot/btrfs.h"
#include "snapshot/durability.h"
#include "snapshot/directories.h"
#include "snapshot/file_copy.h"
#include "util/files_in_root.h"
#include "snapshot/manifest.h"
#include "snapshot/overlay.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sys.h"

namespace lockcr {

namespace {

using FileKey = std::pair<uint64_t, uint64_t>;  // st_dev, st_ino

// Whether opening a file for reading would start breaking a lease on it. An open for reading breaks
// only a write lease (fs/locks.c: leases_conflict), and the kernel grants a write lease only while
// no other description has the file open for reading or writing (check_conflicting_open): so on a
// file a container process has open (not O_PATH), the only write lease can be on that process's own
// description, and its fdinfo shows it. Asking that fd needs no /proc/locks, which is read a page
// per read() with the host's whole lock list walked from its start for each page: a second and
// more on a host holding 40,000 locks. /proc/locks is read, once, only for a file no container
// process has open (a whole volume's files) or has open through O_PATH alone.
class LeasedFiles {
public:
    bool breakableByReading(const struct stat& status, const OpenFile* holder) {
        if (holder) {
            std::string text;
            int error = 0;
            std::string fdinfo = "/proc/" + std::to_string(holder->pid) + "/fdinfo/" + std::to_string(holder->fd);
            std::optional<FdInfo> info;
            if (sys::tryReadFileAt(AT_FDCWD, fdinfo, text, error)) {
                try {
                    info = parseFdInfo(text);
                } catch (const Error&) {  // not what a regular file's fdinfo says: ask /proc/locks
                }
            }
            if (info && (info->flags & O_PATH) == 0 && info->inode == status.st_ino) {  // not a name swapped since
                for (const LockLine& line : info->locks)
                    if (line.lock.kind == LockKind::lease) return true;
                return false;
            }
        }
        if (!leased_) {
            leased_.emplace();
            for (const LockLine& line : parseProcLocks(sys::readFile("/proc/locks")).held)
                if (line.lock.kind == LockKind::lease && line.hasInode)
                    leased_->emplace(makedev(line.device.major, line.device.minor), line.inode);
        }
        return leased_->contains({status.st_dev, status.st_ino});
    }

private:
    std::optional<std::set<FileKey>> leased_;
};


// What one part is taken from, and where it goes.
struct PartContext {
    int rootFd;  // the container's root
    FilesInRoot& files;  // looked up inside it
    const ContainerMount& mount;
    std::string directory;  // STORE/ID/part-N
    const std::string& checkpointId;
    size_t index;
    const std::vector<MountInfoEntry>& hostMounts;
    PendingSnapshot& pending;
    LeasedFiles& leased;                             // whether an open for reading breaks a lease
    Durability& durability;
    const std::map<std::string, OpenFile>& holders;  // a container process's fd of each open path
};

// The file at PATH, open for reading its bytes without touching a lease: an open starts breaking
// a lease on the file (a non-blocking one signals the lease's owner at once, a blocking one waits
// lease-break-time), so a leased file is read through a duplicate of a container process's own fd
// (pidfd_getfd: no open), which the digest and the copy read with pread and copy_file_range at
// explicit offsets, leaving that description's file offset as it is. Null when PATH is not a
// regular file (a directory or device node is never opened for reading), is empty (nothing to
// read or copy), or is leased with no container process having it open for reading: its
// metadata is recorded without its bytes.
UniqueFd readableWithoutBreakingLeases(const PartContext& context, const std::string& path, struct stat& status) {
    int error = 0;
    UniqueFd pathFd = context.files.openPath(path, error);
    if (!pathFd) throwErrno("stat " + path, error);
    if (!sys::tryStatFd(pathFd.get(), status, error)) throwErrno("stat " + path, error);
    if (!S_ISREG(status.st_mode) || status.st_size == 0) return UniqueFd();  // never opened: no bytes to read
    auto holder = context.holders.find(path);
    if (!context.leased.breakableByReading(status, holder == context.holders.end() ? nullptr : &holder->second))
        return sys::reopen(pathFd.get(), O_RDONLY | O_NONBLOCK, path);  // a name swapped meanwhile is never opened
    if (holder != context.holders.end()) {
        // A process's pid, or one of its threads when its leader exited (snapshotTargetOf).
        UniqueFd pidFd;
        try {
            pidFd = sys::pidfdOpen(holder->second.pid);
        } catch (const Error&) {
            pidFd = sys::pidfdOpenThread(holder->second.pid);
        }
        UniqueFd duplicate = sys::pidfdGetfd(pidFd.get(), holder->second.fd, holder->second.pid);
        if ((sys::fcntlInteger(duplicate.get(), F_GETFL, 0) & O_ACCMODE) != O_WRONLY) return duplicate;
    }
    return UniqueFd();
}

// A file that costs nothing to make and everything to read: over 1 GiB, less than an eighth of it
// allocated. Digesting it reads every hole as zeros (a 1 TiB one for minutes), and copying it
// outside a reflink writes the holes out as data until the store's disk is full: a container can
// plant one where the snapshot looks. Such a file is recorded by its metadata alone, as a leased
// one is; a dense file of any size is digested and copied, its size being real data.
bool isHugeAndSparse(const struct stat& status) {
    constexpr off_t kHuge = off_t{1} << 30;
    return status.st_size > kHuge && status.st_blocks * 512 < status.st_size / 8;
}

// Whether the fd through which a container process has PATH open is a regular file (its
// /proc/PID/fd link followed): asked only when the path no longer names one.
bool openedAsRegularFile(const PartContext& context, const std::string& path) {
    auto holder = context.holders.find(path);
    if (holder == context.holders.end()) return false;
    struct stat status {};
    std::string link = "/proc/" + std::to_string(holder->second.pid) + "/fd/" + std::to_string(holder->second.fd);
    return ::stat(link.c_str(), &status) == 0 && S_ISREG(status.st_mode);
}

const char* fileTypeName(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISLNK(mode)) return "a symlink";
    if (S_ISFIFO(mode)) return "a fifo";
    if (S_ISSOCK(mode)) return "a socket";
    return "a device node";
}

std::string relativeTo(const std::string& path, const std::string& mountPoint) {
    return mountPoint == "/" ? path.substr(1) : path.substr(mountPoint.size() + 1);
}

// The mount (of the whole table) a path inside the container is on: the longest mount point above it.
const MountInfoEntry* mountOfPath(const std::string& path, const std::vector<MountInfoEntry>& mounts) {
    const MountInfoEntry* best = nullptr;
    for (const MountInfoEntry& mount : mounts) {
        bool below = mount.mountPoint == "/" || path.starts_with(mount.mountPoint + "/");
        if (below && (!best || mount.mountPoint.size() >= best->mountPoint.size())) best = &mount;
    }
    return best;
}

// PART.files, described through the container's root; a copy of each one's bytes in files/N
// unless COPY_OF already gives one.
template <typename ExistingCopy>
void describeFiles(const PartContext& context, const std::vector<std::string>& paths, SnapshotPart& part,
                   ExistingCopy existingCopyOf) {
    std::string filesDirectory = context.directory + "/files";
    for (const std::string& path : paths) {
        UniqueFd fd;
        struct stat status {};
        try {
            fd = readableWithoutBreakingLeases(context, path, status);
        } catch (const Error& error) {
            // A task whose root is not the container's (a runtime helper joining it) shows paths
            // that mean nothing inside the root: they are not the container's files.
            if (error.errnoValue() != ENOENT) throw;
            logWarning("snapshot: " + path + " is open but not found inside the container root: not recorded");
            continue;
        }
        if (!fd) {
            if (!S_ISREG(status.st_mode)) {
                if (openedAsRegularFile(context, path))
                    throwFailure("snapshot: " + path + ": open as a regular file, but the path now names " +
                                 fileTypeName(status.st_mode));
                continue;  // a directory or device node the container has open: no bytes to record
            }
            if (status.st_size == 0) {  // its digest is known, and a rollback only has to truncate
                part.files.push_back(describeStatus(status, path, emptyFileDigest()));
                continue;
            }
            logWarning("snapshot: " + path +
                       " is leased and no container process has it open for reading: "
                       "recorded without its bytes (reading it would break the lease)");
            part.files.push_back(describeStatus(status, path, kNoDigest));
            continue;
        }
        if (isHugeAndSparse(status)) {
            logWarning("snapshot: " + path + " is a sparse file of " + std::to_string(status.st_size) + " bytes, " +
                       std::to_string(status.st_blocks * 512) +
                       " of them allocated: recorded without its bytes (its holes would be read and copied as data)");
            part.files.push_back(describeStatus(status, path, kNoDigest));
            continue;
        }
        SnapshotFile file = describeFile(fd.get(), path);
        file.copy = existingCopyOf(path);
        if (file.copy.empty()) {
            if (::mkdir(filesDirectory.c_str(), 0700) == 0) {
                context.durability.directoryFilled(filesDirectory);
                context.durability.directoryFilled(context.directory);
            } else if (errno != EEXIST) {
                throwErrno("mkdir " + filesDirectory);
            }
            file.copy = "files/" + std::to_string(part.files.size());
            std::string copyPath = context.directory + "/" + file.copy;
            UniqueFd copy = sys::openAt(AT_FDCWD, copyPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
            copyFileBytes(fd.get(), copy.get(), path);
            context.durability.fileCopied(copy.get(), copyPath);
        }
        part.files.push_back(std::move(file));
    }
}

// A read-only snapshot in the part's directory, or, when the store is on another filesystem,
// in .lockcr-snapshots/ beside the subvolume on the host.
std::string snapshotSubvolume(const PartContext& context, int mountFd, SnapshotPart& part) {
    UniqueFd partFd = sys::openAt(AT_FDCWD, context.directory, O_RDONLY | O_DIRECTORY);
    if (createReadOnlySnapshot(mountFd, partFd.get(), "subvolume", part.mountPoint))
        return context.directory + "/subvolume";
    std::string hostPath = pathInOtherTable(context.mount.mount, context.hostMounts);
    if (hostPath.empty() || hostPath == "/")
        throwFailure("btrfs: " + part.mountPoint +
                     ": the store is on another filesystem and the subvolume has no host path beside which to keep the "
                     "snapshot");
    std::string home = hostPath.substr(0, hostPath.rfind('/')) + "/.lockcr-snapshots/" + context.checkpointId +
                       "-part-" + std::to_string(context.index);
    makePrivateDirectories(home.substr(0, home.rfind('/')));
    if (::mkdir(home.c_str(), 0700) != 0) throwErrno("btrfs: mkdir " + home);
    context.pending.adopt(home);
    UniqueFd homeFd = sys::openAt(AT_FDCWD, home, O_RDONLY | O_DIRECTORY);
    if (!createReadOnlySnapshot(mountFd, homeFd.get(), "subvolume", part.mountPoint))
        throwErrno("btrfs: read-only snapshot of " + part.mountPoint + " into " + home);
    return home + "/subvolume";
}

SnapshotPart takePart(const PartContext& context, const std::vector<std::string>& openPaths, bool wholeVolumes) {
    const ContainerMount& mount = context.mount;
    SnapshotPart part;
    part.mountPoint = mount.mount.mountPoint;
    part.fsType = mount.mount.fsType;
    part.backend = mount.backend;
    part.source = pathInOtherTable(mount.mount, context.hostMounts);
    UniqueFd mountFd = sys::openInRoot(context.rootFd, part.mountPoint, O_RDONLY | O_DIRECTORY);
    if (part.backend == SnapshotBackend::btrfs && !isBtrfsSubvolumeRoot(mountFd.get())) {
        logInfo("snapshot: " + part.mountPoint + " is a directory inside a btrfs subvolume, not one: manifest");
        part.backend = SnapshotBackend::manifest;
    }
    if (::mkdir(context.directory.c_str(), 0700) != 0) throwErrno("mkdir " + context.directory);
    auto noCopy = [](const std::string&) { return std::string(); };
    switch (part.backend) {
        case SnapshotBackend::btrfs: {
            part.subvolumeId = btrfsSubvolumeId(mountFd.get(), part.mountPoint);
            part.data = snapshotSubvolume(context, mountFd.get(), part);
            describeFiles(context, openPaths, part,
                          [&](const std::string& path) { return relativeTo(path, part.mountPoint); });
            break;
        }
        case SnapshotBackend::overlay: {
            part.source = mount.upperDirectory;
            copyUpperLayer(mount.upperDirectory, context.directory);
            context.durability.treeCopied();
            part.data = context.directory;
            describeFiles(context, openPaths, part, [&](const std::string& path) {
                // A file the container wrote is in the upper layer; one it only read is in a lower
                // (read-only) layer and gets a copy of its own.
                std::string inUpper = "upper/" + relativeTo(path, part.mountPoint);
                struct stat status {};
                bool present = ::lstat((context.directory + "/" + inUpper).c_str(), &status) == 0 &&
                               S_ISREG(status.st_mode);
                return present ? inUpper : std::string();
            });
            break;
        }
        case SnapshotBackend::manifest: {
            part.data = context.directory;
            part.wholeVolume = wholeVolumes;
            describeFiles(context, wholeVolumes ? regularFilesBelow(context.rootFd, part.mountPoint) : openPaths, part,
                          noCopy);
            break;
        }
    }
    return part;
}

bool dataPresent(const SnapshotRecord& record) {
    for (const SnapshotPart& part : record.parts) {
        struct stat status {};
        if (!part.data.empty() && ::stat(part.data.c_str(), &status) != 0) return false;
    }
    return true;
}

}  // namespace

SnapshotTarget snapshotTargetOf(const Container& container) {
    SnapshotTarget target{container.identity.initHostPid, {}};
    for (const ContainerTask& task : container.tasks)
        target.tasks.push_back(task.filesThread ? task.filesThread : task.hostPid);
    if (target.tasks.empty()) target.tasks.push_back(target.initPid);
    return target;
}

std::string defaultCheckpointId(pid_t initPid) {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    return "pid-" + std::to_string(initPid) + "-" + stamp;
}

SnapshotRecord createSnapshot(const SnapshotTarget& target, const SnapshotOptions& options, std::string* recordText) {
    std::string proc = "/proc/" + std::to_string(target.initPid);
    std::vector<MountInfoEntry> containerMounts, hostMounts;
    try {
        containerMounts = parseMountInfo(sys::readFile(proc + "/mountinfo"));
        hostMounts = parseMountInfo(sys::readFile("/proc/self/mountinfo"));
    } catch (const Error& error) {
        throw error.within("snapshot: pid " + std::to_string(target.initPid));
    }
    std::vector<ContainerMount> mounts = writableContainerMounts(containerMounts);
    UniqueFd rootFd = sys::openAt(AT_FDCWD, proc + "/root", O_PATH | O_DIRECTORY);
    std::vector<OpenFile> openFiles = openRegularFiles(target.tasks);
    std::map<std::string, OpenFile> holders;
    for (const OpenFile& file : openFiles) holders.emplace(file.path, file);
    LeasedFiles leased;
    FilesInRoot files(rootFd.get());
    Durability durability;

    SnapshotRecord record;
    record.checkpointId = options.checkpointId.empty() ? defaultCheckpointId(target.initPid) : options.checkpointId;
    record.createdSeconds = static_cast<int64_t>(std::time(nullptr));
    char hostname[256] = {};
    (void)::gethostname(hostname, sizeof hostname - 1);
    record.hostname = hostname;
    record.initPid = target.initPid;
    PendingSnapshot pending(options.store, record.checkpointId);
    record.store = pending.directory();
    try {
        for (size_t i = 0; i < mounts.size(); ++i) {
            std::vector<std::string> openPaths;
            for (const OpenFile& file : openFiles)
                if (const MountInfoEntry* on = mountOfPath(file.path, containerMounts);
                    on && on->mountId == mounts[i].mount.mountId)
                    openPaths.push_back(file.path);
            PartContext context{rootFd.get(),
                                files,
                                mounts[i],
                                pending.directory() + "/part-" + std::to_string(i),
                                record.checkpointId,
                                i,
                                hostMounts,
                                pending,
                                leased,
                                durability,
                                holders};
            try {
                record.parts.push_back(takePart(context, openPaths, options.wholeVolumes));
                recordParentDirectories(rootFd.get(), record.parts.back());
            } catch (const Error& error) {
                if (error.errnoValue() != ENOTDIR) throw error.within(mounts[i].mount.mountPoint);
                logInfo("snapshot: " + mounts[i].mount.mountPoint + " is a file bind mount: skipped");
            }
        }
        durability.finish(pending.directory());
        std::string text = snapshotRecordToText(record);
        writeSnapshotRecordText(pending.directory(), text);
        if (recordText) *recordText = std::move(text);
    } catch (const Error& error) {
        throw error.within("snapshot " + record.checkpointId + " (the half-taken snapshot is removed)");
    }
    pending.commit();
    return record;
}

SnapshotRecord takeSnapshot(const SnapshotTarget& target, const SnapshotOptions& options,
                            const std::string& recordDirectory) {
    std::string recordPath = recordDirectory + "/" + kSnapshotRecordFileName;
    if (::access(recordPath.c_str(), F_OK) == 0) {
        SnapshotRecord existing = readSnapshotRecord(recordPath);
        if (dataPresent(existing)) {
            logInfo("snapshot: " + recordPath + " already records checkpoint " + existing.checkpointId + ": kept");
            return existing;
        }
    }
    std::string text;
    SnapshotRecord record = createSnapshot(target, options, &text);
    try {
        writeSnapshotRecordText(recordDirectory, std::move(text));
    } catch (const Error& error) {
        deleteSnapshot(options.store, record.checkpointId);
        throw error.within("snapshot " + record.checkpointId + " (removed: its record could not be written)");
    }
    logInfo("snapshot: checkpoint " + record.checkpointId + " recorded in " + recordPath);
    return record;
}

}  // namespace lockcr
