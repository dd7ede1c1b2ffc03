#include "freeze/freezer.h"

#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <thread>

#include "discover/cgroup_file.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sys.h"
#include "util/text.h"

namespace lockcr {

namespace {

std::string readSmallFile(const std::string& path) {
    std::string text;
    int err = 0;
    if (!sys::tryReadFileAt(AT_FDCWD, path, text, err)) throwErrno("freezer: read " + path, err);
    return text;
}

void writeSmallFile(const std::string& path, const std::string& value) {
    UniqueFd fd = sys::openAt(AT_FDCWD, path, O_WRONLY);
    sys::writeAll(fd.get(), value.data(), value.size(), path);
}

// v1 reports FREEZING until every task is in the refrigerator; v2 says "frozen 1" in
// cgroup.events once the whole subtree is.
bool reportsFrozen(CgroupVersion version, const std::string& directory) {
    if (version == CgroupVersion::v1) return readSmallFile(directory + "/freezer.state").starts_with("FROZEN");
    std::string events = readSmallFile(directory + "/cgroup.events");
    return events.find("frozen 1") != std::string::npos;
}

// A thread that keeps a freeze from completing: in uninterruptible sleep (D) anywhere but in the
// freezer itself (v1 parks frozen tasks in __refrigerator, which also shows as D). The kernel
// freezes a task only in a freezable sleep; a plain TASK_UNINTERRUPTIBLE wait (an inode lock held
// by a hung FUSE or NFS request, a stuck device) never lets it, so FREEZING stays for good. The
// command is quoted: /proc/PID/stat shows it raw, and a newline in it would split the line.
std::optional<std::string> stuckThreadOf(pid_t pid) {
    std::string process = "/proc/" + std::to_string(pid);
    std::vector<std::string> threads;
    int err = 0;
    if (!sys::tryListDirectory(AT_FDCWD, process + "/task", threads, err)) return std::nullopt;
    for (const std::string& thread : threads) {
        std::string stat, wchan;
        if (!sys::tryReadFileAt(AT_FDCWD, process + "/task/" + thread + "/stat", stat, err)) continue;
        size_t close = stat.rfind(')');
        size_t open = stat.find('(');
        if (close == std::string::npos || open == std::string::npos || close + 2 >= stat.size() ||
            stat[close + 2] != 'D')
            continue;
        (void)sys::tryReadFileAt(AT_FDCWD, process + "/task/" + thread + "/wchan", wchan, err);
        if (wchan == "__refrigerator" || wchan == "do_freezer_trap") continue;
        std::string line = "pid " + std::to_string(pid) + (thread == std::to_string(pid) ? "" : " thread " + thread) +
                           " " + quotedForMessage(stat.substr(open + 1, close - open - 1)) +
                           " is in uninterruptible sleep (D";
        return line + (wchan.empty() || wchan == "0" ? ")" : ", in " + wchan + ")");
    }
    return std::nullopt;
}

// Why a freeze did not complete, for its error: the first stuck thread of the cgroup or a cgroup
// below it.
std::string whyNotFrozen(const std::string& directory) {
    std::vector<std::string> cgroups{directory};
    std::error_code error;
    for (std::filesystem::recursive_directory_iterator it(directory, error), end; !error && it != end;
         it.increment(error))
        if (it->is_directory(error)) cgroups.push_back(it->path());
    for (const std::string& cgroup : cgroups) {
        std::string procs;
        int err = 0;
        if (!sys::tryReadFileAt(AT_FDCWD, cgroup + "/cgroup.procs", procs, err)) continue;
        for (std::string_view rest = procs; !rest.empty();) {
            size_t newline = rest.find('\n');
            std::string_view line = rest.substr(0, newline);
            rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
            if (auto pid = parseUnsignedNumber(line, 10, INT32_MAX))
                if (auto stuck = stuckThreadOf(static_cast<pid_t>(*pid))) return ": " + *stuck;
        }
    }
    return " (a task in uninterruptible sleep?)";
}

}  // namespace

bool moveOutOfCgroup(const std::string& mount, const std::string& directory, pid_t pid) {
    std::string text;
    int err = 0;
    if (!sys::tryReadFileAt(AT_FDCWD, "/proc/" + std::to_string(pid) + "/cgroup", text, err))
        throwErrno("pid " + std::to_string(pid) + ": read cgroup", err);
    std::vector<CgroupMembership> memberships = parseProcCgroup(text);
    bool v1 = mount.ends_with("/freezer");
    std::optional<std::string> path = v1 ? freezerPathV1(memberships) : unifiedPath(memberships);
    if (!path) return false;
    std::string current = mount + (*path == "/" ? "" : *path);
    if (current != directory && !current.starts_with(directory + "/")) return false;
    writeSmallFile(mount + "/cgroup.procs", std::to_string(pid));
    return true;
}

// Frozen by its own setting, not only because a parent cgroup (a pod, a slice) is: only that
// setting is ours to write back. v1: freezer.self_freezing; v2: cgroup.freeze.
bool isCgroupFrozen(CgroupVersion version, const std::string& directory) {
    if (version == CgroupVersion::none) return false;
    if (version == CgroupVersion::v1) return readSmallFile(directory + "/freezer.self_freezing").starts_with("1");
    return readSmallFile(directory + "/cgroup.freeze").starts_with("1");
}

void writeFreezeState(CgroupVersion version, const std::string& directory, bool frozen) {
    if (version == CgroupVersion::v1) writeSmallFile(directory + "/freezer.state", frozen ? "FROZEN" : "THAWED");
    else if (version == CgroupVersion::v2) writeSmallFile(directory + "/cgroup.freeze", frozen ? "1" : "0");
}

void thawSoKilledTasksDie(CgroupVersion version, const std::string& directory) {
    writeFreezeState(version, directory, false);
}

namespace {

// The freezer's own file, before anything is written: a cgroup removed with its container, a host
// whose v1 freezer hierarchy is not mounted (or not in lockcr's mount namespace), a v2 root cgroup.
void requireFreezer(CgroupVersion version, const std::string& directory) {
    std::string file = directory + (version == CgroupVersion::v1 ? "/freezer.state" : "/cgroup.freeze");
    struct stat info {};
    int err = 0;
    if (!sys::tryStatAt(AT_FDCWD, file, info, err))
        throwErrno("freeze: no cgroup freezer for the container: " + file, err);
}

}  // namespace

FrozenCgroup FrozenCgroup::freeze(CgroupVersion version, const std::string& directory,
                                  std::chrono::milliseconds timeout) {
    if (version == CgroupVersion::none) throwFailure("freeze: the container has no cgroup to freeze");
    FrozenCgroup guard;
    guard.version_ = version;
    guard.directory_ = directory;
    requireFreezer(version, directory);
    if (isCgroupFrozen(version, directory)) {
        guard.alreadyFrozen_ = true;
        return guard;
    }
    guard.owned_ = true;  // from here on, the destructor thaws whatever happens
    writeFreezeState(version, directory, true);
    lockcr::waitUntilFrozen(version, directory, timeout);
    return guard;
}

FrozenCgroup FrozenCgroup::adopt(CgroupVersion version, const std::string& directory) {
    FrozenCgroup guard;
    guard.version_ = version;
    guard.directory_ = directory;
    guard.owned_ = true;
    return guard;
}

void waitUntilFrozen(CgroupVersion version, const std::string& directory, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto pause = std::chrono::microseconds(50);
    while (!reportsFrozen(version, directory)) {
        if (std::chrono::steady_clock::now() > deadline)
            throwFailure("freeze " + directory + ": not frozen after " + std::to_string(timeout.count()) + " ms" +
                         whyNotFrozen(directory));
        // v1 turns FREEZING into FROZEN when freezer.state is read after the last task stopped.
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(5000));
    }
}

