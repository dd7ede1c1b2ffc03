// What each CLI command does, as a short composition of the pipeline stages. main.cpp parses
// arguments and picks one of these; the stages do the work.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "discover/container.h"
#include "replay/replay.h"

namespace lockcr {

struct InspectOptions {
    ContainerSelector container;
    bool json = false;
};

struct DumpOptions {
    ContainerSelector container;
    std::string output;
    bool freeze = true;
};

struct ReplayOptions {
    std::string image;
    ContainerSelector container;
    std::map<pid_t, pid_t> pidMap;  // container pid -> host pid, for tests and for runtimes that know
    ConflictPolicy conflicts = ConflictPolicy::fail;
    std::chrono::milliseconds waitTimeout{std::chrono::seconds(10)};
    bool freeze = true;
    FailurePolicy onFailure = FailurePolicy::resume;
};

struct VerifyOptions {
    std::string image;
    ContainerSelector container;
    std::map<pid_t, pid_t> pidMap;
    bool json = false;
};

struct PrecheckOptions {
    std::string image;
    std::optional<std::string> root;  // the container's root directory as seen from the host
    ContainerSelector container;      // or a live container, whose /proc/PID/root is used
    bool json = false;
};

struct StatusOptions {
    bool json = false;
};

// A restore the CRIU action left unfinished (frozen after a failed replay, or lockcr killed):
// replay its kept image again and thaw the container on success.
struct RecoverOptions {
    std::string key;  // as `lockcr status` shows it
};

int runInspect(const InspectOptions& options);
int runStatus(const StatusOptions& options);
int runRecover(const RecoverOptions& options);
int runDump(const DumpOptions& options);
int runReplay(const ReplayOptions& options);
int runVerify(const VerifyOptions& options);
int runPrecheck(const PrecheckOptions& options);

}  // namespace lockcr
