// What lockcr does at each CRIU action (DESIGN.md has the table of what each stage allows):
//   post-dump         tasks frozen by CRIU: record the lock image and the checkpoint record into
//                     the image directory (so they travel with the checkpoint)
//   pre-restore       nothing restored yet: check the record, copy it to /run/lockcr/restores/KEY
//                     (CRIU empties the image directory before post-resume), set CRIU's own
//                     filelocks.img aside so CRIU never sets a lock with a blocking call
//   post-restore      tasks restored and traced by CRIU, nothing runs: put filelocks.img back;
//                     any lock held outside aborts the restore here (policy fail), or is waited
//                     for up to the bound (policy wait): the last point CRIU can still abort
//   pre-resume        CRIU is about to detach: move CRIU and ourselves out of the container's
//                     cgroup and freeze it, so no restored task runs when CRIU lets go
//   post-resume       replay every lock under that barrier, verify, thaw; on failure the
//                     container stays frozen, is killed or runs on (policy on-failure)
// CRIU 4.1 runs every action twice: each step finds what the first run did and does not redo it.
#include "modes/criu_action.h"

#include <linux/capability.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <exception>
#include <optional>
#include <chrono>
#include <filesystem>
#include <thread>

#include "collect/inventory.h"
#include "config/config.h"
#include "criu/checkpoint_files.h"
#include "criu/environment.h"
#include "criu/restore_state.h"
#include "discover/registration.h"
#include "freeze/freezer.h"
#include "image/host.h"
#include "image/json.h"
#include "replay/precheck.h"
#include "replay/replay.h"
#include "snapshot/export.h"
#include "snapshot/record.h"
#include "snapshot/snapshot.h"
#include "snapshot/store.h"
#include "snapshot/verify.h"
#include "util/atomic_file.h"
#include "util/capabilities.h"
#include "util/error.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/sys.h"

