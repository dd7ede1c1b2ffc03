#include "snapshot/commands.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "snapshot/export.h"
#include "util/error.h"
#include "util/log.h"

namespace lockcr {

namespace {

void printLine(const std::string& line) { std::printf("%s\n", line.c_str()); }

std::string rootOf(const SnapshotVerifyOptions& options) {
    if (options.root) return *options.root;
    if (options.container.pid) return containerRootOfPid(*options.container.pid);
    if (options.container.stateFile)
        return containerRootOfPid(discoverContainer(options.container).identity.initHostPid);
    throwBadInput("snapshot: name the container (--pid or --state) or its root (--root)");
}

}  // namespace

int runSnapshotCreate(const SnapshotCreateOptions& options) {
    PhaseClock clock("snapshot create");
    Container container = discoverContainer(options.container);
    clock.lap("container discovered");
    SnapshotRecord record = takeSnapshotWithExport(snapshotTargetOf(container), options.snapshot,
                                                   options.recordDirectory, options.exportVolumes);
    clock.lap("snapshot taken");
    for (const SnapshotPart& part : record.parts)
        printLine(part.mountPoint + ": " + backendName(part.backend) + " (" + part.fsType + "), " +
                  std::to_string(part.files.size()) + " files recorded" +
                  (part.data.empty() ? "" : ", data in " + part.data) +
                  (part.exported.empty() ? "" : ", exported into " + options.recordDirectory + "/" + part.exported));
    printLine("snapshot: checkpoint " + record.checkpointId + " recorded in " + options.recordDirectory + "/" +
              kSnapshotRecordFileName);
    return 0;
}

int runSnapshotVerify(const SnapshotVerifyOptions& options) {
    size_t slash = options.record.rfind('/');
    std::string recordDirectory = slash == std::string::npos ? "." : slash == 0 ? "/" : options.record.substr(0, slash);
    SnapshotRecord record = withExportedCopies(readSnapshotRecord(options.record), recordDirectory);
    SnapshotCheck check = checkSnapshot(record, rootOf(options), options.policy);
    const std::vector<std::string>& lines = options.policy == VerifyPolicy::rollback ? check.restored : check.changes;
    if (options.json) {
        printLine(nlohmann::json{
            {"checkpoint_id", record.checkpointId},
            {options.policy == VerifyPolicy::rollback ? "restored" : "changes",
             lines}}.dump(2));
    } else {
        for (const std::string& line : lines) printLine(line);
    }
    if (!check.changes.empty())
        throwFailure("snapshot verify: " + std::to_string(check.changes.size()) + " files changed since checkpoint " +
                     record.checkpointId + " (first: " + check.changes.front() + ")");
    if (!options.json && options.policy == VerifyPolicy::strict)
        printLine("snapshot verify: every recorded file matches checkpoint " + record.checkpointId);
    return 0;
}

int runSnapshotDelete(const std::string& store, const std::string& checkpointId) {
    deleteSnapshot(store, checkpointId);
    printLine("snapshot: deleted checkpoint " + checkpointId + " from " + store);
    return 0;
}

int runSnapshotPrune(const std::string& store, const PruneRule& rule) {
    if (!rule.olderThan && !rule.keepNewest && !rule.checkpointId)
        throwBadInput("snapshot prune: give --older-than, --keep or --checkpoint-id");
    for (const std::string& id : pruneSnapshots(store, rule)) printLine("snapshot: pruned checkpoint " + id);
    return 0;
}

}  // namespace lockcr
