// What each CLI command does, as a short composition of the pipeline stages. modes/cli.cpp parses
// arguments and picks one of these; the stages do the work. A command returns what it has to say
// and the mode prints it, in one place.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "discover/container.h"
#include "replay/replay.h"
#include "util/error.h"

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
    // Freezer, conflict and failure policies, and the pid map (container pid -> host pid, for
    // tests and for runtimes that know), handed to replayImage as they are.
    ReplaySettings settings;
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

// What a command has to say: its output for stdout (a table, JSON, a summary line) and, for a
// command that found a difference or a conflict, the failure that follows it (exit 1 after the
// diff is shown). Any other failure is thrown.
struct CommandResult {
    std::string output;
    std::optional<Error> failure;
    std::vector<std::string> moreOutput;  // printed after OUTPUT in order: a text made in pieces, not joined
    // What the output was made from (a lock image), left to the exit: the process's memory goes back
    // whole, where 20,000 locks freed one by one cost a millisecond more. printResult exits with it.
    std::shared_ptr<const void> keptUntilExit;
};

CommandResult runInspect(const InspectOptions& options);
CommandResult runStatus(const StatusOptions& options);
CommandResult runRecover(const RecoverOptions& options);
CommandResult runDump(const DumpOptions& options);
CommandResult runReplay(const ReplayOptions& options);
CommandResult runVerify(const VerifyOptions& options);
CommandResult runPrecheck(const PrecheckOptions& options);

}  // namespace lockcr