FrozenCgroup::FrozenCgroup(FrozenCgroup&& other) noexcept
        : version_(other.version_),
          directory_(std::move(other.directory_)),
          owned_(std::exchange(other.owned_, false)),
          alreadyFrozen_(other.alreadyFrozen_) {}

FrozenCgroup& FrozenCgroup::operator=(FrozenCgroup&& other) noexcept {
    if (this != &other) {
        if (owned_) {
            try {
                thaw();
            } catch (...) {}
        }
        version_ = other.version_;
        directory_ = std::move(other.directory_);
        owned_ = std::exchange(other.owned_, false);
        alreadyFrozen_ = other.alreadyFrozen_;
    }
    return *this;
}

void FrozenCgroup::thawUntilFrozenAgain() { writeFreezeState(version_, directory_, false); }

void FrozenCgroup::freezeAgain() {
    if (version_ == CgroupVersion::none) throwFailure("freeze: no cgroup freezer to freeze again");
    writeFreezeState(version_, directory_, true);
}

void FrozenCgroup::waitUntilFrozen(std::chrono::milliseconds timeout) const {
    lockcr::waitUntilFrozen(version_, directory_, timeout);
}

void FrozenCgroup::thaw() {
    if (!owned_) return;
    owned_ = false;
    writeFreezeState(version_, directory_, false);
}

FrozenCgroup::~FrozenCgroup() {
    if (!owned_) return;
    try {
        thaw();
    } catch (const Error& error) {
        logError(std::string("thaw failed, the container may stay frozen: ") + error.what());
    }
}

}  // namespace lockcr
