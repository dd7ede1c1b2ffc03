#include "modes/show_cli.h"

#include <linux/capability.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "report/checkpoint_report.h"
#include "show/checkpoint_view.h"
#include "util/capabilities.h"
#include "util/error.h"
#include "util/log.h"

namespace lockcr {

namespace {

// The same arguments for `lockcr show` and for checkpointctl-locks.
void addShowArguments(CLI::App* command, ShowOptions& options) {
    command
        ->add_option("checkpoint", options.checkpoint,
                     "podman --export or CRI-O/kubelet archive (tar, gzip, zstd), or CRIU image directory")
        ->required();
    command->add_flag("--json", options.json, "print one JSON document");
}

}  // namespace

void addShowCommand(CLI::App& app, ShowOptions& options) {
    addShowArguments(app.add_subcommand("show",
                                        "show the file locks a checkpoint recorded (archive or CRIU image "
                                        "directory), lockcr's and CRIU's"),
                     options);
}

int runShow(const ShowOptions& options) {
    // Reading files is all it does; root may need to read 0600 images of other owners. A container
    // started without CAP_DAC_READ_SEARCH (podman's default set) cannot keep it: it keeps none then.
    try {
        keepOnlyCapabilities({CAP_DAC_READ_SEARCH});
    } catch (const Error&) {
        keepOnlyCapabilities({});
    }
    CheckpointView view = readCheckpointView(options.checkpoint);
    std::string out = options.json ? checkpointReportToJson(view).dump(2) + "\n" : formatCheckpointReport(view);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : static_cast<int>(ExitStatus::failure);
}

int runCheckpointctlPlugin(int argc, char** argv) {
    // First and cheap: checkpointctl waits 500 ms for this answer on every listing.
    if (argc == 2 && std::strcmp(argv[1], "--plugin-description") == 0) {
        std::printf("Show the file locks a checkpoint recorded: lockcr's record beside CRIU's filelocks.img\n");
        std::fflush(stdout);
        return kPluginDescriptionExitStatus;
    }
    CLI::App app{"checkpointctl locks: the file locks a checkpoint recorded (lockcr show)", kCheckpointctlPluginName};
    app.set_version_flag("--version", std::string("lockcr ") + LOCKCR_VERSION);
    ShowOptions options;
    addShowArguments(&app, options);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& help) {
        return app.exit(help);
    } catch (const CLI::CallForVersion&) {
        std::printf("lockcr %s\n", LOCKCR_VERSION);
        return 0;
    } catch (const CLI::ParseError& error) {
        std::fprintf(stderr, "%s: %s (see %s --help)\n", kCheckpointctlPluginName, error.what(),
                     kCheckpointctlPluginName);
        return static_cast<int>(ExitStatus::badInput);
    }
    configureLog({true, "", false, false});
    return runShow(options);
}

}  // namespace lockcr
