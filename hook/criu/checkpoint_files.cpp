#include "criu/checkpoint_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/sys.h"
#include "util/trusted_file.h"

namespace lockcr {

namespace {

constexpr const char* kRecordSchemaId = "https://lockcr.dev/schema/checkpoint-record/v1";

bool exists(const std::string& path) {
    struct stat info {};
    int error = 0;
    if (sys::tryStatAt(AT_FDCWD, path, info, error, AT_SYMLINK_NOFOLLOW)) return true;
    if (error != ENOENT) throwErrno("stat " + path, error);
    return false;
}

const nlohmann::json& field(const nlohmann::json& object, const char* name, const std::string& source) {
    auto found = object.find(name);
    if (found == object.end()) throwBadInput(source + ": " + name + ": missing");
    return *found;
}

std::string stringField(const nlohmann::json& object, const char* name, const std::string& source) {
    const nlohmann::json& value = field(object, name, source);
    if (!value.is_string()) throwBadInput(source + ": " + name + ": expected a string");
    return value.get<std::string>();
}

}  // namespace

std::string checkpointFile(const std::string& imageDirectory, const char* name) { return imageDirectory + "/" + name; }

bool checkpointHasLockcrRecord(const std::string& imageDirectory) {
    return exists(checkpointFile(imageDirectory, kCheckpointRecordFileName));
}

CheckpointRecord checkpointRecordFromText(const std::string& text, const std::string& source) {
    nlohmann::json document = nlohmann::json::parse(text, nullptr, false);
    if (document.is_discarded() || !document.is_object()) throwBadInput(source + ": not a JSON object");
    static const std::set<std::string> known = {"$schema", "version",   "tool",
                                                "created", "container", "snapshot_record"};
    for (const auto& [key, value] : document.items())
        if (!known.contains(key)) throwBadInput(source + ": unknown field " + key);
    CheckpointRecord record;
    const nlohmann::json& version = field(document, "version", source);
    // Compared as 64 bits: get<int> of 4294967297 is 1 (tests/samples/checkpoint_record_version_wraps.json).
    if (!version.is_number_integer() || version.get<int64_t>() != kCheckpointRecordVersion)
        throwBadInput(source + ": version: this lockcr reads version " + std::to_string(kCheckpointRecordVersion));
    record.tool = stringField(document, "tool", source);
    record.created = stringField(document, "created", source);
    const nlohmann::json& container = field(document, "container", source);
    if (!container.is_object()) throwBadInput(source + ": container: expected an object");
    record.containerId = stringField(container, "id", source + ": container");
    const nlohmann::json& annotations = field(container, "annotations", source + ": container");
    if (!annotations.is_object()) throwBadInput(source + ": container.annotations: expected an object");
    for (const auto& [name, value] : annotations.items()) {
        if (!value.is_string()) throwBadInput(source + ": container.annotations." + name + ": expected a string");
        record.annotations[name] = value.get<std::string>();
    }
    if (auto snapshot = document.find("snapshot_record"); snapshot != document.end() && !snapshot->is_null()) {
        if (!snapshot->is_string() || snapshot->get<std::string>().find('/') != std::string::npos ||
            snapshot->get<std::string>().empty())
            throwBadInput(source + ": snapshot_record: expected a file name in the image directory");
        record.snapshotRecord = snapshot->get<std::string>();
    }
    return record;
}

std::string checkpointRecordToText(const CheckpointRecord& record) {
    nlohmann::json document = {
        {"$schema", kRecordSchemaId},
        {"version", record.version},
        {"tool", record.tool},
        {"created", record.created},
        {"container", {{"id", record.containerId}, {"annotations", record.annotations}}},
        {"snapshot_record", record.snapshotRecord ? nlohmann::json(*record.snapshotRecord) : nlohmann::json(nullptr)},
    };
    return document.dump(2) + "\n";
}

CheckpointRecord readCheckpointRecord(const std::string& imageDirectory) {
    std::string path = checkpointFile(imageDirectory, kCheckpointRecordFileName);
    // O_NONBLOCK: a FIFO planted in an imported checkpoint must not hang the open; only a regular
    // file is read (a device node would be read by its driver).
    UniqueFd fd = sys::openAt(AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    struct stat status {};
    int err = 0;
    if (!sys::tryStatFd(fd.get(), status, err)) throwErrno("stat " + path, err);
    if (!S_ISREG(status.st_mode)) throwBadInput(path + ": not a regular file");
    refuseUntrustedFile(status, path);
    constexpr size_t kLimit = 1 << 20;
    std::string text = sys::readAll(fd.get(), path, kLimit);
    if (text.size() > kLimit) throwBadInput(path + ": larger than 1 MiB");
    return checkpointRecordFromText(text, path);
}

void writeCheckpointRecord(const std::string& imageDirectory, const CheckpointRecord& record) {
    writeFileAtomically(checkpointFile(imageDirectory, kCheckpointRecordFileName), checkpointRecordToText(record));
}

void checkImageMatchesRecord(const LockImage& image, const CheckpointRecord& record,
                             const std::string& imageDirectory) {
    auto named = [](const std::string& id) {
        return id.empty() ? std::string("an unregistered container") : "container " + id;
    };
    if (image.container.id == record.containerId && image.createdAt == record.created) return;
    throwBadInput(checkpointFile(imageDirectory, kLockImageFileName) + " is the lock image of " +
                  named(image.container.id) + " taken " + image.createdAt + ", but " + kCheckpointRecordFileName +
                  " is the checkpoint of " + named(record.containerId) + " taken " + record.created +
                  ": refusing to restore locks recorded for other processes");
}

bool setAsideCriuLocks(const std::string& imageDirectory) {
    std::string criu = checkpointFile(imageDirectory, kCriuLocksFileName);
    std::string aside = checkpointFile(imageDirectory, kCriuLocksSetAsideFileName);
    if (exists(criu)) {
        // rename(2) is atomic: CRIU sees its file or nothing ("No filelocks.img image": no locks).
        if (::rename(criu.c_str(), aside.c_str()) != 0) throwErrno("set aside " + criu + " as " + aside);
        return true;
    }
    return exists(aside);
}

void putBackCriuLocks(const std::string& imageDirectory) {
    std::string criu = checkpointFile(imageDirectory, kCriuLocksFileName);
    std::string aside = checkpointFile(imageDirectory, kCriuLocksSetAsideFileName);
    if (!exists(aside)) return;
    if (::rename(aside.c_str(), criu.c_str()) != 0) throwErrno("put back " + aside + " as " + criu);
}

}  // namespace lockcr
