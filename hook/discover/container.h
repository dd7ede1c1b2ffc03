// Which processes make up a container: from the OCI state JSON (its init pid) or a pid given by
// hand. Members are the processes of the init task's cgroup (v1 freezer hierarchy, else v2), or of
// its pid namespace when the cgroup is the root. Discovery only reads; freezing is freeze/'s job.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "image/model.h"

namespace lockcr {

enum class CgroupVersion { none, v1, v2 };

struct ContainerTask {
    pid_t hostPid = 0;
    pid_t containerPid = 0;
    std::string command;
    int threads = 1;
    pid_t filesThread = 0;  // the thread whose /proc entries show the fds: see filesThreadOf
};

struct Container {
    ContainerIdentity identity;
    std::vector<ContainerTask> tasks;  // thread-group leaders, sorted by container pid
    CgroupVersion cgroupVersion = CgroupVersion::none;
    std::string cgroupDirectory;  // the cgroup to freeze, as a path under /sys/fs/cgroup; may be empty
    std::string cgroupMount;      // the root of that cgroup's hierarchy (where cgroupDirectory starts)
    size_t namespaceLevel = 0;    // index into NSpid of the container's pid namespace

    const ContainerTask* taskByHostPid(pid_t hostPid) const;
    const ContainerTask* taskByContainerPid(pid_t containerPid) const;
};

// The thread through which a process's fds are seen: the process itself, or, when its
// thread-group leader has exited while other threads run on (pthread_exit in main), one of those:
// a zombie leader has no fd table, so /proc/PID/fd lists nothing and pidfd_getfd finds nothing,
// while the process still holds every file and lock (/proc/PID/task/TID/fd shows them).
pid_t filesThreadOf(pid_t pid);

// The host tid of the thread whose id in the container's pid namespace is CONTAINER_TID (a lease's
// F_OWNER_TID owner), searched among the threads of every task; 0 if none.
pid_t hostThreadOf(const Container& container, pid_t containerTid);

// A process group (a lease's F_OWNER_PGRP owner) lives on while any member does, after its leader
// exited: it is mapped through the groups of the container's tasks (NSpgid), not through the
// leader. Host to container: 0 if no task of the container is in the group or the group is not
// visible in the container's namespace; container to host: 0 if no task is in it.
pid_t containerProcessGroupOf(const Container& container, pid_t hostGroup);
pid_t hostProcessGroupOf(const Container& container, pid_t containerGroup);
// The mapping itself: MEMBER_GROUPS holds the NSpgid of each member; the id at TO_LEVEL of the
// first member whose id at FROM_LEVEL is GROUP (0 where the group is not visible), else 0.
pid_t mapProcessGroup(const std::vector<std::vector<pid_t>>& memberGroups, size_t fromLevel, size_t toLevel,
                      pid_t group);

// How the user or runtime named the container: exactly one of these is set.
struct ContainerSelector {
    std::optional<pid_t> pid;
    std::optional<std::string> stateFile;  // "-" = standard input
};

Container discoverContainer(const ContainerSelector& selector);
Container discoverContainerOfPid(pid_t initPid);

// Re-reads the member list of an already discovered container (the pids may have changed).
void refreshTasks(Container& container);

}  // namespace lockcr
