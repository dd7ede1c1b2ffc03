#include "image/json.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <charconv>
#include <climits>
#include <cstdio>
#include <initializer_list>
#include <set>

#include "image/json_writer.h"
#include "util/error.h"
#include "util/sys.h"

namespace lockcr {

namespace {

using nlohmann::json;

constexpr int64_t kPidLimit = 4194304;        // PID_MAX_LIMIT on 64-bit kernels
constexpr int64_t kSignalLimit = 64;          // SIGRTMAX
constexpr off_t kMaxImageSize = 256 << 20;

// ---- Writing ----------------------------------------------------------------------------------

std::string octalFlags(unsigned flags) {
    char text[16];
    std::snprintf(text, sizeof text, "0%o", flags);  // as fdinfo prints them
    return text;
}

void writeLock(JsonWriter& out, const Lock& lock) {
    out.beginObject();
    out.key("kind").lossyString(nameOf(lock.kind));
    out.key("type").lossyString(nameOf(lock.type));
    out.key("start").unsignedNumber(lock.range.start);
    if (lock.range.end) out.key("end").unsignedNumber(*lock.range.end);
    else out.key("end").lossyString("EOF");
    if (lock.kind == LockKind::lease) out.key("lease_state").lossyString(nameOf(lock.leaseState));
    out.endObject();
}

void writeLocks(JsonWriter& out, const std::vector<Lock>& locks) {
    out.key("lock_count").unsignedNumber(locks.size());
    out.key("locks").beginArray();
    for (const Lock& lock : locks) writeLock(out, lock);
    out.endArray();
}

void writeFileIdentity(JsonWriter& out, const FileIdentity& file, unsigned openFlags) {
    out.key("path").exactString(file.path, "path");
    out.key("deleted").boolean(file.deleted);
    out.key("mnt_id").number(file.mountId);
    out.key("dev").lossyString(deviceNumberToString(file.device));
    out.key("ino").unsignedNumber(file.inode);
    out.key("flags").lossyString(octalFlags(openFlags));
}

void writeProcess(JsonWriter& out, const Process& process) {
    out.beginObject();
    out.key("pid").number(process.containerPid);
    out.key("host_pid").number(process.hostPid);
    out.key("command").lossyString(process.command);
    out.key("threads").number(process.threadCount);
    out.key("fds").beginArray();
    for (const ProcessFd& fd : process.fds) {
        out.beginObject();
        out.key("fd").number(fd.fd);
        if (fd.descriptionId < 0) out.key("description").null();
        else out.key("description").number(fd.descriptionId);
        writeFileIdentity(out, fd.file, fd.openFlags);
        writeLocks(out, fd.posixLocks);
        out.endObject();
    }
    out.endArray();
    out.endObject();
}

const char* signalOwnerTypeName(int ownerType) {
    switch (ownerType) {
        case F_OWNER_TID: return "tid";
        case F_OWNER_PID: return "pid";
        case F_OWNER_PGRP: return "pgrp";
    }
    throwFailure("lock image: unknown signal owner type " + std::to_string(ownerType));
}

void writeDescription(JsonWriter& out, const OpenFileDescription& description) {
    out.beginObject();
    out.key("id").number(description.id);
    writeFileIdentity(out, description.file, description.openFlags);
    out.key("holders").beginArray();
    for (const Holder& holder : description.holders) {
        out.beginObject();
        out.key("pid").number(holder.containerPid);
        out.key("fd").number(holder.fd);
        out.endObject();
    }
    out.endArray();
    writeLocks(out, description.locks);
    if (const auto& owner = description.signalOwner) {
        out.key("signal_owner").beginObject();
        out.key("type").lossyString(signalOwnerTypeName(owner->ownerType));
        out.key("pid").number(owner->containerPid);
        out.key("signal").number(owner->signal);
        out.endObject();
    }
    out.endObject();
}

void writeWaiter(JsonWriter& out, const Waiter& waiter) {
    out.beginObject();
    out.key("pid").number(waiter.containerPid);
    out.key("host_pid").number(waiter.hostPid);
    out.key("dev").lossyString(deviceNumberToString(waiter.device));
    out.key("ino").unsignedNumber(waiter.inode);
    out.key("path").exactString(waiter.path, "path");
    out.key("requested");
    writeLock(out, waiter.requested);
    out.key("blocked_on");
    writeLock(out, waiter.blockedOn);
    out.key("blocked_on_pid").number(waiter.blockedOnContainerPid);
    out.endObject();
}

void writeContainer(JsonWriter& out, const ContainerIdentity& container) {
    out.beginObject();
    out.key("id").exactString(container.id, "container id");
    out.key("bundle").exactString(container.bundle, "bundle");
    out.key("root_path").exactString(container.rootPath, "root path");
    out.key("init_host_pid").number(container.initHostPid);
    out.key("pid_namespace").unsignedNumber(container.pidNamespace);
    out.key("cgroup").exactString(container.cgroup, "cgroup");
    out.key("membership").exactString(container.membership, "membership");
    out.endObject();
}

// ---- Reading ----------------------------------------------------------------------------------

// A value from the document for an error message: JSON text, cut short, never throwing.
std::string shown(const json& value) {
    std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
    return text.size() > 60 ? text.substr(0, 60) + "..." : text;
}

// Where a value is in the document, for error messages: "processes[2].fds[0].locks[1].end".
class Place {
public:
    Place() = default;
    Place field(const char* name) const { return Place(text_.empty() ? name : text_ + "." + name); }
    Place index(size_t i) const { return Place(text_ + "[" + std::to_string(i) + "]"); }
    [[noreturn]] void reject(const std::string& why) const {
        throwBadInput((text_.empty() ? std::string("top level") : text_) + ": " + why);
    }

private:
    explicit Place(std::string text) : text_(std::move(text)) {}
    std::string text_;
};

// Parsed JSON holds non-negative integers as unsigned, but a document built in memory may hold
// them as signed: both are accepted.
bool isNonNegativeInteger(const json& value) {
    return value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0);
}

// One JSON object whose fields are all known: unknown ones are refused like the schema's
// additionalProperties: false.
class ObjectReader {
public:
    ObjectReader(const json& value, Place place, std::initializer_list<const char*> fields)
        : value_(value), place_(std::move(place)) {
        if (!value.is_object())
            place_.reject(std::string("expected object, got ") + value.type_name());
        for (const auto& [key, unused] : value.items()) {
            bool known = false;
            for (const char* field : fields) known = known || key == field;
            if (!known) place_.reject("unknown field " + shown(key));
        }
    }

