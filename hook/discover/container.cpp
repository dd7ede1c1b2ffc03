#include "discover/container.h"

#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include <algorithm>
#include <climits>
#include <unordered_set>

#include "discover/proc_status.h"
#include "discover/cgroup_file.h"
#include "discover/state.h"
#include "util/ptrace.h"
#include "util/error.h"
#include "util/sys.h"
#include "util/text.h"

namespace lockcr {

namespace {

constexpr const char* kFreezerV1Mount = "/sys/fs/cgroup/freezer";

bool isFilesystem(const std::string& path, long magic) {
    struct statfs info {};
    return ::statfs(path.c_str(), &info) == 0 && static_cast<long>(info.f_type) == magic;
}

// The cgroup2 mount: /sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a hybrid one.
std::string unifiedMount() {
    if (isFilesystem("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC)) return "/sys/fs/cgroup";
    if (isFilesystem("/sys/fs/cgroup/unified", CGROUP2_SUPER_MAGIC)) return "/sys/fs/cgroup/unified";
    return "";
}

uint64_t pidNamespaceInode(pid_t pid) {
    struct stat info {};
    int err = 0;
    if (!sys::tryStatAt(AT_FDCWD, "/proc/" + std::to_string(pid) + "/ns/pid", info, err))
        throwErrno("pid " + std::to_string(pid) + ": pid namespace", err);
    return info.st_ino;
}

// cgroup.procs: one pid a line. Anything that is not a pid is skipped.
std::vector<pid_t> parsePidList(const std::string& text) {
    std::vector<pid_t> pids;
    std::string_view rest = text;
    while (!rest.empty()) {
        size_t end = std::min(rest.find_first_of("\n "), rest.size());
        auto pid = parseUnsignedNumber(rest.substr(0, end), 10, INT_MAX);
        if (pid && *pid > 0) pids.push_back(static_cast<pid_t>(*pid));
        rest.remove_prefix(std::min(end + 1, rest.size()));
    }
    return pids;
}

// cgroup.procs of a cgroup and every cgroup below it: a container may nest its own cgroups.
void collectCgroupMembers(const std::string& directory, std::vector<pid_t>& out, int depth) {
    if (depth > 32) throwFailure("cgroup " + directory + ": nested deeper than 32 levels");
    std::string text;
    int err = 0;
    if (!sys::tryReadFileAt(AT_FDCWD, directory + "/cgroup.procs", text, err)) {
        if (err == ENOENT && depth > 0) return;  // a child cgroup removed while we walked
        throwErrno("cgroup " + directory + ": read cgroup.procs", err);
    }
    for (pid_t pid : parsePidList(text)) out.push_back(pid);
    std::vector<std::string> names;
    if (!sys::tryListDirectory(AT_FDCWD, directory, names, err)) return;
    for (const std::string& name : names) {
        struct stat info {};
        std::string child = directory + "/" + name;
        if (sys::tryStatAt(AT_FDCWD, child, info, err, AT_SYMLINK_NOFOLLOW) && S_ISDIR(info.st_mode))
            collectCgroupMembers(child, out, depth + 1);
    }
}

std::vector<pid_t> pidNamespaceMembers(uint64_t namespaceInode) {
    std::vector<std::string> names;
    int err = 0;
    if (!sys::tryListDirectory(AT_FDCWD, "/proc", names, err)) throwErrno("list /proc", err);
    std::vector<pid_t> members;
    for (const std::string& name : names) {
        auto pid = parseUnsignedNumber(name, 10, INT_MAX);
        if (!pid) continue;
        struct stat info {};
        if (sys::tryStatAt(AT_FDCWD, "/proc/" + name + "/ns/pid", info, err) && info.st_ino == namespaceInode)
            members.push_back(static_cast<pid_t>(*pid));
    }
    return members;
}

// Picks the cgroup whose members are the container: the v1 freezer cgroup if the host mounts one
// (runc and podman freeze through it on hybrid hosts), else the v2 cgroup. The root cgroup never
// counts: it holds the whole host.
void chooseCgroup(Container& container, pid_t initPid) {
    std::string text;
    int err = 0;
    if (!sys::tryReadFileAt(AT_FDCWD, "/proc/" + std::to_string(initPid) + "/cgroup", text, err))
        throwErrno("pid " + std::to_string(initPid) + ": read cgroup", err);
    auto memberships = parseProcCgroup(text);
    if (auto path = freezerPathV1(memberships);
        path && *path != "/" && isFilesystem(kFreezerV1Mount, CGROUP_SUPER_MAGIC)) {
        container.cgroupVersion = CgroupVersion::v1;
        container.cgroupDirectory = std::string(kFreezerV1Mount) + *path;
        container.cgroupMount = kFreezerV1Mount;
        container.identity.cgroup = "freezer:" + *path;
        return;
    }
    std::string mount = unifiedMount();
    if (auto path = unifiedPath(memberships); path && *path != "/" && !mount.empty()) {
        container.cgroupVersion = CgroupVersion::v2;
        container.cgroupDirectory = mount + *path;
        container.cgroupMount = mount;
        container.identity.cgroup = "0::" + *path;
    }
}

}  // namespace

const ContainerTask* Container::taskByHostPid(pid_t hostPid) const {
    for (const ContainerTask& task : tasks)
        if (task.hostPid == hostPid) return &task;
    return nullptr;
}

const ContainerTask* Container::taskByContainerPid(pid_t containerPid) const {
    for (const ContainerTask& task : tasks)
        if (task.containerPid == containerPid) return &task;
    return nullptr;
}

void refreshTasks(Container& container) {
    std::vector<pid_t> pids;
    if (container.identity.membership == "cgroup") collectCgroupMembers(container.cgroupDirectory, pids, 0);
    else pids = pidNamespaceMembers(container.identity.pidNamespace);
    std::sort(pids.begin(), pids.end());
    pids.erase(std::unique(pids.begin(), pids.end()), pids.end());

    container.tasks.clear();
    for (pid_t pid : pids) {
        ProcessStatus status;
        try {
            status = readProcessStatus(pid);
        } catch (const Error&) {
            continue;  // exited between the listing and now: it holds no locks any more
        }
        if (status.tgid != pid) continue;
        // Exiting: its files are released or being released (Threads 0 while it exits, then a
        // zombie). It holds no lock any more.
        if (status.threads == 0 || status.state == 'X' || (status.state == 'Z' && status.threads <= 1)) continue;
        ContainerTask task;
        task.hostPid = pid;
        task.command = status.name;
        task.threads = status.threads;
        task.filesThread = status.state == 'Z' ? filesThreadOf(pid) : pid;
        // A process outside the container's pid namespace (runc exec mid-setns) has no container
        // pid; it is still a member of the cgroup and its locks still count.
        if (container.namespaceLevel < status.namespacePids.size())
            task.containerPid = status.namespacePids[container.namespaceLevel];
        container.tasks.push_back(std::move(task));
    }
    std::sort(container.tasks.begin(), container.tasks.end(),
              [](const ContainerTask& a, const ContainerTask& b) { return a.containerPid < b.containerPid; });
}

Container discoverContainerOfPid(pid_t initPid) {
    if (initPid <= 0) throwBadInput("pid " + std::to_string(initPid) + ": not a valid pid");
    ProcessStatus status = readProcessStatus(initPid);
    if (status.namespacePids.empty()) throwFailure("pid " + std::to_string(initPid) + ": no NSpid in /proc status");

    Container container;
    container.identity.initHostPid = initPid;
    container.identity.pidNamespace = pidNamespaceInode(initPid);
    container.namespaceLevel = status.namespacePids.size() - 1;
    chooseCgroup(container, initPid);
    if (container.cgroupVersion != CgroupVersion::none) {
        container.identity.membership = "cgroup";
    } else if (container.identity.pidNamespace != pidNamespaceInode(::getpid())) {
        container.identity.membership = "pid-namespace";
    } else {
        throwBadInput("pid " + std::to_string(initPid) +
                      ": not in a container (root cgroup and lockcr's own pid namespace)");
    }
    refreshTasks(container);
    if (!container.taskByHostPid(initPid))
        throw Error("pid " + std::to_string(initPid) + ": exited during discovery", ESRCH, ExitStatus::badInput);
    return container;
}

Container discoverContainer(const ContainerSelector& selector) {
    if (selector.pid && selector.stateFile) throwBadInput("give either --pid or --state, not both");
    if (selector.pid) return discoverContainerOfPid(*selector.pid);
    if (!selector.stateFile) throwBadInput("no container named: give --pid PID or --state FILE (- for stdin)");

    const std::string& file = *selector.stateFile;
    constexpr size_t kMaximumStateSize = 1 << 20;
    int err = 0;
    UniqueFd fd = file == "-" ? sys::tryDuplicate(STDIN_FILENO, err) : sys::openAt(AT_FDCWD, file, O_RDONLY);
    if (!fd) throwErrno("state: standard input", err);
    std::string text = sys::readAll(fd.get(), "state " + file, kMaximumStateSize);
    if (text.size() > kMaximumStateSize) throwBadInput("state " + file + ": larger than 1 MiB, not an OCI state");
    OciState state;
    try {
        state = parseOciState(text);
    } catch (const Error& error) {
        throw error.within("state " + file);
    }
    if (state.status == "stopped") throwBadInput("container " + state.id + ": status is stopped, it has no processes");
    Container container = discoverContainerOfPid(state.pid);
    container.identity.id = state.id;
    container.identity.bundle = state.bundle;
    container.identity.rootPath = state.rootfs;
    return container;
}

pid_t filesThreadOf(pid_t pid) {
    try {
        if (readProcessStatus(pid).state != 'Z') return pid;
        for (pid_t tid : sys::listThreads(pid)) {
            if (tid == pid) continue;
            char state = 0;
            pid_t tracer = 0;
            if (sys::readThreadState(pid, tid, state, tracer) && state != 'Z' && state != 'X') return tid;
        }
    } catch (const Error& error) {
        if (!sys::isGone(error.errnoValue())) throw;  // else exited meanwhile
    }
    return pid;
}

pid_t hostThreadOf(const Container& container, pid_t containerTid) {
    for (const ContainerTask& task : container.tasks) {
        std::vector<pid_t> threads;
        try {
            threads = sys::listThreads(task.hostPid);
        } catch (const Error& error) {
            if (sys::isGone(error.errnoValue())) continue;  // exited meanwhile
            throw;
        }
        for (pid_t tid : threads) {
            try {
                ProcessStatus status = readProcessStatus(tid);
                if (container.namespaceLevel < status.namespacePids.size() &&
                    status.namespacePids[container.namespaceLevel] == containerTid)
                    return tid;
            } catch (const Error& error) {
                if (!sys::isGone(error.errnoValue())) throw;  // else exited meanwhile
            }
        }
    }
    return 0;
}

pid_t mapProcessGroup(const std::vector<std::vector<pid_t>>& memberGroups, size_t fromLevel, size_t toLevel,
                      pid_t group) {
    if (group <= 0) return 0;
    for (const std::vector<pid_t>& groups : memberGroups)
        if (fromLevel < groups.size() && toLevel < groups.size() && groups[fromLevel] == group) return groups[toLevel];
    return 0;
}

namespace {

// NSpgid of every task of the container (those that exit meanwhile are left out).
std::vector<std::vector<pid_t>> groupsOfTasks(const Container& container) {
    std::vector<std::vector<pid_t>> groups;
    for (const ContainerTask& task : container.tasks) {
        try {
            groups.push_back(readProcessStatus(task.hostPid).namespaceProcessGroups);
        } catch (const Error& error) {
            if (!sys::isGone(error.errnoValue())) throw;
        }
    }
    return groups;
}

}  // namespace

pid_t containerProcessGroupOf(const Container& container, pid_t hostGroup) {
    if (hostGroup <= 0) return 0;
    return mapProcessGroup(groupsOfTasks(container), 0, container.namespaceLevel, hostGroup);
}

pid_t hostProcessGroupOf(const Container& container, pid_t containerGroup) {
    if (containerGroup <= 0) return 0;
    return mapProcessGroup(groupsOfTasks(container), container.namespaceLevel, 0, containerGroup);
}

}  // namespace lockcr
