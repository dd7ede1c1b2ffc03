#include "freeze/watchdog.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "util/error.h"
#include "util/sys.h"

namespace lockcr {

namespace {

// In the forked child only async-signal-safe calls: lockcr may have threads (replay's workers).
[[noreturn]] void watch(int readEnd, int freezeFd, const char* frozenValue, const std::string& message) {
    char byte = 0;
    ssize_t got;
    do got = ::read(readEnd, &byte, 1);
    while (got < 0 && errno == EINTR);
    if (got == 0) {  // lockcr died armed: freeze now
        size_t length = 0;
        while (frozenValue[length]) ++length;
        (void)!::pwrite(freezeFd, frozenValue, length, 0);
        (void)!::write(STDERR_FILENO, message.data(), message.size());
    }
    ::_exit(0);
}

}  // namespace

FreezeWatchdog FreezeWatchdog::arm(CgroupVersion version, const std::string& directory, const std::string& what) {
    if (version == CgroupVersion::none) throwFailure("watchdog: " + what + " has no cgroup freezer");
    std::string file = directory + (version == CgroupVersion::v1 ? "/freezer.state" : "/cgroup.freeze");
    const char* frozenValue = version == CgroupVersion::v1 ? "FROZEN" : "1";
    UniqueFd freezeFd = sys::openAt(AT_FDCWD, file, O_WRONLY | O_CLOEXEC);
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) throwErrno("watchdog: pipe");
    UniqueFd readEnd(ends[0]), writeEnd(ends[1]);
    std::string message = "lockcr: watchdog: lockcr (pid " + std::to_string(::getpid()) + ") died while it held " + what +
                          ": froze " + directory + " so that no task runs without its locks (see lockcr status)\n";
    pid_t child = ::fork();
    if (child < 0) throwErrno("watchdog: fork");
    if (child == 0) {
        // Keep only the pipe, the freezer file and stderr: the watchdog must not hold the
        // container's open files (duplicates made by replay) alive.
        int low = std::min(readEnd.get(), freezeFd.get()), high = std::max(readEnd.get(), freezeFd.get());
        if (low > 3) sys::closeRange(3U, static_cast<unsigned>(low - 1));
        if (high > low + 1) sys::closeRange(static_cast<unsigned>(low + 1), static_cast<unsigned>(high - 1));
        sys::closeRange(static_cast<unsigned>(high + 1), ~0U);
        // Not killed with lockcr's process group by a terminal or a runtime's kill of the script.
        ::setsid();
        ::signal(SIGINT, SIG_IGN);
        ::signal(SIGTERM, SIG_IGN);
        ::signal(SIGHUP, SIG_IGN);
        watch(readEnd.get(), freezeFd.get(), frozenValue, message);
    }
    FreezeWatchdog watchdog;
    watchdog.child_ = child;
    watchdog.pipe_ = std::move(writeEnd);
    return watchdog;
}

FreezeWatchdog::FreezeWatchdog(FreezeWatchdog&& other) noexcept
    : child_(std::exchange(other.child_, 0)), pipe_(std::move(other.pipe_)) {}

FreezeWatchdog& FreezeWatchdog::operator=(FreezeWatchdog&& other) noexcept {
    if (this != &other) {
        disarm();
        child_ = std::exchange(other.child_, 0);
        pipe_ = std::move(other.pipe_);
    }
    return *this;
}

FreezeWatchdog::~FreezeWatchdog() { disarm(); }

void FreezeWatchdog::disarm() noexcept {
    if (child_ <= 0) return;
    char byte = 'd';
    (void)!::write(pipe_.get(), &byte, 1);
    pipe_.reset();
    int status = 0;
    while (::waitpid(child_, &status, 0) < 0 && errno == EINTR) {
    }
    child_ = 0;
}

}  // namespace lockcr
