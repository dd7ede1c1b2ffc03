// lockcr: records the file locks of a frozen container and puts them back before it runs again.
// This file only picks the face the binary was started as, and is the one place a failure is
// printed:
//   - a CRIU action script: CRIU sets CRTOOLS_SCRIPT_ACTION and passes no arguments (modes/criu_action);
//   - an OCI runtime hook: `lockcr oci-hook STAGE`, the runtime-spec state JSON on stdin (modes/oci_hook);
//   - checkpointctl's plugin `checkpointctl-locks` (a link to lockcr; modes/show_cli);
//   - the command line for people (modes/cli).
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "modes/cli.h"
#include "modes/criu_action.h"
#include "modes/oci_hook.h"
#include "modes/show_cli.h"
#include "util/error.h"
#include "util/log.h"

using namespace lockcr;

namespace {

int runMode(int argc, char** argv) {
    // Asked of every installed copy by scripts and by `lockcr setup --check`: no argument parser
    // built, no exception thrown.
    if (argc == 2 && std::strcmp(argv[1], "--version") == 0 && !std::getenv("CRTOOLS_SCRIPT_ACTION")) {
        std::printf("lockcr %s\n", LOCKCR_VERSION);
        return 0;
    }
    // CRIU runs an action script without arguments; the variable decides before any parsing, so a
    // CRIU that ever passed arguments would still get the action it asked for.
    if (const char* action = std::getenv("CRTOOLS_SCRIPT_ACTION")) return runCriuAction(action);
    if (argc >= 2 && std::strcmp(argv[1], "oci-hook") == 0) return runOciHook(argc - 1, argv + 1);
    const char* slash = argc >= 1 ? std::strrchr(argv[0], '/') : nullptr;
    if (argc >= 1 && std::strcmp(slash ? slash + 1 : argv[0], kCheckpointctlPluginName) == 0)
        return runCheckpointctlPlugin(argc, argv);
    return runCommandLine(argc, argv);
}

}  // namespace

int main(int argc, char** argv) {
    // A container with thousands of locked fds has lockcr hold many fds of its own (fdinfo files,
    // duplicates) for a moment: the soft limit goes up to the hard one (lockcr uses no select()).
    struct rlimit files {};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        (void)::setrlimit(RLIMIT_NOFILE, &files);
    }
    try {
        return runMode(argc, argv);
    } catch (const Error& error) {
        logError(error.what());
        return static_cast<int>(error.status());
    } catch (const std::exception& error) {
        logError(std::string("internal error: ") + error.what());
        return static_cast<int>(ExitStatus::failure);
    }
}
