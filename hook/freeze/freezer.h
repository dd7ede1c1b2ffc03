// The cgroup freezer, v1 (freezer.state) and v2 (cgroup.freeze / cgroup.events), as a scope guard:
// FrozenCgroup freezes on construction, waits until the kernel reports every task frozen, and thaws
// in its destructor on every path -- unless the container was already frozen when we came, in
// which case it is left exactly as found.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "discover/container.h"

namespace lockcr {

// True when the cgroup's own setting freezes it (a frozen parent alone does not count).
bool isCgroupFrozen(CgroupVersion version, const std::string& directory);
// The cgroup's own setting, frozen or thawed, without waiting. Other stages hold a FrozenCgroup
// instead; the CRIU action's pre-resume hand-off (modes/criu_action.cpp) still writes it directly.
void writeFreezeState(CgroupVersion version, const std::string& directory, bool frozen);
// Thaws the cgroup whatever froze it, so that tasks sent SIGKILL die: a frozen task dies only
// once thawed (fail closed by killing, --on-failure kill).
void thawSoKilledTasksDie(CgroupVersion version, const std::string& directory);
// Until the kernel reports every task of the cgroup frozen; throws after TIMEOUT.
void waitUntilFrozen(CgroupVersion version, const std::string& directory, std::chrono::milliseconds timeout);

// Moves PID into the root cgroup of the hierarchy mounted at MOUNT if it is now inside DIRECTORY
// (or below it), so that freezing the container does not freeze it. Runc puts CRIU into the
// container's cgroups; at pre-resume CRIU and lockcr itself must stay outside before the freeze,
// or CRIU could never detach. Returns whether it moved.
bool moveOutOfCgroup(const std::string& mount, const std::string& directory, pid_t pid);

class FrozenCgroup {
public:
    FrozenCgroup() = default;
    // Throws if the cgroup can't be frozen within the timeout (and then leaves it thawed).
    static FrozenCgroup freeze(CgroupVersion version, const std::string& directory,
                               std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // The guard of a cgroup this process froze and left frozen on purpose (a replay attempt that is
    // tried again): it thaws it as its own.
    static FrozenCgroup adopt(CgroupVersion version, const std::string& directory);
    FrozenCgroup(FrozenCgroup&& other) noexcept;
    FrozenCgroup& operator=(FrozenCgroup&& other) noexcept;
    FrozenCgroup(const FrozenCgroup&) = delete;
    FrozenCgroup& operator=(const FrozenCgroup&) = delete;
    ~FrozenCgroup();

    bool wasAlreadyFrozen() const { return alreadyFrozen_; }
    bool holdsCgroup() const { return version_ != CgroupVersion::none; }
    // Thaws now (if we froze it); throws on failure. The destructor does the same but only logs.
    void thaw();
    // For a cgroup that was already frozen when we came: thaws it for a while (replay's threads
    // then wait in ptrace stops instead); freezeAgain() puts it back as it was found.
    void thawUntilFrozenAgain();
    // Writes the frozen setting again without waiting (the tasks get there before their next
    // instruction): after thawUntilFrozenAgain(), or to fail closed before letting tasks go.
    void freezeAgain();
    // Until the kernel reports every task frozen; throws after TIMEOUT.
    void waitUntilFrozen(std::chrono::milliseconds timeout) const;
    // Keeps the cgroup frozen after this guard goes: for fail-closed paths.
    void leaveFrozen() { owned_ = false; }

private:
    CgroupVersion version_ = CgroupVersion::none;
    std::string directory_;
    bool owned_ = false;
    bool alreadyFrozen_ = false;
};

}  // namespace lockcr
