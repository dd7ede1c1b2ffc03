#include "snapshot/record.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/sys.h"

namespace lockcr {

using nlohmann::json;

namespace {

constexpr size_t kMaxRecordBytes = size_t{256} << 20;

json fileToJson(const SnapshotFile& file) {
    return json{
        {"path", file.path},     {"size", file.size},
        {"mode", file.mode},     {"uid", file.uid},
        {"gid", file.gid},       {"mtime", {{"seconds", file.mtimeSeconds}, {"nanoseconds", file.mtimeNanoseconds}}},
        {"dev", file.device},    {"ino", file.inode},
        {"digest", file.digest}, {"copy", file.copy}};
}

json partToJson(const SnapshotPart& part) {
    json files = json::array();
    for (const SnapshotFile& file : part.files) files.push_back(fileToJson(file));
    return json{{"backend", backendName(part.backend)},
                {"mount_point", part.mountPoint},
                {"fs_type", part.fsType},
                {"source", part.source},
                {"data", part.data},
                {"subvolume_id", part.subvolumeId},
                {"whole_volume", part.wholeVolume},
                {"files", files}};
}

// "/a/b": no NUL, no empty, "." or ".." component, so a path means the same file wherever it is
// resolved and can never climb out of the directory it is resolved in.
bool isNormalAbsolutePath(const std::string& path) {
    if (path.empty() || path[0] != '/' || path.find('\0') != std::string::npos) return false;
    if (path == "/") return true;
    for (size_t start = 1; start <= path.size();) {
        size_t slash = path.find('/', start);
        if (slash == std::string::npos) slash = path.size();
        std::string_view component(path.data() + start, slash - start);
        if (component.empty() || component == "." || component == "..") return false;
        start = slash + 1;
    }
    return true;
}

// A checked view of one JSON object: each read names where it was, unknown keys are refused.
class Fields {
public:
    Fields(const json& value, std::string place, std::initializer_list<const char*> keys)
            : value_(value), place_(std::move(place)) {
        if (!value.is_object()) fail("", "expected an object");
        for (const auto& item : value.items()) {
            const std::string& key = item.key();  // not a structured binding: clang 14 can't capture one
            if (std::find_if(keys.begin(), keys.end(), [&](const char* k) { return key == k; }) == keys.end())
                fail("", "unknown key \"" + key + "\"");
        }
    }