namespace lockcr {

namespace {

pid_t requireInitPid(const CriuEnvironment& environment) {
    if (!environment.initPid) throwBadInput("CRIU did not set CRTOOLS_INIT_PID at " + environment.actionName);
    return *environment.initPid;
}

const std::string& requireImageDirectory(const CriuEnvironment& environment) {
    if (environment.imageDirectory.empty())
        throwBadInput("CRIU did not set CRTOOLS_IMAGE_DIR at " + environment.actionName);
    return environment.imageDirectory;
}

std::string containerName(const std::string& id, pid_t initPid) {
    if (!id.empty()) return "container " + id;
    return initPid ? "container of init pid " + std::to_string(initPid) : "container";
}

std::string describeImage(const LockImage& image) {
    return std::to_string(countLocks(image)) + " lock(s) of " + std::to_string(image.processes.size()) +
           " process(es), " + std::to_string(image.waiters.size()) + " waiter(s)";
}

// ---- Checkpoint ---------------------------------------------------------------------------------

// The snapshot's name in the store: the container (or its init's pid) and the CRIU process that
// dumps it, so two checkpoints of one container never share a name, and CRIU 4.1's second run of
// post-dump finds the first one's.
std::string snapshotIdFor(const std::string& containerId, pid_t initPid) {
    std::string id = containerId.empty() ? "pid-" + std::to_string(initPid) : containerId.substr(0, 80);
    for (char& c : id)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
    return id + "-" + restoreKeyOf(::getppid());
}

std::string collectIntoCheckpoint(const CriuEnvironment& environment, const Policies& hostPolicies,
                                  const std::string& criuKey, std::string& name);

std::string recordCheckpoint(const CriuEnvironment& environment, const Policies& hostPolicies, std::string& name) {
    const std::string& directory = requireImageDirectory(environment);
    std::string criuKey = restoreKeyOf(::getppid());
    // CRIU 4.1's second run: done, or failed in the first (CRIU runs it again all the same).
    if (dumpAlreadyRecorded(criuKey) && checkpointHasLockcrRecord(directory)) return "already recorded";
    if (std::optional<std::string> failed = dumpFailureOf(criuKey))
        throwFailure("the first post-dump of this checkpoint failed: " + *failed);
    try {
        return collectIntoCheckpoint(environment, hostPolicies, criuKey, name);
    } catch (const Error& error) {
        markDumpFailed(criuKey, error.what());
        throw;
    }
}

std::string collectIntoCheckpoint(const CriuEnvironment& environment, const Policies& hostPolicies,
                                  const std::string& criuKey, std::string& name) {
    pid_t initPid = requireInitPid(environment);
    const std::string& directory = requireImageDirectory(environment);
    std::optional<Registration> registration = registrationOfPid(initPid);
    CheckpointRecord record;
    if (registration) {
        record.containerId = registration->id;
        record.annotations = registration->annotations;
    }
    name = containerName(record.containerId, initPid);
    Policies policies = applyAnnotations(hostPolicies, record.annotations);  // a bad annotation fails the dump
    if (!policies.enabled) return "disabled by io.lockcr.enabled: nothing recorded";
    Container container = discoverContainerOfPid(initPid);
    if (registration) {
        container.identity.id = registration->id;
        container.identity.bundle = registration->bundle;
    }
    // The snapshot is taken beside the collection: both only read the frozen container, and the
    // snapshot's waits (fsync of its copies and record) overlap the collection's work.
    SnapshotOptions options;
    options.store = policies.snapshotStore;
    options.checkpointId = snapshotIdFor(record.containerId, initPid);
    std::optional<SnapshotRecord> snapshot;
    std::exception_ptr snapshotFailure;
    std::thread snapshotter;
    if (policies.snapshot) {
        snapshotter = std::thread([&, target = snapshotTargetOf(container)] {
            try {
                snapshot = takeSnapshotWithExport(target, options, directory,
                                                  policies.snapshotExport == SnapshotExportPolicy::volumes);
            } catch (...) {
                snapshotFailure = std::current_exception();
            }
        });
    }
    LockImage image;
    try {
        image = collectLocks(container);
        stampImage(image);
        writeLockImage(checkpointFile(directory, kLockImageFileName), image);
    } catch (...) {
        if (snapshotter.joinable()) snapshotter.join();
        try {
            if (snapshot) deleteSnapshot(options.store, snapshot->checkpointId);  // the checkpoint fails: not kept
        } catch (const Error& error) {
            logWarning("post-dump: the snapshot taken beside the failed collection is left in the store: " +
                       std::string(error.what()));
        }
        throw;
    }
    std::string snapshotDone;
    if (snapshotter.joinable()) {
        snapshotter.join();
        if (snapshotFailure) std::rethrow_exception(snapshotFailure);
        record.snapshotRecord = kSnapshotRecordFileName;
        size_t files = 0;
        for (const SnapshotPart& part : snapshot->parts) files += part.files.size();
        snapshotDone = "; snapshot " + snapshot->checkpointId + ": " + std::to_string(snapshot->parts.size()) +
                       " filesystem(s), " + std::to_string(files) + " file(s)";
    }
    record.tool = std::string("lockcr ") + LOCKCR_VERSION;
    record.created = image.createdAt;
    // Written last: a checkpoint has a lockcr record only once everything it names is in place.
    writeCheckpointRecord(directory, record);
    markDumpRecorded(criuKey);
    return describeImage(image) + " recorded" + snapshotDone;
}

// ---- Restore ------------------------------------------------------------------------------------

// The state of this restore (its CRIU is our parent), and the policies for it: the host's file,
// then the annotations the checkpoint carries.
struct Restore {
    RestoreState state;
    CheckpointRecord record;
    Policies policies;
    std::string directory;  // /run/lockcr/restores/KEY
};

std::optional<Restore> currentRestore(const Policies& hostPolicies) {
    std::string key = restoreKeyOf(::getppid());
    std::optional<RestoreState> state = readRestoreState(key);
    if (!state) return std::nullopt;
    Restore restore;
    restore.state = *state;
    restore.directory = restoreDirectory(key);
    restore.record = readCheckpointRecord(restore.directory);
    restore.policies = applyAnnotations(hostPolicies, restore.record.annotations);
    return restore;
}

VerifyPolicy verifyPolicyOf(FilesystemPolicy policy) {
    return policy == FilesystemPolicy::rollback ? VerifyPolicy::rollback
           : policy == FilesystemPolicy::off    ? VerifyPolicy::off
                                                : VerifyPolicy::strict;
}

// Strict: every changed file is one line in the log, and the restore is refused naming the first.
void refuseChangedFiles(const std::vector<std::string>& changes, RestoreState& state) {
    if (changes.empty()) return;
    for (const std::string& line : changes) logError("changed since the checkpoint: " + line);
    state.outcome = RestoreOutcome::aborted;
    state.detail = changes.front();
    writeRestoreState(state);
    throwFailure(
        std::to_string(changes.size()) +
        " file(s) changed since the checkpoint (filesystem: strict), restore refused; first: " + changes.front());
}

// The filesystem stage at restore, before CRIU opens anything: the snapshot's files checked (or
// rolled back) through their host sources; what can only be reached through the container's root
// is kept for post-restore in the restore's directory.
std::string checkFilesAtSources(const std::string& imageDirectory, const CheckpointRecord& record,
                                const Policies& policies, RestoreState& state) {
    if (!record.snapshotRecord || policies.filesystem == FilesystemPolicy::off) return "";
    SnapshotRecord snapshot =
        withExportedCopies(readSnapshotRecord(imageDirectory + "/" + *record.snapshotRecord), imageDirectory);
    SourceCheck checked = checkSnapshotAtSources(snapshot, verifyPolicyOf(policies.filesystem));
    refuseChangedFiles(checked.check.changes, state);
    for (const std::string& line : checked.check.restored) logNotice("rolled back: " + line);
    if (!checked.remaining.parts.empty()) writeSnapshotRecord(restoreDirectory(state.key), checked.remaining);
    size_t files = 0;
    for (const SnapshotPart& part : snapshot.parts) files += part.files.size();
    return "; " + std::to_string(files) + " recorded file(s) " +
           (checked.check.restored.empty() ? "checked"
                                           : std::to_string(checked.check.restored.size()) + " rolled back") +
           (checked.remaining.parts.empty()
                ? ""
                : ", " + std::to_string(checked.remaining.parts.size()) + " filesystem(s) left for post-restore");
}

std::string prepareRestore(const CriuEnvironment& environment, const Policies& hostPolicies, std::string& name) {
    const std::string& directory = requireImageDirectory(environment);
    if (std::optional<RestoreState> done = readRestoreState(restoreKeyOf(::getppid()))) {  // CRIU 4.1's second run
        if (done->outcome == RestoreOutcome::aborted) throwFailure("restore already refused: " + done->detail);
        return "already prepared";
    }
    pruneFinishedRestores();
    if (!checkpointHasLockcrRecord(directory)) return "the checkpoint has no lockcr record: CRIU restores it alone";
    CheckpointRecord record = readCheckpointRecord(directory);
    name = containerName(record.containerId, 0);
    if (!applyAnnotations(hostPolicies, record.annotations).enabled) return "disabled by io.lockcr.enabled";
    // Refuse a damaged image now, before anything is restored.
    std::string imageText;
    LockImage image = readLockImage(checkpointFile(directory, kLockImageFileName), imageText);
    checkImageMatchesRecord(image, record, directory);
    RestoreState state;
    state.key = restoreKeyOf(::getppid());
    state.stage = "pre-restore";
    state.containerId = record.containerId;
    state.imageDirectory = directory;
    writeRestoreState(state);
    writeFileAtomically(restoreDirectory(state.key) + "/" + kLockImageFileName, imageText);  // the bytes checked
    writeCheckpointRecord(restoreDirectory(state.key), record);
    std::string filesDone = checkFilesAtSources(directory, record, applyAnnotations(hostPolicies, record.annotations),
                                                state);
    bool setAside = setAsideCriuLocks(directory);
    return describeImage(image) + " to restore" + filesDone +
           (setAside ? "; CRIU's filelocks.img set aside (lockcr sets every lock)" : "");
}

std::string checkOutsideHolders(const CriuEnvironment& environment, Restore& restore) {
    faultPoint("post-restore-entered");  // a test fails the restore here: filelocks.img is still set aside
    putBackCriuLocks(restore.state.imageDirectory);
    pid_t initPid = requireInitPid(environment);
    restore.state.initPid = initPid;
    // The filesystems pre-restore could not reach: through the container's root, now mounted.
    std::string remaining = restore.directory + "/" + kSnapshotRecordFileName;
    if (restore.policies.filesystem != FilesystemPolicy::off && ::access(remaining.c_str(), F_OK) == 0) {
        SnapshotCheck check = checkSnapshot(readSnapshotRecord(remaining), containerRootOfPid(initPid),
                                            verifyPolicyOf(restore.policies.filesystem));
        refuseChangedFiles(check.changes, restore.state);
        for (const std::string& line : check.restored) logNotice("rolled back: " + line);
    }
    LockImage image = readLockImage(restore.directory + "/" + kLockImageFileName);
    Container container = discoverContainerOfPid(initPid);
    UniqueFd root = sys::openAt(AT_FDCWD, "/proc/" + std::to_string(initPid) + "/root", O_PATH | O_DIRECTORY);
    auto deadline = std::chrono::steady_clock::now() + restore.policies.conflictWait;
    for (;;) {
        PrecheckReport report = precheckImage(image, root.get(), &container);
        for (const std::string& line : report.unreachable) logWarning("post-restore: not checked: " + line);
        if (report.conflicts.empty()) break;
        if (restore.policies.conflict == ConflictPolicy::fail || std::chrono::steady_clock::now() >= deadline) {
            restore.state.outcome = RestoreOutcome::aborted;
            restore.state.detail = report.conflicts.front().line();
            writeRestoreState(restore.state);
            throwFailure(std::to_string(report.conflicts.size()) + " lock(s) held outside" +
                         (restore.policies.conflict == ConflictPolicy::wait
                              ? " after waiting " + std::to_string(restore.policies.conflictWait.count()) + " ms"
                              : "") +
                         ", restore aborted; first: " + report.conflicts.front().line());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    restore.state.stage = "post-restore";
    writeRestoreState(restore.state);
    faultPoint("post-restore");
    return "no lock of the checkpoint is held outside";
}

std::string holdBeforeResume(const CriuEnvironment& environment, Restore& restore) {
    Container container = discoverContainerOfPid(requireInitPid(environment));
    if (container.cgroupVersion == CgroupVersion::none)
        throwFailure(
            "the container has no cgroup freezer: lockcr cannot keep it from running before its locks are back");
    // CRIU must stay outside the freeze to detach, and so must we to return to it.
    bool movedCriu = moveOutOfCgroup(container.cgroupMount, container.cgroupDirectory, ::getppid());
    moveOutOfCgroup(container.cgroupMount, container.cgroupDirectory, ::getpid());
    // Not waited for: the tasks are in CRIU's ptrace stops until it detaches, after this action.
    writeFreezeState(container.cgroupVersion, container.cgroupDirectory, true);
    restore.state.cgroupDirectory = container.cgroupDirectory;
    restore.state.cgroupVersion = container.cgroupVersion == CgroupVersion::v1 ? "v1" : "v2";
    restore.state.stage = "pre-resume";
    writeRestoreState(restore.state);
    return std::string("froze ") + container.cgroupDirectory + (movedCriu ? " (CRIU moved out of it first)" : "");
}

std::string replayAfterResume(const CriuEnvironment& environment, Restore& restore) {
    Container container = discoverContainerOfPid(requireInitPid(environment));
    if (!restore.state.cgroupDirectory.empty())
        waitUntilFrozen(container.cgroupVersion, container.cgroupDirectory, std::chrono::seconds(10));
    LockImage image = readLockImage(restore.directory + "/" + kLockImageFileName);
    ReplaySettings settings = replaySettingsOf(restore.policies);
    ReplayResult result;
    try {
        result = replayImage(image, container, settings);
    } catch (const Error& error) {
        switch (restore.policies.onFailure) {
            case FailurePolicy::freeze: restore.state.outcome = RestoreOutcome::failedFrozen; break;
            case FailurePolicy::kill: restore.state.outcome = RestoreOutcome::failedKilled; break;
            case FailurePolicy::resume:
                writeFreezeState(container.cgroupVersion, container.cgroupDirectory, false);
                restore.state.outcome = RestoreOutcome::failedRunning;
                break;
        }
        restore.state.detail = error.what();
        writeRestoreState(restore.state);
        throw;
    }
    // Replay found the container frozen (by pre-resume) and left it so: the thaw is ours.
    writeFreezeState(container.cgroupVersion, container.cgroupDirectory, false);
    restore.state.stage = "post-resume";
    restore.state.outcome = RestoreOutcome::restored;
    restore.state.detail = std::to_string(result.posixLocksSet) + " POSIX lock(s) in " +
                           std::to_string(result.processesInjected) + " process(es) and " +
                           std::to_string(result.descriptionLocksSet) + " description lock(s) set, " +
                           std::to_string(result.alreadyInPlace) + " already in place; verified";
    writeRestoreState(restore.state);
    std::filesystem::remove(restore.directory + "/" + kLockImageFileName);
    return restore.state.detail + "; thawed";
}

// One CRIU action; returns what was done, for the log line. NAME is set to the container's name as
// soon as it is known.
std::string runAction(const CriuEnvironment& environment, const Policies& hostPolicies, std::string& name) {
    if (!hostPolicies.enabled) return "disabled in " + configPath();
    switch (environment.action) {
        case CriuAction::postDump: return recordCheckpoint(environment, hostPolicies, name);
        case CriuAction::preRestore: return prepareRestore(environment, hostPolicies, name);
        default: break;  // post-restore, pre-resume, post-resume (runCriuAction returned at the others)
    }
    std::optional<Restore> restore = currentRestore(hostPolicies);
    if (!restore) return "no lockcr record in this restore: nothing to do";
    name = containerName(restore->state.containerId, environment.initPid.value_or(0));
    if (restore->state.outcome == RestoreOutcome::aborted)  // CRIU 4.1's second run: fail again
        throwFailure("restore already aborted: " + restore->state.detail);
    if (restore->state.outcome != RestoreOutcome::inProgress)
        return std::string("already ") + restoreOutcomeName(restore->state.outcome);
    if (environment.action == CriuAction::postRestore) {
        if (restore->state.stage == "post-restore") return "already checked";
        return checkOutsideHolders(environment, *restore);
    }
    if (environment.action == CriuAction::preResume) {
        if (restore->state.stage == "pre-resume") return "already frozen";
        return holdBeforeResume(environment, *restore);
    }
    return replayAfterResume(environment, *restore);
}

}  // namespace

int runCriuAction(const char* action) {
    auto started = std::chrono::steady_clock::now();
    // Until the config file is read, errors go to stderr (CRIU's log) and syslog.
    configureLog({true, "", true, false});
    CriuEnvironment environment = criuEnvironmentOfThisProcess();
    // CRIU runs its action script at a dozen stages, each twice in 4.1: the ones lockcr does nothing
    // at end here, before the config file is read and a log line written.
    switch (environment.action) {
        case CriuAction::postDump:
        case CriuAction::preRestore:
        case CriuAction::postRestore:
        case CriuAction::preResume:
        case CriuAction::postResume: break;
        default: return 0;
    }
    Policies hostPolicies;
    try {
        hostPolicies = readPolicies(configPath());
    } catch (const Error& error) {
        throw error.within(std::string("CRIU action ") + action);
    }
    configureLog({true, hostPolicies.logFile, hostPolicies.syslog, false});
    keepOnlyCapabilities({CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_LEASE, CAP_FOWNER, CAP_KILL,
                          CAP_CHOWN, CAP_SYS_ADMIN});
    std::string name = "container";
    // Wall time, and the CPU time of all of lockcr's threads: on a loaded node the two part, and
    // the second is lockcr's own cost.
    auto took = [&] {
        struct rusage usage {};
        ::getrusage(RUSAGE_SELF, &usage);
        auto cpuMs = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000 +
                     (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000;
        auto wallMs =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
        return std::to_string(wallMs) + " ms, CPU " + std::to_string(cpuMs) + " ms";
    };
    try {
        std::string done = runAction(environment, hostPolicies, name);
        logNotice(environment.actionName + ": " + name + ": " + done + " (" + took() + ")");
        return 0;
    } catch (const Error& error) {
        throw error.within(environment.actionName + ": " + name + " (after " + took() + ")");
    }
}

}  // namespace lockcr
