#include "snapshot/verify.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>
#include <cstring>

#include "snapshot/directories.h"
#include "snapshot/file_copy.h"
#include "snapshot/manifest.h"
#include "util/error.h"
#include "util/files_in_root.h"
#include "util/log.h"
#include "util/sys.h"

namespace lockcr {

namespace {

std::string octalMode(uint32_t mode) {
    char text[16];
    std::snprintf(text, sizeof text, "%04o", mode & 07777);
    return text;
}

std::string owner(uint32_t uid, uint32_t gid) { return std::to_string(uid) + ":" + std::to_string(gid); }

const char* typeName(mode_t mode) {
    if (S_ISLNK(mode)) return "a symlink";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
    if (S_ISFIFO(mode)) return "a fifo";
    return "a socket";
}

// Opens PATH inside the root, or returns an invalid fd with errnoOut set for the errors that mean
// "not there": ENOENT, ENOTDIR (a parent is no longer a directory).
UniqueFd openIfPresent(int rootFd, const std::string& path, int flags, int& errnoOut) {
    errnoOut = 0;
    try {
        return sys::openInRoot(rootFd, path, flags);
    } catch (const Error& error) {
        if (error.errnoValue() != ENOENT && error.errnoValue() != ENOTDIR) throw;
        errnoOut = error.errnoValue();
        return UniqueFd();
    }
}

// One recorded file being compared with what is at its path now.
struct FileCheck {
    const SnapshotFile* file = nullptr;
    std::vector<std::string> changes;
    UniqueFd pathFd;  // set while its bytes are still to be compared
    bool sameMtime = false;
};

// What differs in metadata between FILE as recorded and the file now at its path; the bytes are
// left to compareBytes (check.pathFd set) when size and digest say they must be read.
FileCheck metadataOf(FilesInRoot& files, const SnapshotFile& file, bool compareInodes) {
    FileCheck check;
    check.file = &file;
    int error = 0;
    UniqueFd fd = files.openPath(file.path, error);
    if (!fd) {
        check.changes.push_back(error == ENOTDIR ? "missing (a parent is not a directory)" : "missing");
        return check;
    }
    struct stat status {};
    if (::fstat(fd.get(), &status) != 0) throwErrno("stat " + file.path);
    if (!S_ISREG(status.st_mode)) {
        check.changes.push_back(std::string("replaced by ") + typeName(status.st_mode));
        return check;
    }
    std::vector<std::string>& changes = check.changes;
    if (compareInodes && status.st_dev == file.device && status.st_ino != file.inode)
        changes.push_back("replaced by another inode (" + std::to_string(file.inode) + " -> " +
                          std::to_string(status.st_ino) + ")");
    if (static_cast<uint64_t>(status.st_size) != file.size)
        changes.push_back("size " + std::to_string(file.size) + " -> " + std::to_string(status.st_size));
    if ((status.st_mode & 07777) != (file.mode & 07777))
        changes.push_back("mode " + octalMode(file.mode) + " -> " + octalMode(status.st_mode));
    if (status.st_uid != file.uid || status.st_gid != file.gid)
        changes.push_back("owner " + owner(file.uid, file.gid) + " -> " + owner(status.st_uid, status.st_gid));
    if (static_cast<uint64_t>(status.st_size) == file.size && file.size > 0 && file.digest != kNoDigest) {
        check.pathFd = std::move(fd);
        check.sameMtime =
            status.st_mtim.tv_sec == file.mtimeSeconds && status.st_mtim.tv_nsec == file.mtimeNanoseconds;
    }
    return check;
}

// The bytes of every check that still needs them, digested on two threads (a whole volume's files
// are read from the page cache at the speed of one core's hashing otherwise), each file through the
// fd its metadata was checked on, not the path again: a name the container swaps meanwhile for a
// device node (/dev/zero reads forever) or a FIFO is never opened, let alone read.
void compareBytes(std::vector<FileCheck>& checks) {
    std::atomic<size_t> next{0};
    std::exception_ptr failure;
    std::mutex failureLock;
    auto work = [&] {
        for (size_t i = next++; i < checks.size(); i = next++) {
            FileCheck& check = checks[i];
            if (!check.pathFd) continue;
            try {
                UniqueFd readable = sys::reopen(check.pathFd.get(), O_RDONLY | O_NONBLOCK, check.file->path);
                check.pathFd.reset();
                if (digestOfFile(readable.get(), check.file->path) != check.file->digest)
                    check.changes.push_back(check.sameMtime ? "bytes changed (same size and mtime)"
                                                            : "bytes changed (same size)");
            } catch (...) {
                std::lock_guard<std::mutex> hold(failureLock);
                if (!failure) failure = std::current_exception();
            }
        }
    };
    std::thread helper(work);
    work();
    helper.join();
    if (failure) std::rethrow_exception(failure);
}

std::string joined(const std::vector<std::string>& words) {
    std::string text;
    for (const std::string& word : words) text += (text.empty() ? "" : ", ") + word;
    return text;
}

struct ChangedFile {
    const SnapshotFile* file;
    std::vector<std::string> changes;
    UniqueFd source;  // the snapshot's copy of its bytes
};

std::vector<ChangedFile> changedFiles(const SnapshotRecord& record, int rootFd, bool compareInodes) {
    // In batches: each file to be read keeps its O_PATH fd until its bytes are compared, and a
    // whole volume can hold more files than the fd limit.
    constexpr size_t kBatch = 256;
    std::vector<ChangedFile> changed;
    FilesInRoot files(rootFd);
    std::vector<FileCheck> batch;
    auto finishBatch = [&] {
        compareBytes(batch);
        for (FileCheck& check : batch)
            if (!check.changes.empty()) changed.push_back({check.file, std::move(check.changes), UniqueFd()});
        batch.clear();
    };
    for (const SnapshotPart& part : record.parts)
        for (const SnapshotFile& file : part.files) {
            batch.push_back(metadataOf(files, file, compareInodes));
            if (batch.size() == kBatch) finishBatch();
        }
    finishBatch();
    return changed;
}

const SnapshotPart& partOf(const SnapshotRecord& record, const SnapshotFile* file) {
    for (const SnapshotPart& part : record.parts)
        if (!part.files.empty() && file >= &part.files.front() && file <= &part.files.back()) return part;
    throwFailure("rollback: internal: file outside the record");
}

// The snapshot's copy of FILE, checked against its digest before anything is written. SHOWN: the
// file's path as the container sees it, for the message.
UniqueFd openCopy(const SnapshotRecord& record, const SnapshotPart& part, const SnapshotFile& file,
                  const std::string& shown) {
    if (file.size == 0 && file.digest == emptyFileDigest()) return UniqueFd();  // nothing to copy back
    std::string why;
    if (part.data.empty() || file.copy.empty()) why = "the snapshot kept no copy of it";
    int error = 0;
    UniqueFd dataFd;
    if (why.empty()) {
        dataFd = sys::tryOpenAt(AT_FDCWD, part.data, O_PATH | O_DIRECTORY, error);
        if (!dataFd)
            why = "the snapshot data " + part.data + " is not on this host (" + std::strerror(error) + ")" +
                  (part.exported.empty() ? " and the checkpoint carries no copy of it (snapshot-export: volumes)" : "");
    }
    UniqueFd copy;
    if (why.empty()) {
        copy = openIfPresent(dataFd.get(), file.copy, O_RDONLY | O_NOFOLLOW, error);
        if (!copy) why = "its copy " + part.data + "/" + file.copy + " is missing";
        else if (digestOfFile(copy.get(), part.data + "/" + file.copy) != file.digest)
            why = "its copy " + part.data + "/" + file.copy + " does not match the recorded digest";
    }
    if (!why.empty())
        throwFailure("rollback of checkpoint " + record.checkpointId + ": cannot roll back " + shown + ": " + why +
                     " (nothing was written)");
    return copy;
}

// NAME in PARENT_FD open for writing: the regular file there, reopened through the fd its type
// was checked on (a name swapped meanwhile for a device node or a FIFO is never opened), else a
// new file (O_EXCL: whatever the container plants meanwhile is refused, not opened) once what was
// there is removed (a symlink is unlinked, never followed).
UniqueFd openForRollback(int parentFd, const std::string& name, const std::string& path) {
    int error = 0;
    UniqueFd existing = sys::tryOpenAt(parentFd, name, O_PATH | O_NOFOLLOW, error);
    if (existing) {
        struct stat status {};
        if (!sys::tryStatFd(existing.get(), status, error)) throwErrno("rollback: stat " + path, error);
        if (S_ISREG(status.st_mode)) return sys::reopen(existing.get(), O_WRONLY | O_NONBLOCK, path);
        if (::unlinkat(parentFd, name.c_str(), S_ISDIR(status.st_mode) ? AT_REMOVEDIR : 0) != 0)
            throwErrno("rollback: remove " + std::string(typeName(status.st_mode)) + " at " + path);
    } else if (error != ENOENT) {
        throwErrno("rollback: open " + path, error);
    }
    return sys::openAt(parentFd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0600);
}

// Writes FILE back at its path, through the container's root: removed parent directories are made
// again (directories.h), the name is replaced if it is no longer a regular file (a symlink is
// unlinked, never followed), then the bytes (SOURCE_FD; -1 for an empty file) and metadata. MADE:
// the directories made.
void restoreFile(int rootFd, const SnapshotPart& part, const SnapshotFile& file, int sourceFd,
                 std::vector<std::string>& made) {
    size_t slash = file.path.rfind('/');
    std::string parent = slash == 0 ? "/" : file.path.substr(0, slash), name = file.path.substr(slash + 1);
    UniqueFd parentFd = openOrRecreateDirectory(rootFd, part, parent, made);
    UniqueFd fd = openForRollback(parentFd.get(), name, file.path);
    if (::ftruncate(fd.get(), 0) != 0) throwErrno("rollback: truncate " + file.path);
    if (sourceFd >= 0) copyFileBytes(sourceFd, fd.get(), file.path);
    struct stat recorded {};
    recorded.st_uid = file.uid;
    recorded.st_gid = file.gid;
    recorded.st_mode = file.mode;
    recorded.st_atim = {0, UTIME_OMIT};
    recorded.st_mtim = {file.mtimeSeconds, static_cast<long>(file.mtimeNanoseconds)};
    applyMetadata(fd.get(), recorded, file.path);
    if (::fsync(fd.get()) != 0) throwErrno("rollback: fsync " + file.path);
}

UniqueFd openRoot(const std::string& containerRoot) {
    return sys::openAt(AT_FDCWD, containerRoot, O_PATH | O_DIRECTORY);
}

}  // namespace

VerifyPolicy parseVerifyPolicy(const std::string& text) {
    if (text == "strict") return VerifyPolicy::strict;
    if (text == "rollback") return VerifyPolicy::rollback;
    if (text == "off") return VerifyPolicy::off;
    throwBadInput("snapshot policy \"" + text.substr(0, 40) + "\": expected strict, rollback or off");
}

std::string containerRootOfPid(pid_t pid) { return "/proc/" + std::to_string(pid) + "/root"; }

std::vector<std::string> findSnapshotChanges(const SnapshotRecord& record, const std::string& containerRoot,
                                             const std::string& shownPrefix) {
    UniqueFd rootFd = openRoot(containerRoot);
    std::vector<std::string> lines;
    for (const ChangedFile& changed : changedFiles(record, rootFd.get(), true))
        lines.push_back(shownPrefix + changed.file->path + ": " + joined(changed.changes));
    return lines;
}

std::vector<std::string> rollBackSnapshot(const SnapshotRecord& record, const std::string& containerRoot,
                                          const std::string& shownPrefix) {
    UniqueFd rootFd = openRoot(containerRoot);
    // A restored file is a new inode when its name had been taken by something else: only bytes,
    // size, owner and mode can be put back, so only they are compared.
    std::vector<ChangedFile> changed = changedFiles(record, rootFd.get(), false);
    for (ChangedFile& file : changed)
        file.source = openCopy(record, partOf(record, file.file), *file.file, shownPrefix + file.file->path);
    std::vector<std::string> lines;
    for (const ChangedFile& file : changed) {
        std::vector<std::string> made;
        try {
            restoreFile(rootFd.get(), partOf(record, file.file), *file.file, file.source.get(), made);
        } catch (const Error& error) {
            throw error.within("rollback of " + shownPrefix + file.file->path);
        }
        lines.push_back(shownPrefix + file.file->path + ": restored (" + joined(file.changes) +
                        (made.empty() ? "" : "; " + std::to_string(made.size()) + " parent director" +
                                                 (made.size() == 1 ? "y" : "ies") + " made again") +
                        ")");
        logInfo("snapshot rollback: " + lines.back());
    }
    std::vector<ChangedFile> left = changedFiles(record, rootFd.get(), false);
    if (!left.empty())
        throwFailure("rollback of checkpoint " + record.checkpointId + ": " + shownPrefix + left.front().file->path +
                     " still differs after the rollback: " + joined(left.front().changes));
    return lines;
}

SnapshotCheck checkSnapshot(const SnapshotRecord& record, const std::string& containerRoot, VerifyPolicy policy,
                            const std::string& shownPrefix) {
    SnapshotCheck check;
    if (policy == VerifyPolicy::strict) check.changes = findSnapshotChanges(record, containerRoot, shownPrefix);
    if (policy == VerifyPolicy::rollback) check.restored = rollBackSnapshot(record, containerRoot, shownPrefix);
    return check;
}

namespace {

// PART with its files' paths made relative to its mount point, as one part mounted at "/": the
// same checks then run with the part's host source as the root.
SnapshotRecord partAtItsSource(const SnapshotRecord& record, const SnapshotPart& part) {
    SnapshotRecord single = record;
    single.parts = {part};
    SnapshotPart& moved = single.parts.front();
    std::string prefix = part.mountPoint == "/" ? "" : part.mountPoint;
    for (SnapshotFile& file : moved.files) {
        if (!prefix.empty()) file.path = file.path.substr(prefix.size());
        if (file.path.empty()) file.path = "/";
    }
    for (SnapshotDirectory& directory : moved.directories)
        if (!prefix.empty()) directory.path = directory.path.substr(prefix.size());
    moved.mountPoint = "/";
    return single;
}

bool reachableAtSource(const SnapshotPart& part) {
    if (part.backend == SnapshotBackend::overlay || part.source.empty() || part.source.front() != '/') return false;
    std::string prefix = part.mountPoint == "/" ? "" : part.mountPoint;
    for (const SnapshotFile& file : part.files)
        if (file.path.compare(0, prefix.size(), prefix) != 0 ||
            (file.path.size() > prefix.size() && file.path[prefix.size()] != '/' && !prefix.empty()))
            return false;
    for (const SnapshotDirectory& directory : part.directories)
        if (!prefix.empty() && !directory.path.starts_with(prefix + "/")) return false;
    struct stat info {};
    return ::stat(part.source.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

}  // namespace

SourceCheck checkSnapshotAtSources(const SnapshotRecord& record, VerifyPolicy policy) {
    SourceCheck result;
    result.remaining = record;
    result.remaining.parts.clear();
    for (const SnapshotPart& part : record.parts) {
        if (policy == VerifyPolicy::off) break;
        if (!reachableAtSource(part)) {
            result.remaining.parts.push_back(part);
            continue;
        }
        SnapshotCheck check = checkSnapshot(partAtItsSource(record, part), part.source, policy,
                                            part.mountPoint == "/" ? "" : part.mountPoint);
        for (std::string& line : check.changes) result.check.changes.push_back(std::move(line));
        for (std::string& line : check.restored) result.check.restored.push_back(std::move(line));
    }
    return result;
}

}  // namespace lockcr
