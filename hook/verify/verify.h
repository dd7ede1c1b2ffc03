// Verification: the live lock table of a container against a lock image. Produces the locks that
// are missing (what replay has to set) and every other difference as a readable line. Processes are
// matched through a pid mapping (container pid in the image -> host pid now), files by path (fds are
// restored by number, inodes change when the filesystem is copied back).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "discover/container.h"
#include "image/model.h"

namespace lockcr {

struct PidMapping {
    std::map<pid_t, pid_t> containerToHost;
    pid_t hostPid(pid_t containerPid) const;  // 0 if unknown
};

// From an explicit map (--pid-map), else from the live container's NSpid view.
PidMapping mapImagePids(const LockImage& image, const Container& container, const std::map<pid_t, pid_t>& explicitMap);

struct MissingPosixLock {
    const Process* process = nullptr;  // in the expected image
    const ProcessFd* fd = nullptr;
    Lock lock;
};

struct MissingDescriptionLock {
    const OpenFileDescription* description = nullptr;  // in the expected image
    Lock lock;
};

struct LockDifferences {
    std::vector<MissingPosixLock> missingPosix;
    std::vector<MissingDescriptionLock> missingDescription;
    std::vector<std::string> problems;  // anything else: unexpected locks, split descriptions, waiters
    // Missing locks whose owner (the process for POSIX, the description otherwise) holds an
    // overlapping lock the image does not have. Setting them would convert or split that lock
    // (the kernel merges a process's POSIX locks, and a flock on a description replaces its
    // flock), and a rollback could not give the old one back: replay refuses these.
    std::vector<std::string> ownerHoldsOther;

    bool empty() const { return missingPosix.empty() && missingDescription.empty() && problems.empty(); }
    std::vector<std::string> lines() const;  // every difference, one line each
};

LockDifferences compareLockTables(const LockImage& expected, const LockImage& live, const PidMapping& pids);

}  // namespace lockcr
