// What a checkpoint holds about file locks, read from an image directory or archive
// (archive/checkpoint_files.h): lockcr's lock image and checkpoint record, CRIU's filelocks.img,
// the snapshot record when the filesystem stage took one, and the engine's container name.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "criu/checkpoint_files.h"
#include "criu/filelocks_image.h"
#include "image/model.h"
#include "show/compare.h"

namespace lockcr {

constexpr const char* kSnapshotRecordFile = "lockcr-snapshot.json";  // written by the snapshot stage
constexpr const char* kEngineConfigFile = "../config.dump";          // podman and CRI-O archives

struct CheckpointView {
    std::string source;
    std::string format;
    bool hasCriuImages = false;
    std::optional<CheckpointRecord> record;
    std::optional<LockImage> image;
    // CRIU's filelocks.img; nullopt when the checkpoint has none (dumped without --file-locks, or
    // no task held a lock). criuLocksSetAside: read from lockcr's set-aside copy (a restore running
    // or interrupted between pre-restore and post-restore).
    std::optional<std::vector<CriuFileLock>> criuLocks;
    bool criuLocksSetAside = false;
    std::optional<nlohmann::json> snapshot;    // lockcr-snapshot.json as it is (another stage's schema)
    std::string containerName, containerId;    // from the engine's config.dump, when there is one
    std::optional<LockComparison> comparison;  // when both records are there
};

// Every file present is parsed strictly; a damaged one is an error naming it (Error badInput).
CheckpointView readCheckpointView(const std::string& path);

}  // namespace lockcr
