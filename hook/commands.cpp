#include "commands.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "collect/inventory.h"
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

namespace {

void printText(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

}  // namespace

int runInspect(const InspectOptions& options) {
    PhaseClock clock("inspect");
    Container container = discoverContainer(options.container);
    clock.lap("container discovered");
    LockImage image = collectLocks(container);
    clock.lap("locks collected");
    stampImage(image);
    std::string text = options.json ? lockImageToText(image) : formatLockTable(image);
    if (options.json) text += '\n';
    printText(text);
    clock.lap("printed");
    return 0;
}

// The container is frozen for the whole collection, so the fds, locks and waiters seen together
// are one consistent state; the guard thaws it on every path unless it was frozen before.
int runDump(const DumpOptions& options) {
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
    writeLockImage(options.output, image);
    clock.lap("image written");
    logInfo("dump: wrote " + options.output);
    return 0;
}

int runVerify(const VerifyOptions& options) {
    LockImage expected = readLockImage(options.image);
    Container container = discoverContainer(options.container);
    LockImage live = collectLocks(container, {.pending = pendingBySeizing()});
    PidMapping pids = mapImagePids(expected, container, options.pidMap);
    LockDifferences differences = compareLockTables(expected, live, pids);
    std::vector<std::string> lines = differences.lines();
    if (options.json) {
        printText(nlohmann::json{{"equal", lines.empty()}, {"differences", lines}}.dump(2) + "\n");
    } else {
        for (const std::string& line : lines) printText(line + "\n");
        if (lines.empty()) printText("verify: the live locks match " + options.image + "\n");
    }
    if (!lines.empty())
        throw Error("verify: " + std::to_string(lines.size()) + " difference(s) between " + options.image +
                    " and the container; first: " + lines.front());
    return 0;
}

int runPrecheck(const PrecheckOptions& options) {
    LockImage image = readLockImage(options.image);
    UniqueFd root;
    if (options.root) {
        root = sys::openAt(AT_FDCWD, *options.root, O_PATH | O_DIRECTORY);
    } else {
        Container container = discoverContainer(options.container);
        root = sys::openAt(AT_FDCWD, "/proc/" + std::to_string(container.identity.initHostPid) + "/root", O_PATH | O_DIRECTORY);
    }
    PrecheckReport report = precheckImage(image, root.get());
    std::vector<std::string> conflicts;
    for (const Conflict& conflict : report.conflicts) conflicts.push_back(conflict.line());
    if (options.json) {
        printText(nlohmann::json{{"conflicts", conflicts}, {"unreachable", report.unreachable}}.dump(2) + "\n");
    } else {
        for (const std::string& line : conflicts) printText("conflict: " + line + "\n");
        for (const std::string& line : report.unreachable) printText("unchecked: " + line + "\n");
        if (conflicts.empty() && report.unreachable.empty()) printText("precheck: no lock of " + options.image + " is held outside\n");
    }
    if (!conflicts.empty()) throw Error("precheck: " + std::to_string(conflicts.size()) + " lock(s) held outside; first: " + conflicts.front());
    if (!report.unreachable.empty()) throw Error("precheck: " + std::to_string(report.unreachable.size()) + " file(s) could not be checked; first: " + report.unreachable.front());
    return 0;
}

}  // namespace lockcr

namespace lockcr {

int runReplay(const ReplayOptions& options) {
    PhaseClock clock("replay");
    LockImage image = readLockImage(options.image);
    clock.lap("image read");
    Container container = discoverContainer(options.container);
    clock.lap("container discovered");
    ReplaySettings settings;
    settings.useFreezer = options.freeze;
    settings.conflicts = options.conflicts;
    settings.waitTimeout = options.waitTimeout;
    settings.pidMap = options.pidMap;
    settings.onFailure = options.onFailure;
    ReplayResult result = replayImage(image, container, settings);
    std::printf("replay: %zu POSIX lock(s) in %zu process(es), %zu description lock(s) set, %zu already in place; verified\n",
                result.posixLocksSet, result.processesInjected, result.descriptionLocksSet, result.alreadyInPlace);
    return 0;
}

}  // namespace lockcr
