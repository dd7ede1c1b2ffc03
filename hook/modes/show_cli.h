// `lockcr show CHECKPOINT [--json]`, and the same as a checkpointctl plugin: checkpointctl runs any
// `checkpointctl-NAME` on PATH as `checkpointctl NAME` (cmd/plugin.go in checkpoint-restore/
// checkpointctl), and lists it with the first line it prints for `--plugin-description` if it exits
// 42 within 500 ms. The package installs checkpointctl-locks as a link to lockcr.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace lockcr {

constexpr const char* kCheckpointctlPluginName = "checkpointctl-locks";
constexpr int kPluginDescriptionExitStatus = 42;

struct ShowOptions {
    std::string checkpoint;
    bool json = false;
};

void addShowCommand(CLI::App& app, ShowOptions& options);
int runShow(const ShowOptions& options);

// argv[0] named checkpointctl-locks: answers --plugin-description, else behaves as `lockcr show`.
int runCheckpointctlPlugin(int argc, char** argv);

}  // namespace lockcr
