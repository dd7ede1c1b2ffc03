// /proc/PID/status: the few fields lockcr needs to name a process, map its pid between namespaces,
// count its threads and see who traces it (fs/proc/array.c proc_pid_status).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace lockcr {

struct ProcessStatus {
    std::string name;  // comm, with the kernel's escapes ("\\n", "\\\\") undone
    pid_t tgid = 0;
    // NSpid: the pid in each pid namespace from the one of the reading /proc inward, outermost
    // first; the last one is the pid inside the innermost (the container's). Empty if the kernel
    // prints no NSpid (before 4.1, or without CONFIG_PID_NS).
    std::vector<pid_t> namespacePids;
    // NSpgid: the process group in the same namespaces; 0 where its leader is not visible.
    std::vector<pid_t> namespaceProcessGroups;
    int threads = 0;
    pid_t tracerPid = 0;  // 0: not traced
    char state = 0;       // 'R', 'S', 'D', 'T', 't', 'Z', 'X', 'I', ...
};

// The whole file. Name, State, Tgid, TracerPid and Threads are required, each known key at most
// once; the text must end in a newline. Throws Error(badInput) naming the line.
ProcessStatus parseProcStatus(std::string_view text);

// Reads and parses /proc/PID/status. Throws Error(badInput, ESRCH/ENOENT) "pid N: no such
// process" when it is gone, Error with errno for any other read failure.
ProcessStatus readProcessStatus(pid_t pid);

}  // namespace lockcr
