#include "snapshot/record.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "util/error.h"
#include "util/json_reader.h"
#include "util/json_writer.h"
#include "util/sys.h"
#include "util/trusted_file.h"

namespace lockcr {

namespace {

constexpr size_t kMaxRecordBytes = size_t{256} << 20;

// Paths are written exactly (JsonWriter refuses bytes that are not UTF-8: the record could not hold
// them faithfully); the writer appends text with no tree in between, as for the lock image.
void writeFile(JsonWriter& out, const SnapshotFile& file) {
    out.beginObject();
    out.key("path").exactString(file.path, "snapshot record: a path");
    out.key("size").unsignedNumber(file.size);
    out.key("mode").unsignedNumber(file.mode);
    out.key("uid").unsignedNumber(file.uid);
    out.key("gid").unsignedNumber(file.gid);
    out.key("mtime").beginObject();
    out.key("seconds").number(file.mtimeSeconds);
    out.key("nanoseconds").unsignedNumber(file.mtimeNanoseconds);
    out.endObject();
    out.key("dev").unsignedNumber(file.device);
    out.key("ino").unsignedNumber(file.inode);
    out.key("digest").exactString(file.digest, "snapshot record: a digest");
    out.key("copy").exactString(file.copy, "snapshot record: a copy path");
    if (!file.exported.empty())  // only with an export: older records stay as they were
        out.key("exported").exactString(file.exported, "snapshot record: an exported copy path");
    out.endObject();
}

void writeDirectory(JsonWriter& out, const SnapshotDirectory& directory) {
    out.beginObject();
    out.key("path").exactString(directory.path, "snapshot record: a directory path");
    out.key("mode").unsignedNumber(directory.mode);
    out.key("uid").unsignedNumber(directory.uid);
    out.key("gid").unsignedNumber(directory.gid);
    out.endObject();
}

void writePart(JsonWriter& out, const SnapshotPart& part) {
    out.beginObject();
    out.key("backend").exactString(backendName(part.backend), "snapshot record: a backend");
    out.key("mount_point").exactString(part.mountPoint, "snapshot record: a mount point");
    out.key("fs_type").exactString(part.fsType, "snapshot record: a filesystem type");
    out.key("source").exactString(part.source, "snapshot record: a source path");
    out.key("data").exactString(part.data, "snapshot record: a data path");
    out.key("subvolume_id").unsignedNumber(part.subvolumeId);
    out.key("whole_volume").boolean(part.wholeVolume);
    out.key("files").beginArray();
    for (const SnapshotFile& file : part.files) writeFile(out, file);
    out.endArray();
    if (!part.directories.empty()) {
        out.key("directories").beginArray();
        for (const SnapshotDirectory& directory : part.directories) writeDirectory(out, directory);
        out.endArray();
    }
    if (!part.exported.empty()) out.key("exported").exactString(part.exported, "snapshot record: an export directory");
    out.endObject();
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

using jsonread::Element;
using jsonread::ObjectReader;
using jsonread::Place;

std::string readPath(const ObjectReader& object, const char* key, bool mayBeEmpty) {
    std::string value = object.string(key);
    if (value.empty() ? !mayBeEmpty : !isNormalAbsolutePath(value))
        object.place(key).reject("expected an absolute path without \".\", \"..\" or empty components");
    return value;
}

// A relative path that stays inside the directory it is resolved in (no "..", no leading "/").
std::string readRelativePath(const ObjectReader& object, const char* key) {
    std::string value = object.string(key);
    if (!value.empty() && (value.starts_with('/') || !isNormalAbsolutePath("/" + value)))
        object.place(key).reject("expected a path inside its directory");
    return value;
}

uint64_t readUnsigned(const ObjectReader& object, const char* key, uint64_t maximum) {
    uint64_t value = object.unsignedInteger(key);
    if (value > maximum) object.place(key).reject("expected an integer 0.." + std::to_string(maximum));
    return value;
}

bool isHexDigest(const std::string& digest) {
    constexpr std::string_view kPrefix = "xxh3-128:";
    if (digest.size() != kPrefix.size() + 32 || !digest.starts_with(kPrefix)) return false;
    return digest.find_first_not_of("0123456789abcdef", kPrefix.size()) == std::string::npos;
}

SnapshotFile readFile(Element value, const Place& place) {
    ObjectReader object(value, place,
                        {"path", "size", "mode", "uid", "gid", "mtime", "dev", "ino", "digest", "copy", "exported"});
    SnapshotFile file;
    file.path = readPath(object, "path", false);
    file.size = readUnsigned(object, "size", INT64_MAX);
    file.mode = static_cast<uint32_t>(readUnsigned(object, "mode", UINT32_MAX));
    if (!S_ISREG(file.mode)) object.place("mode").reject("not a regular file's mode");
    file.uid = static_cast<uint32_t>(readUnsigned(object, "uid", UINT32_MAX));
    file.gid = static_cast<uint32_t>(readUnsigned(object, "gid", UINT32_MAX));
    ObjectReader mtime(object.at("mtime"), object.place("mtime"), {"seconds", "nanoseconds"});
    file.mtimeSeconds = mtime.integer("seconds", INT64_MIN, INT64_MAX);
    file.mtimeNanoseconds = static_cast<uint32_t>(readUnsigned(mtime, "nanoseconds", 999999999));
    file.device = object.unsignedInteger("dev");
    file.inode = object.unsignedInteger("ino");
    file.digest = object.string("digest");
    if (!isHexDigest(file.digest) && file.digest != kNoDigest)
        object.place("digest").reject("expected \"xxh3-128:\" and 32 lowercase hex digits, or \"none\"");
    file.copy = object.string("copy");
    // A copy path is opened inside the part's data directory; "..", an absolute path or a NUL is
    // refused here as well, so a forged record cannot even ask for one.
    if (!file.copy.empty() && (file.copy.starts_with('/') || !isNormalAbsolutePath("/" + file.copy)))
        object.place("copy").reject("expected a path inside the data directory");
    if (object.has("exported")) file.exported = readRelativePath(object, "exported");
    return file;
}

SnapshotDirectory readDirectory(Element value, const Place& place) {
    ObjectReader object(value, place, {"path", "mode", "uid", "gid"});
    SnapshotDirectory directory;
    directory.path = readPath(object, "path", false);
    directory.mode = static_cast<uint32_t>(readUnsigned(object, "mode", 07777));
    directory.uid = static_cast<uint32_t>(readUnsigned(object, "uid", UINT32_MAX));
    directory.gid = static_cast<uint32_t>(readUnsigned(object, "gid", UINT32_MAX));
    return directory;
}

SnapshotPart readPart(Element value, const Place& place) {
    ObjectReader object(value, place,
                        {"backend", "mount_point", "fs_type", "source", "data", "subvolume_id", "whole_volume", "files",
                         "directories", "exported"});
    SnapshotPart part;
    std::string backend = object.string("backend");
    if (backend == "btrfs") part.backend = SnapshotBackend::btrfs;
    else if (backend == "overlay") part.backend = SnapshotBackend::overlay;
    else if (backend == "manifest") part.backend = SnapshotBackend::manifest;
    else object.place("backend").reject("expected btrfs, overlay or manifest");
    part.mountPoint = readPath(object, "mount_point", false);
    part.fsType = object.string("fs_type");
    part.source = readPath(object, "source", true);
    part.data = readPath(object, "data", true);
    part.subvolumeId = object.unsignedInteger("subvolume_id");
    part.wholeVolume = object.boolean("whole_volume");
    simdjson::dom::array files = object.array("files");
    part.files.reserve(std::min<size_t>(jsonread::elementCount(files), 65536));  // a count is not trusted with memory
    Place filesPlace = object.place("files");
    size_t i = 0;
    for (Element file : files) part.files.push_back(readFile(file, filesPlace.index(i++)));
    if (object.has("directories")) {
        Place directoriesPlace = object.place("directories");
        i = 0;
        for (Element directory : object.array("directories"))
            part.directories.push_back(readDirectory(directory, directoriesPlace.index(i++)));
    }
    if (object.has("exported")) part.exported = readRelativePath(object, "exported");
    return part;
}

SnapshotRecord recordFromDocument(Element document) {
    ObjectReader top(document, Place(),
                     {"$schema", "version", "checkpoint_id", "created", "hostname", "init_pid", "store", "parts"});
    if (top.text("$schema") != kSnapshotRecordSchemaId)
        top.place("$schema").reject(std::string("expected \"") + kSnapshotRecordSchemaId + "\"");
    SnapshotRecord record;
    record.version = static_cast<int>(readUnsigned(top, "version", INT32_MAX));
    if (record.version != 1) top.place("version").reject("this lockcr reads version 1");
    record.checkpointId = top.string("checkpoint_id");
    try {
        checkCheckpointId(record.checkpointId);
    } catch (const Error& error) {
        top.place("checkpoint_id").reject(error.what());
    }
    record.createdSeconds = top.integer("created", INT64_MIN, INT64_MAX);
    record.hostname = top.string("hostname");
    record.initPid = static_cast<pid_t>(readUnsigned(top, "init_pid", INT32_MAX));
    record.store = readPath(top, "store", false);
    Place partsPlace = top.place("parts");
    size_t i = 0;
    for (Element part : top.array("parts")) record.parts.push_back(readPart(part, partsPlace.index(i++)));
    return record;
}

}  // namespace

void checkCheckpointId(const std::string& id) {
    bool ok = !id.empty() && id.size() <= 128 && id != "." && id != ".." &&
              id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
                  std::string::npos;
    if (!ok) throwBadInput("checkpoint id \"" + id.substr(0, 80) + "\": expected 1 to 128 of A-Z a-z 0-9 . _ -");
}

std::string snapshotRecordToText(const SnapshotRecord& record) {
    JsonWriter out;
    size_t files = 0;
    for (const SnapshotPart& part : record.parts) files += part.files.size();
    out.reserve(512 + files * 256);
    out.beginObject();
    out.key("$schema").exactString(kSnapshotRecordSchemaId, "snapshot record: the schema id");
    out.key("version").number(record.version);
    out.key("checkpoint_id").exactString(record.checkpointId, "snapshot record: the checkpoint id");
    out.key("created").number(record.createdSeconds);
    out.key("hostname").lossyString(record.hostname);
    out.key("init_pid").number(record.initPid);
    out.key("store").exactString(record.store, "snapshot record: the store path");
    out.key("parts").beginArray();
    for (const SnapshotPart& part : record.parts) writePart(out, part);
    out.endArray();
    out.endObject();
    return out.take();
}

SnapshotRecord snapshotRecordFromText(std::string_view text) {
    simdjson::dom::parser parser;
    return recordFromDocument(jsonread::parseDocument(parser, text, 0));
}

std::string writeSnapshotRecord(const std::string& directory, const SnapshotRecord& record) {
    return writeSnapshotRecordText(directory, snapshotRecordToText(record));
}

std::string writeSnapshotRecordText(const std::string& directory, std::string text) {
    text += "\n";
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
    refuseUntrustedFile(status, "snapshot record " + path);
    if (static_cast<uint64_t>(status.st_size) > kMaxRecordBytes)
        throwBadInput("snapshot record " + path + ": larger than 256 MiB");
    std::string text;
    text.reserve(static_cast<size_t>(status.st_size) + simdjson::SIMDJSON_PADDING + 1);
    sys::readAllInto(fd.get(), text, "snapshot record " + path, kMaxRecordBytes);
    if (text.size() > kMaxRecordBytes) throwBadInput("snapshot record " + path + ": larger than 256 MiB");
    try {
        simdjson::dom::parser parser;
        return recordFromDocument(jsonread::parseDocument(parser, text, text.capacity() - text.size()));
    } catch (const Error& error) {
        throw error.within("snapshot record " + path);
    }
}

}  // namespace lockcr
