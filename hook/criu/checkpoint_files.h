// The files lockcr keeps in CRIU's image directory. Only what is in that directory travels with a
// checkpoint (podman --export and --create-image, CRI-O's kubelet archive, a copy to another host);
// runc runs poststop hooks when it checkpoints and crun runs no hooks at restore, so everything the
// restore side needs is written here at checkpoint:
//   lockcr.locks.json        the lock image (schema/lock-image.schema.json)
//   lockcr.checkpoint.json   the record: which container, its io.lockcr.* annotations, what else
//                            was taken (schema/checkpoint-record.schema.json)
//   lockcr.criu-filelocks.img  CRIU's own filelocks.img while a restore runs: set aside before CRIU
//                            reads it so that CRIU never sets a lock itself (it would block on an
//                            outside holder: F_SETLKW, flock without LOCK_NB), put back afterwards so
//                            the checkpoint stays usable without lockcr.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "image/model.h"

namespace lockcr {

constexpr const char* kLockImageFileName = "lockcr.locks.json";
constexpr const char* kCheckpointRecordFileName = "lockcr.checkpoint.json";
constexpr const char* kCriuLocksFileName = "filelocks.img";
constexpr const char* kCriuLocksSetAsideFileName = "lockcr.criu-filelocks.img";
constexpr int kCheckpointRecordVersion = 1;

struct CheckpointRecord {
    int version = kCheckpointRecordVersion;
    std::string tool;                                // "lockcr 0.1.0"
    std::string created;                             // UTC, ISO 8601
    std::string containerId;                         // empty when no OCI hook registered the container
    std::map<std::string, std::string> annotations;  // its io.lockcr.* annotations
    std::optional<std::string> snapshotRecord;       // file name in the image directory, if one was taken
};

std::string checkpointFile(const std::string& imageDirectory, const char* name);
bool checkpointHasLockcrRecord(const std::string& imageDirectory);

// Strict, like the lock image: unknown fields, wrong types, another version: badInput naming the field.
CheckpointRecord checkpointRecordFromText(const std::string& text, const std::string& source);
std::string checkpointRecordToText(const CheckpointRecord& record);
CheckpointRecord readCheckpointRecord(const std::string& imageDirectory);
void writeCheckpointRecord(const std::string& imageDirectory, const CheckpointRecord& record);

// The image and the record are written together at post-dump (the record's "created" is the image's);
// an image copied in from another checkpoint (another container, or another dump of this one) is
// refused with badInput naming both: its locks would be set on whatever processes carry its pids.
void checkImageMatchesRecord(const LockImage& image, const CheckpointRecord& record, const std::string& imageDirectory);

// Idempotent (CRIU 4.1 runs every action twice). Returns whether CRIU's file is now set aside.
bool setAsideCriuLocks(const std::string& imageDirectory);
// Idempotent; puts filelocks.img back if lockcr set it aside.
void putBackCriuLocks(const std::string& imageDirectory);

}  // namespace lockcr
