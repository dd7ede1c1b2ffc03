#include "archive/checkpoint_files.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>

#include "archive/libarchive.h"
#include "util/error.h"
#include "util/sys.h"
#include "util/unique_fd.h"

namespace lockcr {

namespace {

constexpr int64_t kMaxFileSize = 256 << 20;
constexpr const char* kInventory = "inventory.img";
constexpr const char* kImageDirectory = "checkpoint";

bool isWanted(const std::vector<std::string>& wanted, const std::string& name) {
    return std::find(wanted.begin(), wanted.end(), name) != wanted.end();
}

// The key of an archive entry: "checkpoint/x" (the CRIU images of a podman or CRI-O archive) ->
// "x"; "config.dump" beside it -> "../config.dump"; a top-level "x" (a tar of an image directory)
// -> "x"; anything else -> "" (not ours).
std::string keyOf(std::string path, const std::vector<std::string>& wanted) {
    while (path.rfind("./", 0) == 0) path.erase(0, 2);
    std::string prefix = std::string(kImageDirectory) + "/";
    if (path.rfind(prefix, 0) == 0) {
        path.erase(0, prefix.size());
        return path.find('/') == std::string::npos ? path : "";
    }
    if (path.find('/') != std::string::npos) return "";
    return isWanted(wanted, "../" + path) ? "../" + path : path;
}

// --- directories -----------------------------------------------------------------------------

bool readRegularFileAt(int directoryFd, const std::string& name, const std::string& shownPath, std::string& out) {
    int error = 0;
    UniqueFd fd = sys::tryOpenAt(directoryFd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, error);
    if (!fd) {
        if (error == ENOENT) return false;
        throwErrno("open " + shownPath, error);
    }
    struct stat status {};
    if (::fstat(fd.get(), &status) != 0) throwErrno("stat " + shownPath);
    if (!S_ISREG(status.st_mode)) throwBadInput(shownPath + ": not a regular file");
    if (status.st_size > kMaxFileSize) throwBadInput(shownPath + ": more than 256 MiB");
    out = sys::readAll(fd.get(), shownPath, kMaxFileSize + 1);
    if (static_cast<int64_t>(out.size()) > kMaxFileSize) throwBadInput(shownPath + ": grew past 256 MiB");
    return true;
}

CheckpointFiles readDirectory(const std::string& path, const std::vector<std::string>& wanted) {
    CheckpointFiles result{path, "directory", {}, false};
    UniqueFd top = sys::openAt(AT_FDCWD, path, O_RDONLY | O_DIRECTORY);
    int error = 0;
    UniqueFd images = sys::tryOpenAt(top.get(), kImageDirectory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, error);
    std::string shown = path;
    if (images) {
        shown = path + "/" + kImageDirectory;
        for (const std::string& name : wanted) {
            std::string bytes;
            if (name.rfind("../", 0) == 0 &&
                readRegularFileAt(top.get(), name.substr(3), path + "/" + name.substr(3), bytes))
                result.files[name] = std::move(bytes);
        }
    } else {
        images = std::move(top);
    }
    for (const std::string& name : wanted) {
        std::string bytes;
        if (name.rfind("../", 0) != 0 && readRegularFileAt(images.get(), name, shown + "/" + name, bytes))
            result.files[name] = std::move(bytes);
    }
    struct stat status {};
    result.hasCriuImages = ::fstatat(images.get(), kInventory, &status, AT_SYMLINK_NOFOLLOW) == 0;
    return result;
}

// --- archives ------------------------------------------------------------------------------

struct ArchiveDeleter {
    void operator()(struct archive* reader) const { libArchive().readFree(reader); }
};

std::string archiveFormat(struct archive* reader) {
    std::string format = "tar";
    for (int i = libArchive().filterCount(reader) - 1; i >= 0; --i) {
        if (libArchive().filterCode(reader, i) == ARCHIVE_FILTER_NONE) continue;
        format += std::string("+") + libArchive().filterName(reader, i);
    }
    return format;
}

CheckpointFiles readArchive(const std::string& path, const std::vector<std::string>& wanted) {
    std::unique_ptr<struct archive, ArchiveDeleter> reader(libArchive().readNew());
    if (!reader) throwFailure("libarchive: out of memory");
    libArchive().supportFilterAll(reader.get());
    libArchive().supportFormatTar(reader.get());
    libArchive().supportFormatGnutar(reader.get());
    if (libArchive().openFilename(reader.get(), path.c_str(), 64 * 1024) != ARCHIVE_OK)
        throwBadInput(path + ": not a directory or an archive lockcr reads: " + libArchive().errorString(reader.get()));

    CheckpointFiles result{path, "tar", {}, false};
    struct archive_entry* entry = nullptr;
    int status = ARCHIVE_OK;
    while ((status = libArchive().nextHeader(reader.get(), &entry)) == ARCHIVE_OK || status == ARCHIVE_WARN) {
        result.format = archiveFormat(reader.get());
        const char* entryPath = libArchive().entryPathname(entry);
        std::string original = entryPath ? entryPath : "";
        std::string key = keyOf(original, wanted);
        if (key == kInventory) result.hasCriuImages = true;
        if (key.empty() || !isWanted(wanted, key)) continue;
        if (libArchive().entryFiletype(entry) != AE_IFREG)
            throwBadInput(path + ": " + original + ": not a regular file in the archive");
        if (libArchive().entrySizeIsSet(entry) && libArchive().entrySize(entry) > kMaxFileSize)
            throwBadInput(path + ": " + original + ": more than 256 MiB");
        std::string bytes;
        char buffer[64 * 1024];
        la_ssize_t got = 0;
        while ((got = libArchive().readData(reader.get(), buffer, sizeof buffer)) > 0) {
            bytes.append(buffer, static_cast<size_t>(got));
            if (static_cast<int64_t>(bytes.size()) > kMaxFileSize)
                throwBadInput(path + ": " + original + ": more than 256 MiB");
        }
        if (got < 0) throwBadInput(path + ": " + original + ": " + libArchive().errorString(reader.get()));
        result.files[key] = std::move(bytes);
    }
    if (status != ARCHIVE_EOF)
        throwBadInput(path + ": not a directory or an archive lockcr reads: " + libArchive().errorString(reader.get()));
    return result;
}

}  // namespace

CheckpointFiles readCheckpointFiles(const std::string& path, const std::vector<std::string>& wanted) {
    struct stat status {};
    if (::stat(path.c_str(), &status) != 0) throwErrno("checkpoint " + path);
    CheckpointFiles files = S_ISDIR(status.st_mode) ? readDirectory(path, wanted) : readArchive(path, wanted);
    if (!files.hasCriuImages && files.files.empty())
        throwBadInput(path + ": not a checkpoint (no " + kInventory + " and no lockcr record in it or in " +
                      kImageDirectory + "/)");
    return files;
}

}  // namespace lockcr
