// Fail closed when lockcr itself dies. While replay injects, the container's cgroup is thawed and its
// tasks wait in ptrace stops; if lockcr is killed (SIGKILL, OOM) the kernel detaches them and they
// would run on without their locks. The watchdog is a child process that waits on a pipe: when
// lockcr exits without disarming it (EOF), it freezes the container's cgroup at once, so the tasks
// stop again before they get far, and leaves it frozen for the operator (`lockcr status`).
// Under policy kill, PTRACE_O_EXITKILL is the stronger answer (util/ptrace.h); both can be on.
#pragma once

#include <sys/types.h>

#include <string>

#include "discover/container.h"
#include "util/unique_fd.h"

namespace lockcr {

class FreezeWatchdog {
public:
    FreezeWatchdog() = default;
    // Forks the watchdog; WHAT names the container in its message. Throws if it cannot be started.
    static FreezeWatchdog arm(CgroupVersion version, const std::string& directory, const std::string& what);
    FreezeWatchdog(FreezeWatchdog&& other) noexcept;
    FreezeWatchdog& operator=(FreezeWatchdog&& other) noexcept;
    FreezeWatchdog(const FreezeWatchdog&) = delete;
    FreezeWatchdog& operator=(const FreezeWatchdog&) = delete;
    // Disarms: lockcr finished what it does to the freezer, the watchdog exits without touching it.
    ~FreezeWatchdog();
    void disarm() noexcept;
    bool armed() const { return child_ > 0; }

private:
    pid_t child_ = 0;
    UniqueFd pipe_;  // write end; the watchdog sees EOF when every copy is closed
};

}  // namespace lockcr
