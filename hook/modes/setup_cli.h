// `lockcr setup`: wires lockcr into the CRIU config file an engine's runtime passes to CRIU
// (criu/criu_config.h), installs /etc/lockcr/lockcr.yaml from the example when it is absent, undoes
// its own lines (--undo), and tells an operator whether lockcr will run for a container (--check).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace lockcr {

struct SetupArguments {
    std::string engine = "runc";
    std::vector<std::string> files;  // --file: these instead of the engine's
    std::string root;                // every host path below this directory (tests, images)
    std::string actionScript = "/usr/sbin/lockcr";
    bool noFileLocks = false;
    bool noFileValidation = false;
    bool noConfig = false;       // do not install lockcr.yaml
    bool installBinary = false;  // copy this binary to the action script's path (the DaemonSet)
    bool undo = false;
    bool check = false;
    // --check: the container whose org.criu.config decides which file CRIU reads.
    std::string stateFile;
    std::string bundle;
    std::optional<std::string> annotationConfig;
    std::string criu = "criu";
    std::string crun = "crun";
};

void addSetupCommand(CLI::App& app, SetupArguments& arguments);
int runSetup(const SetupArguments& arguments);
// --check; exit 1 if lockcr will not run (setup_check.cpp).
int runSetupCheck(const SetupArguments& arguments);

// The host path PATH as seen under ROOT ("" or "/": PATH itself).
std::string underRoot(const std::string& root, const std::string& path);

// examples/lockcr.yaml, built into the binary so a node gets it with the binary alone.
extern const char* const kExampleConfig;

}  // namespace lockcr
