#include "commands.h"

#include <nlohmann/json.hpp>

#include "collect/inventory.h"
#include "config/config.h"
#include "criu/checkpoint_files.h"
#include "criu/restore_state.h"
#include "freeze/freezer.h"
#include "image/host.h"
#include "image/json.h"
#include "replay/pending_calls.h"
#include "replay/precheck.h"
#include "replay/replay.h"
#include "report/table.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sys.h"
#include "verify/verify.h"

namespace lockcr {

CommandResult runInspect(const InspectOptions& options) {
    PhaseClock clock("inspect");
    Container container = discoverContainer(options.container);
    clock.lap("container discovered");
    LockImage image = collectLocks(container, {.heldStill = false});  // a look at a running container
    clock.lap("locks collected");
    stampImage(image);
    CommandResult result;
    if (options.json) {
        result.moreOutput = lockImageToPieces(image);  // 2.8 MB for 20,000 locks: not joined or copied
        result.moreOutput.back() += '\n';
    } else {
        result.output = formatLockTable(image);
    }
    clock.lap("formatted");
    result.keptUntilExit = std::make_shared<LockImage>(std::move(image));
    return result;
}

// The container is frozen for the whole collection, so the fds, locks and waiters seen together
// are one consistent state; the guard thaws it on every path unless it was frozen before.
CommandResult runDump(const DumpOptions& options) {
    PhaseClock clock("dump");
    Container container = discoverContainer(options.container);
    clock.lap("container discovered");
    FrozenCgroup frozen;
    if (options.freeze) {
        if (container.cgroupVersion == CgroupVersion::none)
            throwFailure("dump: container of pid " + std::to_string(container.identity.initHostPid) +
                         " has no cgroup to freeze (use --no-freeze if the caller keeps it still)");
        frozen = FrozenCgroup::freeze(container.cgroupVersion, container.cgroupDirectory);
        refreshTasks(container);  // tasks forked before the freeze completed are members too
        clock.lap("frozen");
    }
    LockImage image = collectLocks(container);
    clock.lap("locks collected");
    frozen.thaw();
    clock.lap("thawed");
    stampImage(image);
    writeLockImage(options.output, image, &clock);
    logInfo("dump: wrote " + options.output);
    CommandResult result;
    result.keptUntilExit = std::make_shared<LockImage>(std::move(image));
    return result;
}

CommandResult runReplay(const ReplayOptions& options) {
    PhaseClock clock("replay");
    LockImage image = readLockImage(options.image);
    clock.lap("image read");
    Container container = discoverContainer(options.container);
    clock.lap("container discovered");
    ReplayResult result = replayImage(image, container, options.settings);
    return {"replay: " + std::to_string(result.posixLocksSet) + " POSIX lock(s) in " +
                std::to_string(result.processesInjected) + " process(es), " +
                std::to_string(result.descriptionLocksSet) + " description lock(s) set, " +
                std::to_string(result.alreadyInPlace) + " already in place; verified\n",
            std::nullopt};
}

CommandResult runVerify(const VerifyOptions& options) {
    LockImage expected = readLockImage(options.image);
    Container container = discoverContainer(options.container);
    // A live look, as inspect: a process that comes or goes shows in the differences.
    LockImage live = collectLocks(container, {.pending = pendingBySeizing(), .heldStill = false});
    PidMapping pids = mapImagePids(expected, container, options.pidMap);
    LockDifferences differences = compareLockTables(expected, live, pids);
    std::vector<std::string> lines = differences.lines();
    CommandResult result;
    if (options.json) {
        result.output = nlohmann::json{{"equal", lines.empty()}, {"differences", lines}}.dump(2) + "\n";
    } else {
        for (const std::string& line : lines) result.output += line + "\n";
        if (lines.empty()) result.output += "verify: the live locks match " + options.image + "\n";
    }
    if (!lines.empty())
        result.failure = Error("verify: " + std::to_string(lines.size()) + " difference(s) between " + options.image +
                               " and the container; first: " + lines.front());
    return result;
}

CommandResult runPrecheck(const PrecheckOptions& options) {
    LockImage image = readLockImage(options.image);
    UniqueFd root;
    if (options.root) {
        root = sys::openAt(AT_FDCWD, *options.root, O_PATH | O_DIRECTORY);
    } else {
        Container container = discoverContainer(options.container);
        root = sys::openAt(AT_FDCWD, "/proc/" + std::to_string(container.identity.initHostPid) + "/root",
                           O_PATH | O_DIRECTORY);
    }
    PrecheckReport report = precheckImage(image, root.get());
    std::vector<std::string> conflicts;
    for (const Conflict& conflict : report.conflicts) conflicts.push_back(conflict.line());
    CommandResult result;
    if (options.json) {
        result.output = nlohmann::json{{"conflicts", conflicts}, {"unreachable", report.unreachable}}.dump(2) + "\n";
    } else {
        for (const std::string& line : conflicts) result.output += "conflict: " + line + "\n";
        for (const std::string& line : report.unreachable) result.output += "unchecked: " + line + "\n";
        if (conflicts.empty() && report.unreachable.empty())
            result.output += "precheck: no lock of " + options.image + " is held outside\n";
    }
    if (!conflicts.empty())
        result.failure = Error("precheck: " + std::to_string(conflicts.size()) +
                               " lock(s) held outside; first: " + conflicts.front());
    else if (!report.unreachable.empty())
        result.failure = Error("precheck: " + std::to_string(report.unreachable.size()) +
                               " file(s) could not be checked; first: " + report.unreachable.front());
    return result;
}

namespace {

// What a restore's state says, checked against the machine now: an in-progress restore whose CRIU
// is gone was interrupted (lockcr or CRIU killed), and a container's cgroup may be frozen.
std::string restoreCondition(const RestoreState& state, bool& frozen) {
    frozen = false;
    if (!state.cgroupDirectory.empty()) {
        try {
            frozen = isCgroupFrozen(state.cgroupVersion == "v1" ? CgroupVersion::v1 : CgroupVersion::v2,
                                    state.cgroupDirectory);
        } catch (const Error&) {  // the cgroup is gone with the container
        }
    }
    if (state.outcome != RestoreOutcome::inProgress) return restoreOutcomeName(state.outcome);
    return criuStillRuns(state.key) ? "in-progress" : "interrupted";
}

}  // namespace

CommandResult runStatus(const StatusOptions& options) {
    std::vector<RestoreState> states = listRestoreStates();
    nlohmann::json list = nlohmann::json::array();
    std::string text;
    for (const RestoreState& state : states) {
        bool frozen = false;
        std::string condition = restoreCondition(state, frozen);
        list.push_back({{"key", state.key},
                        {"container", state.containerId},
                        {"init_pid", state.initPid},
                        {"stage", state.stage},
                        {"condition", condition},
                        {"frozen", frozen},
                        {"detail", state.detail},
                        {"updated", state.updated}});
        text += state.key + " " + (state.containerId.empty() ? "-" : state.containerId) + " init " +
                std::to_string(state.initPid) + ": " + condition + " after " + state.stage +
                (frozen ? ", container FROZEN" : "") + (state.detail.empty() ? "" : ": " + state.detail) + "\n";
        if (frozen && condition != "restored")
            text += "  to finish it: lockcr recover " + state.key + "   (or kill the container)\n";
        else if (condition == "interrupted" || condition == "failed-killed")
            text +=
                "  its tasks were killed rather than run without their locks: restore it again from the checkpoint\n";
    }
    if (options.json) return {list.dump(2) + "\n"};
    return {text.empty() ? "status: no restore recorded in " + runDirectory() + "/restores\n" : text};
}

CommandResult runRecover(const RecoverOptions& options) {
    std::optional<RestoreState> state = readRestoreState(options.key);
    if (!state)
        throwBadInput("recover: no restore " + options.key + " in " + runDirectory() + "/restores (see lockcr status)");
    if (state->outcome == RestoreOutcome::restored)
        throwBadInput("recover: restore " + options.key + " already finished");
    std::string directory = restoreDirectory(options.key);
    LockImage image = readLockImage(directory + "/" + kLockImageFileName);
    CheckpointRecord record = readCheckpointRecord(directory);
    Policies policies = applyAnnotations(readPolicies(configPath()), record.annotations);
    Container container = discoverContainerOfPid(state->initPid);
    ReplaySettings settings = replaySettingsOf(policies);
    // The container is frozen: recover never lets it run without its locks.
    if (settings.onFailure == FailurePolicy::resume) settings.onFailure = FailurePolicy::freeze;
    ReplayResult result = replayImage(image, container, settings);
    writeFreezeState(container.cgroupVersion, container.cgroupDirectory, false);
    state->outcome = RestoreOutcome::restored;
    state->detail = "recovered: " + std::to_string(result.posixLocksSet + result.descriptionLocksSet) +
                    " lock(s) set, " + std::to_string(result.alreadyInPlace) + " already in place; verified";
    writeRestoreState(*state);
    return {"recover: " + options.key + ": " + state->detail + "; thawed\n"};
}

}  // namespace lockcr
