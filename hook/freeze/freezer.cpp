#include "freeze/freezer.h"

#include <thread>

#include "discover/cgroup_file.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sys.h"

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

FrozenCgroup FrozenCgroup::freeze(CgroupVersion version, const std::string& directory,
                                  std::chrono::milliseconds timeout) {
    if (version == CgroupVersion::none) throwFailure("freeze: the container has no cgroup to freeze");
    FrozenCgroup guard;
    guard.version_ = version;
    guard.directory_ = directory;
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
            throwFailure("freeze " + directory + ": not frozen after " + std::to_string(timeout.count()) +
                         " ms (a task in uninterruptible sleep?)");
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
