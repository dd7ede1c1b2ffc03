#include "snapshot/export.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot/durability.h"
#include "snapshot/file_copy.h"
#include "snapshot/manifest.h"
#include "snapshot/store.h"
#include "snapshot/verify.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sys.h"

namespace lockcr {

namespace {

bool isVolume(const SnapshotPart& part) { return part.mountPoint != "/"; }

bool isDirectory(const std::string& path) {
    struct stat status {};
    return ::lstat(path.c_str(), &status) == 0 && S_ISDIR(status.st_mode);
}

// Whether every volume part with files records an export that is in RECORD_DIRECTORY.
bool alreadyExported(const SnapshotRecord& record, const std::string& recordDirectory) {
    for (const SnapshotPart& part : record.parts) {
        if (!isVolume(part) || part.files.empty()) continue;
        if (part.exported.empty() || !isDirectory(recordDirectory + "/" + part.exported)) return false;
    }
    return true;
}

// The export being built: a temporary directory in the image directory, removed unless committed.
class PendingExport {
public:
    explicit PendingExport(const std::string& recordDirectory)
            : path_(recordDirectory + "/." + kSnapshotExportDirectoryName + "-XXXXXX") {
        if (::mkdtemp(path_.data()) == nullptr) throwErrno("snapshot export: make a directory in " + recordDirectory);
    }
    PendingExport(const PendingExport&) = delete;
    PendingExport& operator=(const PendingExport&) = delete;
    ~PendingExport() {
        if (committed_) return;
        try {
            removeSnapshotTree(path_);
        } catch (const Error& error) {
            logError(std::string("snapshot export: removing the half-made export: ") + error.what());
        }
    }
    const std::string& path() const { return path_; }
    void commit() { committed_ = true; }

private:
    std::string path_;
    bool committed_ = false;
};

// The bytes FILE had at the snapshot: the snapshot's copy, else the file through the container's
// root, opened only once an O_PATH open showed a regular file, and through that fd: a name the
// container swapped for a device node (/dev/zero copies forever) or a FIFO is never opened.
UniqueFd openSource(const SnapshotPart& part, const SnapshotFile& file, int rootFd) {
    if (!part.data.empty() && !file.copy.empty()) {
        UniqueFd dataFd = sys::openAt(AT_FDCWD, part.data, O_PATH | O_DIRECTORY);
        return sys::openInRoot(dataFd.get(), file.copy, O_RDONLY | O_NOFOLLOW);
    }
    UniqueFd pathFd = sys::openInRoot(rootFd, file.path, O_PATH | O_NOFOLLOW);
    struct stat status {};
    int error = 0;
    if (!sys::tryStatFd(pathFd.get(), status, error)) throwErrno("snapshot export: stat " + file.path, error);
    if (!S_ISREG(status.st_mode)) throwFailure("snapshot export: " + file.path + ": no longer a regular file");
    return sys::reopen(pathFd.get(), O_RDONLY | O_NONBLOCK, file.path);
}

// PART's files into DIRECTORY (made here) as 0, 1, ...; sets part.exported and file.exported.
// Made durable before the rename that names them, as the snapshot's own copies are (durability.h).
void exportPart(SnapshotPart& part, size_t index, const std::string& directory, int rootFd, Durability& durability) {
    std::string relative = std::string(kSnapshotExportDirectoryName) + "/part-" + std::to_string(index);
    if (::mkdir(directory.c_str(), 0700) != 0) throwErrno("snapshot export: mkdir " + directory);
    UniqueFd directoryFd = sys::openAt(AT_FDCWD, directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    for (size_t i = 0; i < part.files.size(); ++i) {
        SnapshotFile& file = part.files[i];
        if (file.digest == kNoDigest) continue;  // its bytes were never read (a lease): nothing to vouch for
        if (file.size == 0 && file.digest == emptyFileDigest()) continue;  // a rollback only truncates
        std::string name = std::to_string(i);
        UniqueFd source = openSource(part, file, rootFd);
        UniqueFd copy = sys::openAt(directoryFd.get(), name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
        copyFileBytes(source.get(), copy.get(), file.path);
        if (digestOfFile(copy.get(), directory + "/" + name) != file.digest)
            throwFailure("snapshot export: " + file.path + ": the bytes copied do not match the recorded digest");
        durability.fileCopied(copy.get(), directory + "/" + name);
        file.exported = name;
    }
    durability.directoryFilled(directory);
    part.exported = relative;
}

}  // namespace

void exportVolumeFiles(SnapshotRecord& record, const std::string& recordDirectory, const std::string& containerRoot) {
    if (alreadyExported(record, recordDirectory)) return;
    UniqueFd rootFd = sys::openAt(AT_FDCWD, containerRoot, O_PATH | O_DIRECTORY);
    PendingExport pending(recordDirectory);
    SnapshotRecord exported = record;
    Durability durability;
    for (size_t i = 0; i < exported.parts.size(); ++i)
        if (isVolume(exported.parts[i]) && !exported.parts[i].files.empty())
            exportPart(exported.parts[i], i, pending.path() + "/part-" + std::to_string(i), rootFd.get(), durability);
    durability.directoryFilled(pending.path());
    durability.finish(pending.path());
    std::string destination = recordDirectory + "/" + kSnapshotExportDirectoryName;
    removeSnapshotTree(destination);  // a killed run's export, which no record names
    if (::rename(pending.path().c_str(), destination.c_str()) != 0)
        throwErrno("snapshot export: rename " + pending.path() + " to " + destination);
    pending.commit();
    writeSnapshotRecord(recordDirectory, exported);  // fsyncs the directory, and the rename with it
    record = std::move(exported);
}

SnapshotRecord takeSnapshotWithExport(const SnapshotTarget& target, const SnapshotOptions& options,
                                      const std::string& recordDirectory, bool exportVolumes) {
    SnapshotRecord record = takeSnapshot(target, options, recordDirectory);
    if (!exportVolumes) return record;
    try {
        exportVolumeFiles(record, recordDirectory, containerRootOfPid(target.initPid));
    } catch (const Error& error) {
        ::unlink((recordDirectory + "/" + kSnapshotRecordFileName).c_str());
        try {
            removeSnapshotTree(recordDirectory + "/" + kSnapshotExportDirectoryName);
            deleteSnapshot(options.store, record.checkpointId);
        } catch (const Error& cleanup) {
            logError(std::string("snapshot export: removing the snapshot: ") + cleanup.what());
        }
        throw error.within("snapshot " + record.checkpointId + " (removed, with its record: its export failed)");
    }
    size_t files = 0;
    for (const SnapshotPart& part : record.parts)
        for (const SnapshotFile& file : part.files) files += file.exported.empty() ? 0 : 1;
    logInfo("snapshot: " + std::to_string(files) + " volume file(s) exported into " + recordDirectory + "/" +
            kSnapshotExportDirectoryName);
    return record;
}

SnapshotRecord withExportedCopies(SnapshotRecord record, const std::string& recordDirectory) {
    for (SnapshotPart& part : record.parts) {
        if (part.exported.empty() || (!part.data.empty() && isDirectory(part.data))) continue;
        logInfo("snapshot: " + part.mountPoint + ": the snapshot data " + part.data +
                " is not on this host: using the copies exported with the checkpoint");
        part.data = recordDirectory + "/" + part.exported;
        for (SnapshotFile& file : part.files) file.copy = file.exported;
    }
    return record;
}

}  // namespace lockcr
