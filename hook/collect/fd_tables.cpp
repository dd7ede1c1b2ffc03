#include "collect/fd_tables.h"

#include <fcntl.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "util/error.h"
#include "util/ptrace.h"
#include "util/sys.h"

namespace lockcr {

namespace {

bool gone(const Error& error) { return sys::isGone(error.errnoValue()); }

// Whether the table TID uses holds a lock the process's own table (REFERENCE's) does not show: a
// POSIX lock (it belongs to that table), or a flock, OFD lock or lease on a description that is
// not also open under the same fd number in the reference table (kcmp(KCMP_FILE)). A table
// copied by unshare(CLONE_FILES) shares every description that was open then: those are seen.
bool tableHoldsOwnLocks(pid_t pid, pid_t tid, pid_t reference) {
    std::vector<std::string> names;
    int err = 0;
    UniqueFd fdinfo = sys::tryOpenAt(AT_FDCWD, sys::threadDirectory(pid, tid) + "/fdinfo", O_RDONLY | O_DIRECTORY, err);
    if (!fdinfo || !sys::tryListDirectory(fdinfo.get(), ".", names, err)) return false;  // exited meanwhile
    std::string text;
    for (const std::string& name : names) {
        if (!sys::tryReadSmallProcFileAt(fdinfo.get(), name, text, err) || text.find("\nlock:") == std::string::npos)
            continue;
        if (text.find(" POSIX ") != std::string::npos) return true;
        int fd = std::atoi(name.c_str());
        try {
            if (sys::kcmpFile(reference, fd, tid, fd) != 0) return true;
        } catch (const Error&) {
            return true;  // no such fd in the reference table
        }
    }
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
            if (order != 0 && tableHoldsOwnLocks(task.hostPid, tid, reference))
                throwFailure("collect: pid " + std::to_string(task.containerPid) + " (" + task.command + ", host pid " +
                             std::to_string(task.hostPid) + "): thread " + std::to_string(tid) +
                             " has an fd table of its own (unshare(CLONE_FILES)) with locks in it; lockcr records one "
                             "fd table per process and will not leave those locks out");
        }
    }
}

}  // namespace lockcr
