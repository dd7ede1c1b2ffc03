#include "modes/snapshot_cli.h"

#include <linux/capability.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>

#include "util/capabilities.h"
#include "util/error.h"
#include "util/text.h"

namespace lockcr {

namespace {

void addContainer(CLI::App* command, ContainerSelector& selector) {
    command->add_option("--pid", selector.pid, "host pid of the container's init process");
    command->add_option("--state", selector.stateFile, "OCI state JSON file (- for stdin)");
}

void addRecordAndRoot(CLI::App* command, SnapshotCommandLine& parsed) {
    command->add_option("--record", parsed.verify.record, "lockcr-snapshot.json, or the directory holding it")
        ->required();
    addContainer(command, parsed.verify.container);
    command->add_option("--root", parsed.verify.root, "the container's root as seen from the host (instead of --pid)");
    command->add_flag("--json", parsed.verify.json, "print the result as JSON");
}

// "90", "90s", "15m", "12h", "7d".
std::chrono::seconds parseAge(const std::string& text) {
    static const std::pair<char, long> kUnits[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    long unit = 1;
    std::string digits = text;
    for (auto [suffix, seconds] : kUnits)
        if (!text.empty() && text.back() == suffix) {
            unit = seconds;
            digits.pop_back();
        }
    std::optional<uint64_t> value = parseUnsignedNumber(digits);
    if (!value || *value > uint64_t{1} << 40)
        throwBadInput("--older-than " + quotedForMessage(text) + ": expected N, Ns, Nm, Nh or Nd");
    return std::chrono::seconds(static_cast<long>(*value) * unit);
}

}  // namespace

void addSnapshotCommands(CLI::App& app, SnapshotCommandLine& parsed) {
    CLI::App* snapshot = app.add_subcommand(
        "snapshot", "filesystem snapshot of a container: create, verify, rollback, delete, prune");
    snapshot->require_subcommand(1);
    parsed.command = snapshot;

    CLI::App* create = snapshot->add_subcommand("create", "snapshot the filesystems a (frozen) container writes to");
    addContainer(create, parsed.create.container);
    create
        ->add_option("--record-dir", parsed.create.recordDirectory,
                     "where to write lockcr-snapshot.json (CRIU's image directory)")
        ->required();
    create->add_option("--store", parsed.store, "where the snapshot data goes")->capture_default_str();
    create->add_option("--checkpoint-id", parsed.checkpointId,
                       "name of the snapshot in the store (default pid-PID-TIME)");
    create->add_flag("--whole-volumes", parsed.create.snapshot.wholeVolumes,
                     "record every file of volumes on neither btrfs nor overlay, not only the open ones");
    create->add_flag("--export-volumes", parsed.create.exportVolumes,
                     "copy the volumes' recorded files into the record directory, so that they travel with the "
                     "checkpoint (rollback on a host without the snapshot store)");

    CLI::App* verify = snapshot->add_subcommand("verify", "compare a container's files with a snapshot record");
    addRecordAndRoot(verify, parsed);
    verify->add_option("--policy", parsed.policy, "strict | rollback | off")
        ->check(CLI::IsMember({"strict", "rollback", "off"}));

    CLI::App* rollback = snapshot->add_subcommand("rollback", "put the snapshot's bytes back on every changed file");
    addRecordAndRoot(rollback, parsed);

    CLI::App* remove = snapshot->add_subcommand("delete", "remove one checkpoint's snapshot data");
    remove->add_option("--store", parsed.store, "the snapshot store")->capture_default_str();
    remove->add_option("--checkpoint-id", parsed.checkpointId, "the checkpoint to remove")->required();

    CLI::App* prune = snapshot->add_subcommand("prune", "remove snapshots by age, count or checkpoint id");
    prune->add_option("--store", parsed.store, "the snapshot store")->capture_default_str();
    prune->add_option("--older-than", parsed.olderThan, "remove those older than N[smhd]");
    prune->add_option("--keep", parsed.keep, "keep only the N newest");
    prune->add_option("--checkpoint-id", parsed.checkpointId, "remove this one");
}

bool runSnapshotCommand(const std::string& command, SnapshotCommandLine& parsed, int& status) {
    if (command != "snapshot") return false;
    // /proc/PID/root and fds (ptrace), reading and restoring any file with its owner and mode,
    // whiteouts (mknod), btrfs snapshots and trusted.* attributes (sys_admin).
    keepOnlyCapabilities({CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_CHOWN, CAP_FSETID,
                          CAP_MKNOD, CAP_SYS_ADMIN});
    const std::string action = parsed.command->get_subcommands().front()->get_name();
    std::string& record = parsed.verify.record;
    struct stat recordStatus {};
    if (!record.empty() && ::stat(record.c_str(), &recordStatus) == 0 && S_ISDIR(recordStatus.st_mode))
        record += std::string("/") + kSnapshotRecordFileName;
    if (action == "create") {
        parsed.create.snapshot.store = parsed.store;
        parsed.create.snapshot.checkpointId = parsed.checkpointId;
        status = runSnapshotCreate(parsed.create);
    } else if (action == "verify" || action == "rollback") {
        parsed.verify.policy = action == "rollback" ? VerifyPolicy::rollback : parseVerifyPolicy(parsed.policy);
        status = runSnapshotVerify(parsed.verify);
    } else if (action == "delete") {
        status = runSnapshotDelete(parsed.store, parsed.checkpointId);
    } else {
        PruneRule rule;
        if (!parsed.olderThan.empty()) rule.olderThan = parseAge(parsed.olderThan);
        rule.keepNewest = parsed.keep;
        if (!parsed.checkpointId.empty()) rule.checkpointId = parsed.checkpointId;
        status = runSnapshotPrune(parsed.store, rule);
    }
    return true;
}

}  // namespace lockcr