    Place place(const char* name) const { return place_.field(name); }
    bool has(const char* name) const { return value_.contains(name); }
    const json& at(const char* name) const {
        auto found = value_.find(name);
        if (found == value_.end()) place(name).reject("missing");
        return *found;
    }
    std::string string(const char* name) const {
        const json& value = at(name);
        if (!value.is_string())
            place(name).reject(std::string("expected string, got ") + value.type_name());
        return value.get<std::string>();
    }
    bool boolean(const char* name) const {
        const json& value = at(name);
        if (!value.is_boolean())
            place(name).reject(std::string("expected boolean, got ") + value.type_name());
        return value.get<bool>();
    }
    // Places are built only to report an error: reading a large image builds none.
    int64_t integer(const char* name, int64_t minimum, int64_t maximum) const {
        const json& value = at(name);
        if (!value.is_number_integer())
            place(name).reject(std::string("expected integer, got ") + value.type_name());
        bool inRange = value.is_number_unsigned()
                           ? value.get<uint64_t>() <= static_cast<uint64_t>(maximum)
                           : value.get<int64_t>() >= minimum && value.get<int64_t>() <= maximum;
        if (!inRange)
            place(name).reject("expected integer in " + std::to_string(minimum) + ".." +
                               std::to_string(maximum) + ", got " + shown(value));
        return value.get<int64_t>();
    }
    uint64_t unsignedInteger(const char* name) const {
        const json& value = at(name);
        if (!isNonNegativeInteger(value))
            place(name).reject(std::string("expected integer >= 0, got ") +
                               (value.is_number_integer() ? shown(value) : value.type_name()));
        return value.get<uint64_t>();
    }
    const json& array(const char* name) const {
        const json& value = at(name);
        if (!value.is_array())
            place(name).reject(std::string("expected array, got ") + value.type_name());
        return value;
    }
    // A name parsed by one of model.h's fromString functions, or the field is refused.
    template <typename Parse>
    auto name(const char* field, Parse parse) const {
        std::string text = string(field);
        try {
            return parse(text);
        } catch (const Error& error) {
            place(field).reject(error.what());
        }
    }

private:
    const json& value_;
    Place place_;
};

unsigned readOctalFlags(const ObjectReader& object) {
    std::string text = object.string("flags");
    unsigned flags = 0;
    const char* end = text.data() + text.size();
    auto parsed = std::from_chars(text.data(), end, flags, 8);
    bool valid = text.size() >= 2 && text.size() <= 12 && text[0] == '0' &&
                 parsed.ec == std::errc() && parsed.ptr == end;
    if (!valid)
        object.place("flags").reject("expected open flags in octal like \"02100002\", got " +
                                     shown(text));
    return flags;
}

DeviceNumber readDevice(const ObjectReader& object) {
    return object.name("dev", deviceNumberFromString);
}

FileIdentity readFileIdentity(const ObjectReader& object) {
    FileIdentity file;
    file.path = object.string("path");
    file.deleted = object.boolean("deleted");
    file.mountId = static_cast<int>(object.integer("mnt_id", -1, INT_MAX));
    file.device = readDevice(object);
    file.inode = object.unsignedInteger("ino");
    return file;
}

std::optional<uint64_t> readEnd(const ObjectReader& object, uint64_t start) {
    const json& end = object.at("end");
    if (end.is_string() && end.get<std::string>() == "EOF") return std::nullopt;
    if (!isNonNegativeInteger(end)) object.place("end").reject("expected integer or \"EOF\"");
    uint64_t value = end.get<uint64_t>();
    if (value < start || value >= static_cast<uint64_t>(INT64_MAX))
        object.place("end").reject(std::to_string(value) + " is outside " + std::to_string(start) +
                                   ".." + std::to_string(INT64_MAX - 1));
    return value;
}

Lock readLock(const json& value, const Place& place) {
    ObjectReader object(value, place, {"kind", "type", "start", "end", "lease_state"});
    Lock lock;
    lock.kind = object.name("kind", lockKindFromString);
    lock.type = object.name("type", lockTypeFromString);
    lock.range.start = static_cast<uint64_t>(object.integer("start", 0, INT64_MAX - 1));
    lock.range.end = readEnd(object, lock.range.start);
    if (lock.kind == LockKind::lease) {
        lock.leaseState = object.name("lease_state", leaseStateFromString);
        if (lock.leaseState == LeaseState::none)
            object.place("lease_state").reject("a lease must be active, breaking or breaker");
    } else if (object.has("lease_state")) {
        object.place("lease_state").reject("only leases have a lease_state");
    }
    if (lock.type == LockType::unlock && lock.leaseState != LeaseState::breaking)
        object.place("type").reject("\"unlock\" is only the target of a breaking lease");
    bool byteRange = lock.kind == LockKind::posix || lock.kind == LockKind::ofd;
    if (!byteRange && (lock.range.start != 0 || lock.range.end))
        place.reject(std::string(nameOf(lock.kind)) + " locks cover the whole file: "
                     "start 0, end \"EOF\"");
    return lock;
}

// "locks" with the "lock_count" that must match it (the seed's count, then each lock).
std::vector<Lock> readCountedLocks(const ObjectReader& object) {
    const json& locks = object.array("locks");
    uint64_t count = object.unsignedInteger("lock_count");
    if (count != locks.size())
        object.place("lock_count").reject(std::to_string(count) + " but \"locks\" has " +
                                          std::to_string(locks.size()));
    std::vector<Lock> out;
    for (size_t i = 0; i < locks.size(); ++i)
        out.push_back(readLock(locks[i], object.place("locks").index(i)));
    return out;
}

ProcessFd readProcessFd(const json& value, const Place& place, const std::set<int>& descriptions) {
    ObjectReader object(value, place,
                        {"fd", "description", "flags", "path", "deleted", "mnt_id", "dev", "ino",
                         "lock_count", "locks"});
    ProcessFd fd;
    fd.fd = static_cast<int>(object.integer("fd", 0, INT_MAX));
    if (!object.at("description").is_null()) {
        fd.descriptionId = static_cast<int>(object.integer("description", 0, INT_MAX));
        if (descriptions.count(fd.descriptionId) == 0)
            object.place("description").reject("no description has id " +
                                               std::to_string(fd.descriptionId));
    }
    fd.openFlags = readOctalFlags(object);
    fd.file = readFileIdentity(object);
    fd.posixLocks = readCountedLocks(object);
    for (size_t i = 0; i < fd.posixLocks.size(); ++i)
        if (fd.posixLocks[i].kind != LockKind::posix)
            place.field("locks").index(i).field("kind").reject(
                "an fd lists POSIX locks only; flock, OFD and lease locks belong to descriptions");
    return fd;
}

Process readProcess(const json& value, const Place& place, const std::set<int>& descriptions) {
    ObjectReader object(value, place, {"pid", "host_pid", "command", "threads", "fds"});
    Process process;
    process.containerPid = static_cast<pid_t>(object.integer("pid", 1, kPidLimit));
    process.hostPid = static_cast<pid_t>(object.integer("host_pid", 1, kPidLimit));
    process.command = object.string("command");
    process.threadCount = static_cast<int>(object.integer("threads", 1, kPidLimit));
    const json& fds = object.array("fds");
    std::set<int> seen;
    for (size_t i = 0; i < fds.size(); ++i) {
        process.fds.push_back(readProcessFd(fds[i], object.place("fds").index(i), descriptions));
        if (!seen.insert(process.fds.back().fd).second)
            object.place("fds").index(i).field("fd").reject(
                "fd " + std::to_string(process.fds.back().fd) + " appears twice");
    }
    return process;
}

SignalOwner readSignalOwner(const json& value, const Place& place) {
    ObjectReader object(value, place, {"type", "pid", "signal"});
    SignalOwner owner;
    std::string type = object.string("type");
    if (type == "tid")
        owner.ownerType = F_OWNER_TID;
    else if (type == "pid")
        owner.ownerType = F_OWNER_PID;
    else if (type == "pgrp")
        owner.ownerType = F_OWNER_PGRP;
    else
        object.place("type").reject("expected \"tid\", \"pid\" or \"pgrp\", got " + shown(type));
    owner.containerPid = static_cast<pid_t>(object.integer("pid", 0, kPidLimit));
    owner.signal = static_cast<int>(object.integer("signal", 0, kSignalLimit));
    return owner;
}

OpenFileDescription readDescription(const json& value, const Place& place) {
    ObjectReader object(value, place,
                        {"id", "path", "deleted", "mnt_id", "dev", "ino", "flags", "holders",
                         "lock_count", "locks", "signal_owner"});
    OpenFileDescription description;
    description.id = static_cast<int>(object.integer("id", 0, INT_MAX));
    description.file = readFileIdentity(object);
    description.openFlags = readOctalFlags(object);
    const json& holders = object.array("holders");
    if (holders.empty()) object.place("holders").reject("a description has at least one holder (pid, fd)");
    for (size_t i = 0; i < holders.size(); ++i) {
        ObjectReader holder(holders[i], object.place("holders").index(i), {"pid", "fd"});
        description.holders.push_back({static_cast<pid_t>(holder.integer("pid", 1, kPidLimit)),
                                       static_cast<int>(holder.integer("fd", 0, INT_MAX))});
    }
    description.locks = readCountedLocks(object);
    for (size_t i = 0; i < description.locks.size(); ++i)
        if (description.locks[i].kind == LockKind::posix)
            place.field("locks").index(i).field("kind").reject(
                "POSIX locks belong to a process fd, not to a description");
    if (object.has("signal_owner"))
        description.signalOwner =
            readSignalOwner(object.at("signal_owner"), object.place("signal_owner"));
    return description;
}

Waiter readWaiter(const json& value, const Place& place) {
    ObjectReader object(value, place,
                        {"pid", "host_pid", "dev", "ino", "path", "requested", "blocked_on",
                         "blocked_on_pid"});
    Waiter waiter;
    waiter.containerPid = static_cast<pid_t>(object.integer("pid", 0, kPidLimit));
    waiter.hostPid = static_cast<pid_t>(object.integer("host_pid", 0, kPidLimit));
    waiter.device = readDevice(object);
    waiter.inode = object.unsignedInteger("ino");
    waiter.path = object.string("path");
    waiter.requested = readLock(object.at("requested"), object.place("requested"));
    waiter.blockedOn = readLock(object.at("blocked_on"), object.place("blocked_on"));
    waiter.blockedOnContainerPid =
        static_cast<pid_t>(object.integer("blocked_on_pid", 0, kPidLimit));
    return waiter;
}

HostInfo readHost(const json& value, const Place& place) {
    ObjectReader object(value, place, {"hostname", "kernel_release", "boot_id"});
    return {object.string("hostname"), object.string("kernel_release"), object.string("boot_id")};
}

ContainerIdentity readContainer(const json& value, const Place& place) {
    ObjectReader object(value, place,
                        {"id", "bundle", "root_path", "init_host_pid", "pid_namespace", "cgroup",
                         "membership"});
    ContainerIdentity container;
    container.id = object.string("id");
    container.bundle = object.string("bundle");
    container.rootPath = object.string("root_path");
    container.initHostPid = static_cast<pid_t>(object.integer("init_host_pid", 0, kPidLimit));
    container.pidNamespace = object.unsignedInteger("pid_namespace");
    container.cgroup = object.string("cgroup");
    container.membership = object.string("membership");
    if (container.membership != "cgroup" && container.membership != "pid-namespace")
        object.place("membership").reject("expected \"cgroup\" or \"pid-namespace\", got " +
                                          shown(container.membership));
    return container;
}

void checkVersion(const ObjectReader& top) {
    const json& version = top.at("version");
    if (!version.is_number_integer() || version.get<int64_t>() != kLockImageVersion)
        top.place("version").reject("unsupported lock image version " + shown(version) +
                                    " (this lockcr reads version " +
                                    std::to_string(kLockImageVersion) + ")");
    if (top.string("$schema") != kLockImageSchemaId)
        top.place("$schema").reject(std::string("expected \"") + kLockImageSchemaId + "\"");
}

std::vector<OpenFileDescription> readDescriptions(const ObjectReader& top, std::set<int>& ids) {
    std::vector<OpenFileDescription> descriptions;
    const json& array = top.array("descriptions");
    for (size_t i = 0; i < array.size(); ++i) {
        descriptions.push_back(readDescription(array[i], top.place("descriptions").index(i)));
        int id = descriptions.back().id;
        Place place = top.place("descriptions").index(i).field("id");
        if (!ids.insert(id).second) place.reject("id " + std::to_string(id) + " appears twice");
        // ProcessFd::descriptionId is documented as an index into descriptions: readers may
        // index with it, so an image where they differ is refused.
        if (static_cast<size_t>(id) != i)
            place.reject("expected " + std::to_string(i) +
                         " (a description's id is its index in this array)");
    }
    return descriptions;
}

// ---- Files ------------------------------------------------------------------------------------

// The temporary file of an atomic write: removed unless it was renamed into place.
class RemoveUnlessRenamed {
public:
    explicit RemoveUnlessRenamed(std::string path) : path_(std::move(path)) {}
    RemoveUnlessRenamed(const RemoveUnlessRenamed&) = delete;
    RemoveUnlessRenamed& operator=(const RemoveUnlessRenamed&) = delete;
    ~RemoveUnlessRenamed() {
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    void renamed() { path_.clear(); }

private:
    std::string path_;
};

std::string directoryOf(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

void fsyncOrThrow(int fd, const std::string& what) {
    if (::fsync(fd) != 0) throwErrno("fsync " + what);
}

}  // namespace

std::string lockImageToText(const LockImage& image) {
    JsonWriter out;
    out.beginObject();
    out.key("$schema").lossyString(kLockImageSchemaId);
    out.key("version").number(image.version);
    out.key("created").lossyString(image.createdAt);
    out.key("tool").lossyString(image.tool);
    out.key("host").beginObject();
    out.key("hostname").lossyString(image.host.hostname);
    out.key("kernel_release").lossyString(image.host.kernelRelease);
    out.key("boot_id").lossyString(image.host.bootId);
    out.endObject();
    out.key("container");
    writeContainer(out, image.container);
    out.key("processes").beginArray();
    for (const Process& process : image.processes) writeProcess(out, process);
    out.endArray();
    out.key("descriptions").beginArray();
    for (const OpenFileDescription& description : image.descriptions) writeDescription(out, description);
    out.endArray();
    out.key("waiters").beginArray();
    for (const Waiter& waiter : image.waiters) writeWaiter(out, waiter);
    out.endArray();
    out.endObject();
    return out.take();
}

json lockImageToJson(const LockImage& image) { return json::parse(lockImageToText(image)); }

LockImage lockImageFromJson(const json& document) {
    ObjectReader top(document, Place(),
                     {"$schema", "version", "created", "tool", "host", "container", "processes",
                      "descriptions", "waiters"});
    checkVersion(top);
    LockImage image;
    image.createdAt = top.string("created");
    image.tool = top.string("tool");
    image.host = readHost(top.at("host"), top.place("host"));
    image.container = readContainer(top.at("container"), top.place("container"));
    std::set<int> descriptionIds;
    image.descriptions = readDescriptions(top, descriptionIds);
    const json& processes = top.array("processes");
    std::set<pid_t> pids;
    for (size_t i = 0; i < processes.size(); ++i) {
        Place place = top.place("processes").index(i);
        image.processes.push_back(readProcess(processes[i], place, descriptionIds));
        if (!pids.insert(image.processes.back().containerPid).second)
            place.field("pid").reject("pid " + std::to_string(image.processes.back().containerPid) +
                                      " appears twice");
    }
    const json& waiters = top.array("waiters");
    for (size_t i = 0; i < waiters.size(); ++i)
        image.waiters.push_back(readWaiter(waiters[i], top.place("waiters").index(i)));
    return image;
}

LockImage readLockImage(const std::string& path) {
    // O_NONBLOCK: opening a FIFO planted at the path must not hang; it is refused below.
    UniqueFd fd = sys::openAt(AT_FDCWD, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    struct stat status {};
    if (::fstat(fd.get(), &status) != 0) throwErrno("stat lock image " + path);
    if (!S_ISREG(status.st_mode)) throwBadInput("lock image " + path + ": not a regular file");
    if (status.st_size > kMaxImageSize)
        throwBadInput("lock image " + path + ": " + std::to_string(status.st_size) +
                      " bytes, more than the 256 MiB an image can be");
    std::string text = sys::readAll(fd.get(), "lock image " + path);
    if (text.size() > static_cast<size_t>(kMaxImageSize))
        throwBadInput("lock image " + path + ": grew past 256 MiB while being read");
    json document;
    try {
        document = json::parse(text);
    } catch (const json::exception& error) {
        // "[json.exception.parse_error.101] parse error at line 3, column 7: ..." without the tag.
        std::string what = error.what();
        size_t tagEnd = what.find("] ");
        throwBadInput("lock image " + path + ": malformed JSON: " +
                      (tagEnd == std::string::npos ? what : what.substr(tagEnd + 2)));
    }
    try {
        return lockImageFromJson(document);
    } catch (const Error& error) {
        throw error.within("lock image " + path);
    }
}

void writeLockImage(const std::string& path, const LockImage& image) {
    // Compact: an image is for lockcr to read back. Reader and writer agree by test
    // (tests/unit/image_json_test.cpp round trips), not by parsing every image again on the dump path.
    std::string text = lockImageToText(image) + "\n";

    std::string directory = directoryOf(path);
    std::string temporary = directory + "/.lockcr-image-XXXXXX";
    int rawFd = ::mkostemp(temporary.data(), O_CLOEXEC);
    if (rawFd < 0)
        throwErrno("create a temporary file in " + directory + " for lock image " + path);
    UniqueFd fd(rawFd);
    RemoveUnlessRenamed guard(temporary);
    // mkostemp creates 0600 less the umask: make it exactly 0600, private but readable back.
    if (::fchmod(fd.get(), 0600) != 0) throwErrno("chmod " + temporary);
    sys::writeAll(fd.get(), text.data(), text.size(), temporary);
    fsyncOrThrow(fd.get(), temporary);
    fd.reset();
    if (::rename(temporary.c_str(), path.c_str()) != 0)
        throwErrno("rename " + temporary + " to " + path);
    guard.renamed();
    UniqueFd directoryFd = sys::openAt(AT_FDCWD, directory, O_RDONLY | O_DIRECTORY);
    fsyncOrThrow(directoryFd.get(), directory);
}

}  // namespace lockcr
