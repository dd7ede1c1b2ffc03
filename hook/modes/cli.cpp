// The command-line face of lockcr: parses arguments, runs one command (commands.h; setup in
// setup_cli.cpp, snapshot in snapshot_cli.cpp) and prints what it returns, in one place. Errors
// propagate to main.cpp, the one place that prints them.
#include "modes/cli.h"

#include <linux/capability.h>

#include <CLI/CLI.hpp>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "commands.h"
#include "modes/snapshot_cli.h"
#include "modes/setup_cli.h"
#include "modes/show_cli.h"
#include "util/capabilities.h"
#include "util/error.h"
#include "util/log.h"
#include "util/text.h"

namespace lockcr {

namespace {

// "1:4321,2:4400": container pid -> host pid.
std::map<pid_t, pid_t> parsePidMap(const std::string& text) {
    std::map<pid_t, pid_t> map;
    size_t position = 0;
    while (position < text.size()) {
        size_t comma = text.find(',', position);
        std::string pair = text.substr(position, comma == std::string::npos ? std::string::npos : comma - position);
        size_t colon = pair.find(':');
        std::optional<uint64_t> from, to;
        if (colon != std::string::npos) {
            from = parseUnsignedNumber(std::string_view(pair).substr(0, colon), 10, INT_MAX);
            to = parseUnsignedNumber(std::string_view(pair).substr(colon + 1), 10, INT_MAX);
        }
        bool ok = from && to && *from > 0 && *to > 0;
        if (!ok) throwBadInput("--pid-map: \"" + pair + "\" is not CONTAINER_PID:HOST_PID");
        if (!map.emplace(static_cast<pid_t>(*from), static_cast<pid_t>(*to)).second)
            throwBadInput("--pid-map: container pid " + std::to_string(*from) + " given twice");
        if (comma == std::string::npos) break;
        position = comma + 1;
    }
    return map;
}

void addContainerOptions(CLI::App* command, ContainerSelector& selector) {
    command->add_option("--pid", selector.pid, "host pid of the container's init process");
    command->add_option("--state", selector.stateFile, "OCI state JSON file (- for stdin)");
}

// A command's output to stdout; then its failure (verify's differences, precheck's conflicts) goes
// on to main.cpp like any other.
int printResult(const CommandResult& result) {
    std::fwrite(result.output.data(), 1, result.output.size(), stdout);
    for (const std::string& piece : result.moreOutput) std::fwrite(piece.data(), 1, piece.size(), stdout);
    // Output that did not reach its file (a full disk, a closed pipe) is a failure, not exit 0.
    if (std::fflush(stdout) != 0) throwErrno("write the output to standard output");
    if (result.failure) throw *result.failure;
    // Nothing is left to do but free: std::exit flushes stdio and leaves the stack, and what it
    // holds, to the kernel. (Every guard of the command, a freeze, a temporary file, has ended.)
    if (result.keptUntilExit) std::exit(0);
    return 0;
}

// The capabilities each command uses, nothing more.
void dropCapabilitiesFor(const std::string& command) {
    if (command == "replay" || command == "recover")
        keepOnlyCapabilities({CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_LEASE, CAP_FOWNER, CAP_KILL});
    else if (command == "setup")  // writes /etc/criu and /etc/lockcr, keeps the files' modes
        keepOnlyCapabilities({CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER});
    else keepOnlyCapabilities({CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH});
}

}  // namespace

int runCommandLine(int argc, char** argv) {
    CLI::App app{"lockcr: checkpoint/restore of file locks for containers"};
    app.set_version_flag("--version", std::string("lockcr ") + LOCKCR_VERSION);
    app.require_subcommand(1);
    bool verbose = false;
    std::string logFile;
    app.add_flag("-v,--verbose", verbose, "log progress to stderr");
    app.add_option("--log-file", logFile, "also append log lines to this file");

    InspectOptions inspect;
    CLI::App* inspectCommand = app.add_subcommand("inspect", "show the file locks of a running container");
    addContainerOptions(inspectCommand, inspect.container);
    inspectCommand->add_flag("--json", inspect.json, "print the lock image JSON");

    DumpOptions dump;
    CLI::App* dumpCommand = app.add_subcommand("dump", "freeze the container and write its lock image");
    addContainerOptions(dumpCommand, dump.container);
    dumpCommand->add_option("-o,--output", dump.output, "lock image file to write")->required();
    bool noFreeze = false;
    dumpCommand->add_flag("--no-freeze", noFreeze, "do not freeze (the caller holds the container still)");

    ReplayOptions replay;
    std::string replayPidMap, conflictPolicy = "fail";
    double waitSeconds = 10;
    CLI::App* replayCommand = app.add_subcommand("replay", "put the locks of an image back into a container");
    replayCommand->add_option("image", replay.image, "lock image")->required();
    addContainerOptions(replayCommand, replay.container);
    replayCommand->add_option("--pid-map", replayPidMap, "CONTAINER_PID:HOST_PID,... instead of NSpid");
    replayCommand->add_option("--conflict", conflictPolicy, "fail | wait: what to do when a lock is held outside")
        ->check(CLI::IsMember({"fail", "wait"}));
    replayCommand->add_option("--wait-timeout", waitSeconds, "seconds to wait for an outside holder (policy wait)")
        ->check(CLI::Range(0.0, 3600.0));
    bool replayNoFreeze = false;
    replayCommand->add_flag("--no-freeze", replayNoFreeze, "hold the targets with ptrace only");
    std::string onFailure = "resume";
    replayCommand
        ->add_option("--on-failure", onFailure,
                     "resume | freeze | kill: what the container does if replay fails, once everything it set is "
                     "removed: runs on as it was (without those locks), stays frozen (never runs without them), or "
                     "is killed")
        ->check(CLI::IsMember({"resume", "freeze", "kill"}));

    VerifyOptions verify;
    std::string verifyPidMap;
    CLI::App* verifyCommand = app.add_subcommand("verify", "compare a container's live locks with an image");
    verifyCommand->add_option("image", verify.image, "lock image")->required();
    addContainerOptions(verifyCommand, verify.container);
    verifyCommand->add_option("--pid-map", verifyPidMap, "CONTAINER_PID:HOST_PID,... instead of NSpid");
    verifyCommand->add_flag("--json", verify.json, "print the differences as JSON");

    PrecheckOptions precheck;
    CLI::App* precheckCommand = app.add_subcommand("precheck", "report locks held outside that would block a restore");
    precheckCommand->add_option("image", precheck.image, "lock image")->required();
    precheckCommand->add_option("--root", precheck.root, "the container's root directory on the host");
    addContainerOptions(precheckCommand, precheck.container);
    precheckCommand->add_flag("--json", precheck.json, "print conflicts as JSON");

    StatusOptions status;
    CLI::App* statusCommand = app.add_subcommand("status", "what became of each restore the CRIU action ran");
    statusCommand->add_flag("--json", status.json, "print JSON");

    RecoverOptions recover;
    CLI::App* recoverCommand = app.add_subcommand("recover",
                                                  "finish a restore left frozen: replay its locks again, then thaw");
    recoverCommand->add_option("key", recover.key, "the restore, as lockcr status names it")->required();

    SnapshotCommandLine snapshot;
    addSnapshotCommands(app, snapshot);

    SetupArguments setup;
    addSetupCommand(app, setup);
    ShowOptions show;
    addShowCommand(app, show);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& help) {
        return app.exit(help);
    } catch (const CLI::CallForAllHelp& help) {
        return app.exit(help);
    } catch (const CLI::CallForVersion&) {
        std::printf("lockcr %s\n", LOCKCR_VERSION);
        return 0;
    } catch (const CLI::ParseError& error) {
        std::string message = error.what();
        std::fprintf(stderr, "lockcr: %s (see lockcr --help)\n", message.c_str());
        return static_cast<int>(ExitStatus::badInput);
    }

