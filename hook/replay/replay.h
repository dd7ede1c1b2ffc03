// Replay: put every lock of an image back into the live processes of a container, owned as
// recorded, before any of them runs again -- all or nothing. Under the start barrier it compares the
// live table with the image (verify), checks the missing locks for outside holders, sets them
// (descriptions through pidfd_getfd, POSIX locks by injection inside the owner), verifies again,
// and only then lets the tasks go. On any failure it removes what it set and leaves the tasks as
// they were.
#pragma once

#include <chrono>
#include <map>

#include "discover/container.h"
#include "image/model.h"

namespace lockcr {

enum class ConflictPolicy { fail, wait };
// What the container does when replay fails (after everything it set was removed): run on as it
// was, stay frozen (it never runs a single instruction without its locks), or be killed.
enum class FailurePolicy { resume, freeze, kill };

struct ReplaySettings {
    bool useFreezer = true;
    ConflictPolicy conflicts = ConflictPolicy::fail;
    std::chrono::milliseconds waitTimeout{std::chrono::seconds(10)};  // policy wait: the bound
    std::chrono::milliseconds holdTimeout{std::chrono::seconds(10)};  // freezing and stopping tasks
    std::map<pid_t, pid_t> pidMap;  // container pid -> host pid; empty = from the container's NSpid
    FailurePolicy onFailure = FailurePolicy::resume;
};

struct ReplayResult {
    size_t posixLocksSet = 0;
    size_t descriptionLocksSet = 0;
    size_t processesInjected = 0;
    size_t alreadyInPlace = 0;
    int attempts = 0;
};

ReplayResult replayImage(const LockImage& image, Container& container, const ReplaySettings& settings);

}  // namespace lockcr
