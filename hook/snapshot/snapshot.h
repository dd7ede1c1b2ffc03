// The snapshot stage at checkpoint: while the container is kept still (frozen by lockcr, or held by
// CRIU at post-dump), each filesystem it writes to is taken by its backend (btrfs.h, overlay.h,
// manifest.h) into the store (store.h), and what was taken is recorded (record.h) in a directory
// the caller gives: CRIU's image directory, so the record travels with the checkpoint.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "discover/container.h"
#include "snapshot/record.h"
#include "snapshot/store.h"

namespace lockcr {

struct SnapshotTarget {
    pid_t initPid = 0;         // host pid: its mountinfo and root are the container's
    std::vector<pid_t> tasks;  // host pids whose open files are recorded
};

SnapshotTarget snapshotTargetOf(const Container& container);

struct SnapshotOptions {
    std::string checkpointId;  // empty: defaultCheckpointId
    std::string store = kDefaultSnapshotStore;
    // Manifest parts (volumes on neither btrfs nor overlay): every regular file of the volume,
    // not only the ones the container has open.
    bool wholeVolumes = false;
};

// "pid-PID-YYYYmmddTHHMMSSZ" (UTC).
std::string defaultCheckpointId(pid_t initPid);

// Takes the snapshot and commits it in the store; on any failure every piece taken so far is
// removed and the Error says so. The caller keeps the container still. RECORD_TEXT, if given,
// receives the record's text as written into the store.
SnapshotRecord createSnapshot(const SnapshotTarget& target, const SnapshotOptions& options,
                              std::string* recordText = nullptr);

// createSnapshot, then RECORD_DIRECTORY/lockcr-snapshot.json (0600, atomic) and a copy in the store.
// Idempotent: when RECORD_DIRECTORY already holds a record whose data is all present, that record
// is returned and nothing is taken again (CRIU 4.1 runs each action script twice).
SnapshotRecord takeSnapshot(const SnapshotTarget& target, const SnapshotOptions& options,
                            const std::string& recordDirectory);

}  // namespace lockcr
