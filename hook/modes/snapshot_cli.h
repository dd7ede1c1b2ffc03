// `lockcr snapshot ...` on the command line: its subcommands are added to the CLI11 app by
// modes/cli.cpp, and run here (snapshot/commands.h does the work).
#pragma once

#include <string>

#include "snapshot/commands.h"

namespace CLI {
class App;
}

namespace lockcr {

struct SnapshotCommandLine {
    SnapshotCreateOptions create;
    SnapshotVerifyOptions verify;
    std::string policy = "strict";
    std::string store = kDefaultSnapshotStore;
    std::string checkpointId;
    std::string olderThan;
    std::optional<size_t> keep;
    CLI::App* command = nullptr;  // the `snapshot` subcommand
};

void addSnapshotCommands(CLI::App& app, SnapshotCommandLine& parsed);
// True when COMMAND was `snapshot` (STATUS then holds the exit status); false for other commands.
bool runSnapshotCommand(const std::string& command, SnapshotCommandLine& parsed, int& status);

}  // namespace lockcr