    const json& at(const char* key) const {
        if (!value_.contains(key)) fail(key, "missing");
        return value_.at(key);
    }
    std::string string(const char* key) const {
        if (!at(key).is_string()) fail(key, "expected a string");
        return at(key).get<std::string>();
    }
    std::string path(const char* key, bool mayBeEmpty) const {
        std::string value = string(key);
        if (value.empty() ? !mayBeEmpty : !isNormalAbsolutePath(value))
            fail(key, "expected an absolute path without \".\", \"..\" or empty components");
        return value;
    }
    uint64_t unsignedNumber(const char* key, uint64_t maximum = UINT64_MAX) const {
        if (!at(key).is_number_unsigned() || at(key).get<uint64_t>() > maximum)
            fail(key, "expected an integer 0.." + std::to_string(maximum));
        return at(key).get<uint64_t>();
    }
    int64_t signedNumber(const char* key) const {
        if (!at(key).is_number_integer()) fail(key, "expected an integer");
        return at(key).get<int64_t>();
    }
    bool boolean(const char* key) const {
        if (!at(key).is_boolean()) fail(key, "expected true or false");
        return at(key).get<bool>();
    }
    std::string place(const char* key) const { return place_.empty() ? key : place_ + "." + key; }
    [[noreturn]] void fail(const char* key, const std::string& why) const {
        std::string where = *key ? place(key) : (place_.empty() ? "record" : place_);
        throwBadInput(where + ": " + why);
    }

private:
    const json& value_;
    std::string place_;
};

bool isHexDigest(const std::string& digest) {
    constexpr std::string_view kPrefix = "xxh3-128:";
    if (digest.size() != kPrefix.size() + 32 || !digest.starts_with(kPrefix)) return false;
    return digest.find_first_not_of("0123456789abcdef", kPrefix.size()) == std::string::npos;
}

SnapshotFile fileFromJson(const json& value, const std::string& place) {
    Fields fields(value, place, {"path", "size", "mode", "uid", "gid", "mtime", "dev", "ino", "digest", "copy"});
    SnapshotFile file;
    file.path = fields.path("path", false);
    file.size = fields.unsignedNumber("size", INT64_MAX);
    file.mode = static_cast<uint32_t>(fields.unsignedNumber("mode", UINT32_MAX));
    if (!S_ISREG(file.mode)) fields.fail("mode", "not a regular file's mode");
    file.uid = static_cast<uint32_t>(fields.unsignedNumber("uid", UINT32_MAX));
    file.gid = static_cast<uint32_t>(fields.unsignedNumber("gid", UINT32_MAX));
    Fields mtime(fields.at("mtime"), fields.place("mtime"), {"seconds", "nanoseconds"});
    file.mtimeSeconds = mtime.signedNumber("seconds");
    file.mtimeNanoseconds = static_cast<uint32_t>(mtime.unsignedNumber("nanoseconds", 999999999));
    file.device = fields.unsignedNumber("dev");
    file.inode = fields.unsignedNumber("ino");
    file.digest = fields.string("digest");
    if (!isHexDigest(file.digest) && file.digest != kNoDigest)
        fields.fail("digest", "expected \"xxh3-128:\" and 32 lowercase hex digits, or \"none\"");
    file.copy = fields.string("copy");
    // A copy path is opened inside the part's data directory; "..", an absolute path or a NUL is
    // refused here as well, so a forged record cannot even ask for one.
    if (!file.copy.empty() && (file.copy.starts_with('/') || !isNormalAbsolutePath("/" + file.copy)))
        fields.fail("copy", "expected a path inside the data directory");
    return file;
}

SnapshotPart partFromJson(const json& value, const std::string& place) {
    Fields fields(value, place,
                  {"backend", "mount_point", "fs_type", "source", "data", "subvolume_id", "whole_volume", "files"});
    SnapshotPart part;
    std::string backend = fields.string("backend");
    if (backend == "btrfs") part.backend = SnapshotBackend::btrfs;
    else if (backend == "overlay") part.backend = SnapshotBackend::overlay;
    else if (backend == "manifest") part.backend = SnapshotBackend::manifest;
    else fields.fail("backend", "expected btrfs, overlay or manifest");
    part.mountPoint = fields.path("mount_point", false);
    part.fsType = fields.string("fs_type");
    part.source = fields.path("source", true);
    part.data = fields.path("data", true);
    part.subvolumeId = fields.unsignedNumber("subvolume_id");
    part.wholeVolume = fields.boolean("whole_volume");
    const json& files = fields.at("files");
    if (!files.is_array()) fields.fail("files", "expected an array");
    for (size_t i = 0; i < files.size(); ++i)
        part.files.push_back(fileFromJson(files[i], fields.place("files") + "[" + std::to_string(i) + "]"));
    return part;
}

}  // namespace

void checkCheckpointId(const std::string& id) {
    bool ok = !id.empty() && id.size() <= 128 && id != "." && id != ".." &&
              id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
                  std::string::npos;
    if (!ok) throwBadInput("checkpoint id \"" + id.substr(0, 80) + "\": expected 1 to 128 of A-Z a-z 0-9 . _ -");
}

std::string snapshotRecordToText(const SnapshotRecord& record) {
    json parts = json::array();
    for (const SnapshotPart& part : record.parts) parts.push_back(partToJson(part));
    json document{{"$schema", kSnapshotRecordSchemaId},
                  {"version", record.version},
                  {"checkpoint_id", record.checkpointId},
                  {"created", record.createdSeconds},
                  {"hostname", record.hostname},
                  {"init_pid", record.initPid},
                  {"store", record.store},
                  {"parts", parts}};
    try {
        return document.dump(2);
    } catch (const json::exception&) {
        // nlohmann refuses bytes that are not UTF-8: a path the record cannot hold faithfully.
        throwFailure("snapshot record: a path is not valid UTF-8 and cannot be recorded");
    }
}

SnapshotRecord snapshotRecordFromText(std::string_view text) {
    json document = json::parse(text, nullptr, false);
    if (document.is_discarded()) throwBadInput("snapshot record: not valid JSON");
    Fields top(document, "",
               {"$schema", "version", "checkpoint_id", "created", "hostname", "init_pid", "store", "parts"});
    if (top.string("$schema") != kSnapshotRecordSchemaId)
        top.fail("$schema", std::string("expected \"") + kSnapshotRecordSchemaId + "\"");
    SnapshotRecord record;
    record.version = static_cast<int>(top.unsignedNumber("version", INT32_MAX));
    if (record.version != 1) top.fail("version", "this lockcr reads version 1");
    record.checkpointId = top.string("checkpoint_id");
    try {
        checkCheckpointId(record.checkpointId);
    } catch (const Error& error) {
        top.fail("checkpoint_id", error.what());
    }
    record.createdSeconds = top.signedNumber("created");
    record.hostname = top.string("hostname");
    record.initPid = static_cast<pid_t>(top.unsignedNumber("init_pid", INT32_MAX));
    record.store = top.path("store", false);
    const json& parts = top.at("parts");
    if (!parts.is_array()) top.fail("parts", "expected an array");
    for (size_t i = 0; i < parts.size(); ++i)
        record.parts.push_back(partFromJson(parts[i], "parts[" + std::to_string(i) + "]"));
    return record;
}

std::string writeSnapshotRecord(const std::string& directory, const SnapshotRecord& record) {
    std::string text = snapshotRecordToText(record) + "\n";
    std::string path = directory + "/" + kSnapshotRecordFileName;
    std::string temporary = directory + "/.lockcr-snapshot-XXXXXX";
    int rawFd = ::mkostemp(temporary.data(), O_CLOEXEC);
    if (rawFd < 0) throwErrno("snapshot record: create a temporary file in " + directory);
    UniqueFd fd(rawFd);
    try {
        if (::fchmod(fd.get(), 0600) != 0) throwErrno("chmod " + temporary);
        sys::writeAll(fd.get(), text.data(), text.size(), temporary);
        if (::fsync(fd.get()) != 0) throwErrno("fsync " + temporary);
        fd.reset();
        if (::rename(temporary.c_str(), path.c_str()) != 0) throwErrno("rename " + temporary + " to " + path);
    } catch (...) {
        ::unlink(temporary.c_str());
        throw;
    }
    UniqueFd directoryFd = sys::openAt(AT_FDCWD, directory, O_RDONLY | O_DIRECTORY);
    if (::fsync(directoryFd.get()) != 0) throwErrno("fsync " + directory);
    return path;
}

SnapshotRecord readSnapshotRecord(const std::string& path) {
    // O_NONBLOCK: a FIFO planted at the path (an imported checkpoint) must not hang the open.
    UniqueFd fd = sys::openAt(AT_FDCWD, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    struct stat status {};
    if (::fstat(fd.get(), &status) != 0) throwErrno("stat " + path);
    if (!S_ISREG(status.st_mode)) throwBadInput("snapshot record " + path + ": not a regular file");
    std::string text = sys::readAll(fd.get(), path, kMaxRecordBytes);
    if (text.size() > kMaxRecordBytes) throwBadInput("snapshot record " + path + ": larger than 256 MiB");
    try {
        return snapshotRecordFromText(text);
    } catch (const Error& error) {
        throw error.within("snapshot record " + path);
    }
}

}  // namespace lockcr
