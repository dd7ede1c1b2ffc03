// What one restore has got to, kept on the host between CRIU's actions (each action is a new
// process) and for `lockcr status`: /run/lockcr/restores/<criu pid>-<its start time>/ holds
//   state.json  the stage reached, the container, the outcome and why
//   locks.json  the lock image, copied out of the image directory at pre-restore (CRIU empties
//               that directory before post-resume)
// The key names the CRIU process, which runs every action of one restore: a pid reused later gets
// another key.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace lockcr {

enum class RestoreOutcome { inProgress, restored, failedFrozen, failedKilled, failedRunning, aborted };

struct RestoreState {
    std::string key;              // "<criu pid>-<start time>"
    std::string stage;            // the last CRIU action that completed its work
    std::string containerId;      // from the checkpoint record (may be empty)
    pid_t initPid = 0;            // host pid of the restored root task, once known
    std::string imageDirectory;   // the directory's own path, or CRIU's /proc/<criu>/fd/N when not the same
    std::string cgroupDirectory;  // the freezer lockcr holds the container in, once it does
    std::string cgroupVersion;    // "v1", "v2" or ""
    RestoreOutcome outcome = RestoreOutcome::inProgress;
    std::string detail;   // the error, or what was done
    std::string updated;  // UTC time of the last write
};

const char* restoreOutcomeName(RestoreOutcome outcome);

// The key of the CRIU process PID (its start time from /proc/PID/stat).
std::string restoreKeyOf(pid_t criuPid);
std::string restoreDirectory(const std::string& key);
// Whether the CRIU process a key names is still the one running (a pid reused later is not).
bool criuStillRuns(const std::string& key);

// Creates the directory (0700) if needed.
void writeRestoreState(const RestoreState& state);
// nullopt when this restore has no state yet.
std::optional<RestoreState> readRestoreState(const std::string& key);
// Pure: state.json text to a state; anything malformed or out of range is one line naming SOURCE.
RestoreState restoreStateFromText(const std::string& text, const std::string& source);
std::vector<RestoreState> listRestoreStates();
// Removes a finished restore's directory whose CRIU process is gone (a restore finished long ago
// or died): called at pre-restore, so /run does not fill up. A restore whose CRIU is gone before
// its post-restore (CRIU failed in between) gets its checkpoint's filelocks.img put back first.
void pruneFinishedRestores();

// CRIU 4.1 runs post-dump twice, the second time even when the first failed: the first run marks
// /run/lockcr/dumps/KEY (KEY: the dumping CRIU process, restoreKeyOf) once the checkpoint's record
// is complete, or with why it failed, and the second finds the mark: done, or failed again with the
// same reason (a second collection would find a killed process gone and record a consistent image
// without it, into a checkpoint that fails anyway). Marks of CRIU processes that are gone are
// removed by the next mark.
bool dumpAlreadyRecorded(const std::string& criuKey);
void markDumpRecorded(const std::string& criuKey);
std::optional<std::string> dumpFailureOf(const std::string& criuKey);  // why the first run failed
void markDumpFailed(const std::string& criuKey, const std::string& why);

// Pure: /proc/PID/stat text to the process's start time (field 22), nullopt if malformed.
std::optional<unsigned long long> startTimeFromStat(const std::string& text);

}  // namespace lockcr
