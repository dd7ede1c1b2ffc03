// What a snapshot took, written into CRIU's image directory so it travels with the checkpoint:
// JSON described by schema/snapshot-record.schema.json ("$schema" is kSnapshotRecordSchemaId).
// The snapshot's data (btrfs snapshots, overlay upper copies, file copies) stays in the store on
// the host where it was taken; the record alone is enough to verify (the digests), not to roll back.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/mountinfo.h"

namespace lockcr {

constexpr const char* kSnapshotRecordSchemaId = "https://lockcr.dev/schema/snapshot-record/v1";
constexpr const char* kSnapshotRecordFileName = "lockcr-snapshot.json";

// A file whose bytes were not read at checkpoint: it is leased, and no container process has it open
// for reading (an open of ours would break the lease). Its metadata is still recorded and checked.
constexpr const char* kNoDigest = "none";

// One regular file as it was at the checkpoint.
struct SnapshotFile {
    std::string path;  // absolute, inside the container
    uint64_t size = 0;
    uint32_t mode = 0;  // st_mode: type and permission bits
    uint32_t uid = 0;
    uint32_t gid = 0;
    int64_t mtimeSeconds = 0;
    uint32_t mtimeNanoseconds = 0;
    uint64_t device = 0;  // st_dev: an inode number is compared only on the same device
    uint64_t inode = 0;
    std::string digest;  // "xxh3-128:" and 32 lowercase hex digits, or kNoDigest

    std::string copy;  // where its bytes are, relative to the part's data directory; empty: nowhere
    // Where a copy exported with the checkpoint is (export.h), relative to the part's `exported`
    // directory; empty: not exported.
    std::string exported;
};

// A directory between a part's mount point and a recorded file, as it was at the checkpoint: a
// rollback recreates it, with this mode and owner, when it was removed.
struct SnapshotDirectory {
    std::string path;  // absolute, inside the container
    uint32_t mode = 0;  // permission bits
    uint32_t uid = 0;
    uint32_t gid = 0;
};

// One filesystem the container writes to (its root or a volume) and what was taken of it.
struct SnapshotPart {
    SnapshotBackend backend = SnapshotBackend::manifest;
    std::string mountPoint;  // inside the container
    std::string fsType;
    std::string source;        // host path of the subvolume, upper directory or volume, if known
    std::string data;          // host directory holding the taken data; empty when nothing was copied
    uint64_t subvolumeId = 0;  // btrfs: the id of the subvolume that was snapshotted
    bool wholeVolume = false;  // every regular file is in `files`, not only the open ones
    std::vector<SnapshotFile> files;
    std::vector<SnapshotDirectory> directories;  // the recorded files' parents below the mount point
    // The directory, relative to the record's own, holding the copies of this part's files that
    // travel with the checkpoint (export.h); empty: none.
    std::string exported;
};

struct SnapshotRecord {
    int version = 1;
    std::string checkpointId;
    int64_t createdSeconds = 0;  // Unix time
    std::string hostname;
    pid_t initPid = 0;
    std::string store;  // the checkpoint's directory in the store: STORE/CHECKPOINT-ID
    std::vector<SnapshotPart> parts;
};

std::string snapshotRecordToText(const SnapshotRecord& record);
// Strict: unknown keys, wrong types, a wrong "$schema" or version, relative or empty paths, a
// digest that is not xxh3-128 hex, and a copy path with ".." are refused with Error(badInput)
// naming the field ("parts[1].files[3].digest: ...").
SnapshotRecord snapshotRecordFromText(std::string_view text);

// DIRECTORY/lockcr-snapshot.json, atomically (a 0600 temporary file, fsync, rename, fsync of the
// directory); returns the path written.
std::string writeSnapshotRecord(const std::string& directory, const SnapshotRecord& record);
// The same with the record's text already made (snapshotRecordToText), when it goes to two places.
std::string writeSnapshotRecordText(const std::string& directory, std::string text);
SnapshotRecord readSnapshotRecord(const std::string& path);

// A checkpoint id becomes a directory name in the store: 1 to 128 of [A-Za-z0-9._-], not "." or
// "..". Throws Error(badInput) otherwise.
void checkCheckpointId(const std::string& id);

}  // namespace lockcr
