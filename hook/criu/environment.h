// What CRIU tells an action script: only environment variables (it passes no arguments).
//   CRTOOLS_SCRIPT_ACTION  the stage (pre-dump, post-dump, pre-restore, setup-namespaces,
//                          post-restore, pre-resume, post-resume, network-lock, ...)
//   CRTOOLS_IMAGE_DIR      the image directory, as /proc/<criu>/fd/N
//   CRTOOLS_INIT_PID       the host pid of the root task (absent at pre-dump and pre-restore)
// CRIU 4.1 runs each action twice (it parses the RPC config file twice; 4.2 once).
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>

namespace lockcr {

enum class CriuAction {
    preDump,
    postDump,
    preRestore,
    setupNamespaces,
    postRestore,
    preResume,
    postResume,
    other,  // network-lock, orphan-pts-master, status-ready, ... and whatever a newer CRIU adds
};

struct CriuEnvironment {
    std::string actionName;
    CriuAction action = CriuAction::other;
    std::string imageDirectory;  // empty if CRIU gave none
    std::optional<pid_t> initPid;
};

// Pure: the variables (name -> value) to what they say. A malformed CRTOOLS_INIT_PID or an image
// directory that is not an absolute path throws badInput naming the variable.
CriuEnvironment parseCriuEnvironment(const std::map<std::string, std::string>& variables);
// The same from this process's environment.
CriuEnvironment criuEnvironmentOfThisProcess();

}  // namespace lockcr
