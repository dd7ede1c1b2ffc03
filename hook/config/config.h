// Policies: what lockcr does when something goes wrong, for the faces that take no arguments (the
// CRIU action script, the OCI hook). They come from /etc/lockcr/lockcr.yaml (schema:
// schema/lockcr-config.schema.json), then a container's `io.lockcr.*` annotations override them.
// Parsing is strict: an unknown key or a bad value is one line naming the file, the key and why.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "replay/replay.h"
#include "util/run_directory.h"

namespace lockcr {

// The file the CRIU action and the OCI hook read; LOCKCR_CONFIG names another (tests, and hosts
// that keep configuration elsewhere).
constexpr const char* kDefaultConfigPath = "/etc/lockcr/lockcr.yaml";
constexpr const char* kAnnotationPrefix = "io.lockcr.";

// At restore, whether the files the checkpoint recorded must be as they were: refuse the restore
// (strict), put the snapshot's bytes back (rollback), or do not look (off).
enum class FilesystemPolicy { strict, rollback, off };

// At checkpoint, what of the snapshot's data travels in the image directory besides the record:
// nothing (the data stays in the store of this host), or copies of the volumes' recorded files
// (a rollback on another host then puts them back).
enum class SnapshotExportPolicy { none, volumes };

struct Policies {
    bool enabled = true;  // false: every action exits 0 without touching the container
    ConflictPolicy conflict = ConflictPolicy::fail;
    std::chrono::milliseconds conflictWait{std::chrono::seconds(10)};
    // Restores that cannot put every lock back leave the container frozen: it never runs without
    // its locks, and the operator sees it paused (`lockcr status` says why).
    FailurePolicy onFailure = FailurePolicy::freeze;
    bool snapshot = true;  // take a filesystem snapshot at checkpoint
    FilesystemPolicy filesystem = FilesystemPolicy::strict;
    std::string snapshotStore = "/var/lib/lockcr/snapshots";
    SnapshotExportPolicy snapshotExport = SnapshotExportPolicy::none;
    std::string logFile = "/var/log/lockcr.log";  // empty: no file
    bool syslog = true;

    bool operator==(const Policies&) const = default;
};

// The config file: a missing file is the defaults; anything else that is wrong throws badInput.
Policies readPolicies(const std::string& path);
// The path the CRIU action and OCI hook use: $LOCKCR_CONFIG or kDefaultConfigPath.
std::string configPath();
// Pure: YAML text to policies, starting from BASE. SOURCE names the text in errors.
Policies parsePolicies(std::string_view yaml, const std::string& source, const Policies& base = {});

// io.lockcr.<key> annotations over POLICIES (the same keys and values as the file). Annotations of
// other prefixes are ignored; an unknown io.lockcr.* key or a bad value throws badInput.
Policies applyAnnotations(Policies policies, const std::map<std::string, std::string>& annotations);

// The policies as they travel with a checkpoint (the restore host may have another config file).
nlohmann::json policiesToJson(const Policies& policies);
Policies policiesFromJson(const nlohmann::json& document, const std::string& source);

// What replay takes of the policies (conflict, its bound, on-failure); the rest stays default.
ReplaySettings replaySettingsOf(const Policies& policies);

const char* conflictPolicyName(ConflictPolicy policy);
const char* failurePolicyName(FailurePolicy policy);
const char* filesystemPolicyName(FilesystemPolicy policy);
const char* snapshotExportPolicyName(SnapshotExportPolicy policy);

}  // namespace lockcr
