// Where snapshot data lives: STORE/CHECKPOINT-ID/part-N/ (default store /var/lib/lockcr/snapshots),
// 0700, root's; a btrfs snapshot that cannot be made there (another filesystem) lives in
// .lockcr-snapshots/CHECKPOINT-ID/ beside the subvolume and is listed in the record. A copy of the
// record is kept in STORE/CHECKPOINT-ID/ so delete and prune find every piece. Nothing is removed
// unless asked: a checkpoint may be restored many times, and nothing tells lockcr it was deleted.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/record.h"

namespace lockcr {

constexpr const char* kDefaultSnapshotStore = "/var/lib/lockcr/snapshots";

// The owner of a snapshot being taken: every directory and btrfs snapshot it made is removed by
// its destructor unless commit() was called, so a failure midway (ENOSPC, a killed copy) leaves
// nothing half-taken behind.
class PendingSnapshot {
public:
    // Creates STORE (0700, with parents) and STORE/CHECKPOINT-ID (0700), which must not exist.
    PendingSnapshot(const std::string& store, const std::string& checkpointId);
    PendingSnapshot(const PendingSnapshot&) = delete;
    PendingSnapshot& operator=(const PendingSnapshot&) = delete;
    ~PendingSnapshot();

    const std::string& directory() const { return directory_; }
    // A directory made outside the checkpoint's directory (a btrfs snapshot's home): removed too.
    void adopt(const std::string& path) { adopted_.push_back(path); }
    void commit() { committed_ = true; }

private:
    std::string directory_;
    std::vector<std::string> adopted_;
    bool committed_ = false;
};

// PATH and its missing parents, 0700 (an existing directory is left as it is).
void makePrivateDirectories(const std::string& path);

// PATH and everything below it; btrfs subvolumes inside (read-only snapshots) are deleted as
// subvolumes. Never follows a symlink. Missing PATH is not an error.
void removeSnapshotTree(const std::string& path);

// Removes every piece of one checkpoint's snapshot (STORE/ID and the btrfs homes its stored record
// names). Throws if STORE/ID does not exist.
void deleteSnapshot(const std::string& store, const std::string& checkpointId);

struct PruneRule {
    std::optional<std::chrono::seconds> olderThan;
    std::optional<size_t> keepNewest;
    std::optional<std::string> checkpointId;
};

// The checkpoint ids removed: those older than olderThan, those beyond the keepNewest newest, and
// the one named. A rule left empty removes nothing by itself.
std::vector<std::string> pruneSnapshots(const std::string& store, const PruneRule& rule);

}  // namespace lockcr
