#include "util/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "util/error.h"
#include "util/log.h"
#include "util/sys.h"
#include "util/unique_fd.h"

namespace lockcr {

namespace {

// The temporary file of an atomic write: removed unless it was renamed into place.
class RemoveUnlessRenamed {
public:
    explicit RemoveUnlessRenamed(std::string path) : path_(std::move(path)) {}
    RemoveUnlessRenamed(const RemoveUnlessRenamed&) = delete;
    RemoveUnlessRenamed& operator=(const RemoveUnlessRenamed&) = delete;
    ~RemoveUnlessRenamed() {
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    void renamed() { path_.clear(); }

private:
    std::string path_;
};

void fsyncOrThrow(int fd, const std::string& what) {
    if (::fsync(fd) != 0) throwErrno("fsync " + what);
}

// The temporary file gets the pieces in order: their concatenation is the text.
void writePiecesAtomically(const std::string& path, const std::vector<std::string_view>& pieces, PhaseClock* clock) {
    std::string directory = directoryOf(path);
    std::string temporary = directory + "/.lockcr-tmp-XXXXXX";
    int rawFd = ::mkostemp(temporary.data(), O_CLOEXEC);
    if (rawFd < 0) throwErrno("create a temporary file in " + directory + " for " + path);
    UniqueFd fd(rawFd);
    RemoveUnlessRenamed guard(temporary);
    // mkostemp creates 0600 less the umask: make it exactly 0600, private but readable back.
    if (::fchmod(fd.get(), 0600) != 0) throwErrno("chmod " + temporary);
    for (std::string_view piece : pieces) sys::writeAll(fd.get(), piece.data(), piece.size(), temporary);
    if (clock) clock->lap("image written");
    fsyncOrThrow(fd.get(), temporary);
    fd.reset();
    if (::rename(temporary.c_str(), path.c_str()) != 0) throwErrno("rename " + temporary + " to " + path);
    guard.renamed();
    UniqueFd directoryFd = sys::openAt(AT_FDCWD, directory, O_RDONLY | O_DIRECTORY);
    fsyncOrThrow(directoryFd.get(), directory);
    if (clock) clock->lap("image fsynced");
}

}  // namespace

std::string directoryOf(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

void writeFileAtomically(const std::string& path, std::string_view text, PhaseClock* clock) {
    writePiecesAtomically(path, {text}, clock);
}

void writeFileAtomically(const std::string& path, const std::vector<std::string>& pieces, PhaseClock* clock) {
    writePiecesAtomically(path, std::vector<std::string_view>(pieces.begin(), pieces.end()), clock);
}

}  // namespace lockcr