    configureLog({true, logFile, false, verbose});
    const std::string command = app.get_subcommands().front()->get_name();
    if (int exitStatus = 0; runSnapshotCommand(command, snapshot, exitStatus)) return exitStatus;
    if (command == "show") return runShow(show);  // drops its own capabilities
    dropCapabilitiesFor(command);
    if (command == "inspect") return printResult(runInspect(inspect));
    if (command == "status") return printResult(runStatus(status));
    if (command == "recover") return printResult(runRecover(recover));
    if (command == "setup") return runSetup(setup);
    if (command == "dump") {
        dump.freeze = !noFreeze;
        return printResult(runDump(dump));
    }
    if (command == "replay") {
        replay.settings.pidMap = parsePidMap(replayPidMap);
        replay.settings.conflicts = conflictPolicy == "wait" ? ConflictPolicy::wait : ConflictPolicy::fail;
        replay.settings.waitTimeout = std::chrono::milliseconds(static_cast<long>(waitSeconds * 1000));
        replay.settings.useFreezer = !replayNoFreeze;
        replay.settings.onFailure = onFailure == "freeze" ? FailurePolicy::freeze
                                    : onFailure == "kill" ? FailurePolicy::kill
                                                          : FailurePolicy::resume;
        return printResult(runReplay(replay));
    }
    if (command == "verify") {
        verify.pidMap = parsePidMap(verifyPidMap);
        return printResult(runVerify(verify));
    }
    return printResult(runPrecheck(precheck));
}

}  // namespace lockcr
