#include "collect/fd_tables.h"

#include <fcntl.h>

#include <string>
#include <vector>

#include "util/error.h"
#include "util/ptrace.h"
#include "util/sys.h"

namespace lockcr {

namespace {

bool gone(const Error& error) { return error.errnoValue() == ESRCH || error.errnoValue() == ENOENT; }

// Whether any fd of the table TID uses shows a lock line (fdinfo "lock:").
bool tableHoldsLocks(pid_t pid, pid_t tid) {
    std::string directory = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/fdinfo";
    std::vector<std::string> names;
    int err = 0;
    UniqueFd fdinfo = sys::tryOpenAt(AT_FDCWD, directory, O_RDONLY | O_DIRECTORY, err);
    if (!fdinfo || !sys::tryListDirectory(fdinfo.get(), ".", names, err)) return false;  // exited meanwhile
    std::string text;
    for (const std::string& name : names)
        if (sys::tryReadSmallProcFileAt(fdinfo.get(), name, text, err) && text.find("\nlock:") != std::string::npos)
            return true;
    return false;
}

}  // namespace

void refuseSeparateFdTables(const Container& container) {
    for (const ContainerTask& task : container.tasks) {
        if (task.threads <= 1) continue;
        std::vector<pid_t> threads;
        try {
            threads = sys::listThreads(task.hostPid);
        } catch (const Error& error) {
            if (gone(error)) continue;
            throw;
        }
        pid_t reference = task.filesThread ? task.filesThread : task.hostPid;
        for (pid_t tid : threads) {
            if (tid == reference) continue;
            int order = 0;
            try {
                order = sys::kcmpFdTables(reference, tid);
            } catch (const Error& error) {
                if (gone(error)) continue;
                throw;
            }
            if (order != 0 && tableHoldsLocks(task.hostPid, tid))
                throwFailure("collect: pid " + std::to_string(task.containerPid) + " (" + task.command + ", host pid " +
                             std::to_string(task.hostPid) + "): thread " + std::to_string(tid) +
                             " has an fd table of its own (unshare(CLONE_FILES)) with locks in it; lockcr records one "
                             "fd table per process and will not leave those locks out");
        }
    }
}

}  // namespace lockcr
