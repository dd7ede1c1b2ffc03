// Reading a lock image: simdjson's DOM (a 20,000-lock image is parsed in a few milliseconds, where
// a tree of nlohmann::json maps took over 100), then a strict walk that refuses what the schema
// refuses and names where: "processes[2].fds[0].locks[1].end: expected integer or \"EOF\"".
#include <fcntl.h>
#include <sys/stat.h>

#include <simdjson.h>

#include <array>
#include <climits>
#include <cstring>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>

#include "image/json.h"
#include "util/error.h"
#include "util/sys.h"
#include "util/trusted_file.h"
#include "util/json_reader.h"
#include "util/text.h"

namespace lockcr {

namespace {

using jsonread::Element;
using jsonread::isNonNegativeInteger;
using jsonread::ObjectReader;
using jsonread::Place;
using jsonread::shown;

constexpr int64_t kPidLimit = 4194304;  // PID_MAX_LIMIT on 64-bit kernels
constexpr int64_t kSignalLimit = 64;    // SIGRTMAX
constexpr off_t kMaxImageSize = 256 << 20;

unsigned readOctalFlags(const ObjectReader& object) {
    std::string text = object.string("flags");
    auto flags = parseUnsignedNumber(text, 8, UINT_MAX);
    bool valid = text.size() >= 2 && text.size() <= 12 && text[0] == '0' && flags;
    if (!valid) object.place("flags").reject("expected open flags in octal like \"02100002\", got " + shown(text));
    return static_cast<unsigned>(*flags);
}

DeviceNumber readDevice(const ObjectReader& object) { return object.name("dev", deviceNumberFromString); }

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
    Element end = object.at("end");
    if (end.is_string() && end.get_string().value_unsafe() == "EOF") return std::nullopt;
    if (!isNonNegativeInteger(end)) object.place("end").reject("expected integer or \"EOF\"");
    uint64_t value = end.get_uint64().value_unsafe();
    if (value < start || value >= static_cast<uint64_t>(INT64_MAX))
        object.place("end").reject(std::to_string(value) + " is outside " + std::to_string(start) + ".." +
                                   std::to_string(INT64_MAX - 1));
    return value;
}

Lock readLock(Element value, const Place& place) {
    ObjectReader object(value, place, {"kind", "type", "start", "end", "lease_state", "set_by"});
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
        place.reject(std::string(nameOf(lock.kind)) + " locks cover the whole file: start 0, end \"EOF\"");
    if (object.has("set_by")) {
        if (byteRange) object.place("set_by").reject("only flocks and leases record who set them");
        lock.setBy = static_cast<pid_t>(object.integer("set_by", 1, kPidLimit));
    }
    return lock;
}

// "locks" with the "lock_count" that must match it (the seed's count, then each lock).
std::vector<Lock> readCountedLocks(const ObjectReader& object) {
    simdjson::dom::array locks = object.array("locks");
    uint64_t count = object.unsignedInteger("lock_count");
    size_t size = jsonread::elementCount(locks);
    if (count != size)
        object.place("lock_count").reject(std::to_string(count) + " but \"locks\" has " + std::to_string(size));
    std::vector<Lock> out;
    out.reserve(std::min<uint64_t>(count, 4096));  // a count is checked, not trusted with memory
    size_t i = 0;
    for (Element lock : locks) out.push_back(readLock(lock, object.place("locks").index(i++)));
    return out;
}

ProcessFd readProcessFd(Element value, const Place& place, size_t descriptionCount) {
    ObjectReader object(
        value, place, {"fd", "description", "flags", "path", "deleted", "mnt_id", "dev", "ino", "lock_count", "locks"});
    ProcessFd fd;
    fd.fd = static_cast<int>(object.integer("fd", 0, INT_MAX));
    if (!object.at("description").is_null()) {
        fd.descriptionId = static_cast<int>(object.integer("description", 0, INT_MAX));
        if (static_cast<size_t>(fd.descriptionId) >= descriptionCount)
            object.place("description").reject("no description has id " + std::to_string(fd.descriptionId));
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

Process readProcess(Element value, const Place& place, size_t descriptionCount) {
    ObjectReader object(value, place, {"pid", "host_pid", "command", "threads", "fds"});
    Process process;
    process.containerPid = static_cast<pid_t>(object.integer("pid", 1, kPidLimit));
    process.hostPid = static_cast<pid_t>(object.integer("host_pid", 1, kPidLimit));
    process.command = object.string("command");
    process.threadCount = static_cast<int>(object.integer("threads", 1, kPidLimit));
    std::set<int> seen;
    size_t i = 0;
    for (Element fd : object.array("fds")) {
        process.fds.push_back(readProcessFd(fd, object.place("fds").index(i), descriptionCount));
        if (!seen.insert(process.fds.back().fd).second)
            object.place("fds").index(i).field("fd").reject("fd " + std::to_string(process.fds.back().fd) +
                                                            " appears twice");
        ++i;
    }
    return process;
}

SignalOwner readSignalOwner(Element value, const Place& place) {
    ObjectReader object(value, place, {"type", "pid", "signal"});
    SignalOwner owner;
    std::string type = object.string("type");
    if (type == "tid") owner.ownerType = F_OWNER_TID;
    else if (type == "pid") owner.ownerType = F_OWNER_PID;
    else if (type == "pgrp") owner.ownerType = F_OWNER_PGRP;
    else object.place("type").reject("expected \"tid\", \"pid\" or \"pgrp\", got " + shown(type));
    owner.containerPid = static_cast<pid_t>(object.integer("pid", 0, kPidLimit));
    owner.signal = static_cast<int>(object.integer("signal", 0, kSignalLimit));
    return owner;
}

OpenFileDescription readDescription(Element value, const Place& place) {
    ObjectReader object(
        value, place,
        {"id", "path", "deleted", "mnt_id", "dev", "ino", "flags", "holders", "lock_count", "locks", "signal_owner"});
    OpenFileDescription description;
    description.id = static_cast<int>(object.integer("id", 0, INT_MAX));
    description.file = readFileIdentity(object);
    description.openFlags = readOctalFlags(object);
    simdjson::dom::array holders = object.array("holders");
    if (holders.size() == 0) object.place("holders").reject("a description has at least one holder (pid, fd)");
    size_t i = 0;
    Place holdersPlace = object.place("holders");
    for (Element holderValue : holders) {
        Place place = holdersPlace.index(i++);
        ObjectReader holder(holderValue, place, {"pid", "fd"});
        description.holders.push_back({static_cast<pid_t>(holder.integer("pid", 1, kPidLimit)),
                                       static_cast<int>(holder.integer("fd", 0, INT_MAX))});
    }
    description.locks = readCountedLocks(object);
    for (size_t j = 0; j < description.locks.size(); ++j)
        if (description.locks[j].kind == LockKind::posix)
            place.field("locks").index(j).field("kind").reject(
                "POSIX locks belong to a process fd, not to a description");
    if (object.has("signal_owner"))
        description.signalOwner = readSignalOwner(object.at("signal_owner"), object.place("signal_owner"));
    return description;
}

Waiter readWaiter(Element value, const Place& place) {
    ObjectReader object(value, place,
                        {"pid", "host_pid", "dev", "ino", "path", "requested", "blocked_on", "blocked_on_pid"});
    Waiter waiter;
    waiter.containerPid = static_cast<pid_t>(object.integer("pid", 0, kPidLimit));
    waiter.hostPid = static_cast<pid_t>(object.integer("host_pid", 0, kPidLimit));
    waiter.device = readDevice(object);
    waiter.inode = object.unsignedInteger("ino");
    waiter.path = object.string("path");
    waiter.requested = readLock(object.at("requested"), object.place("requested"));
    waiter.blockedOn = readLock(object.at("blocked_on"), object.place("blocked_on"));
    waiter.blockedOnContainerPid = static_cast<pid_t>(object.integer("blocked_on_pid", 0, kPidLimit));
    return waiter;
}

HostInfo readHost(Element value, const Place& place) {
    ObjectReader object(value, place, {"hostname", "kernel_release", "boot_id"});
    return {object.string("hostname"), object.string("kernel_release"), object.string("boot_id")};
}

ContainerIdentity readContainer(Element value, const Place& place) {
    ObjectReader object(value, place,
                        {"id", "bundle", "root_path", "init_host_pid", "pid_namespace", "cgroup", "membership"});
    ContainerIdentity container;
    container.id = object.string("id");
    container.bundle = object.string("bundle");
    container.rootPath = object.string("root_path");
    container.initHostPid = static_cast<pid_t>(object.integer("init_host_pid", 0, kPidLimit));
    container.pidNamespace = object.unsignedInteger("pid_namespace");
    container.cgroup = object.string("cgroup");
    container.membership = object.string("membership");
    if (container.membership != "cgroup" && container.membership != "pid-namespace")
        object.place("membership")
            .reject("expected \"cgroup\" or \"pid-namespace\", got " + shown(container.membership));
    return container;
}

void checkVersion(const ObjectReader& top) {
    Element version = top.at("version");
    if (!version.is_int64() || version.get_int64().value_unsafe() != kLockImageVersion)
        top.place("version").reject("unsupported lock image version " + shown(version) +
                                    " (this lockcr reads version " + std::to_string(kLockImageVersion) + ")");
    if (top.string("$schema") != kLockImageSchemaId)
        top.place("$schema").reject(std::string("expected \"") + kLockImageSchemaId + "\"");
}

std::vector<OpenFileDescription> readDescriptions(const ObjectReader& top) {
    std::vector<OpenFileDescription> descriptions;
    Place array = top.place("descriptions");
    for (Element value : top.array("descriptions")) {
        size_t i = descriptions.size();
        Place entry = array.index(i);
        descriptions.push_back(readDescription(value, entry));
        // ProcessFd::descriptionId is documented as an index into descriptions: readers may
        // index with it, so an image where they differ is refused (and ids are unique).
        int id = descriptions.back().id;
        Place place = entry.field("id");
        if (static_cast<size_t>(id) < i) place.reject("id " + std::to_string(id) + " appears twice");
        if (static_cast<size_t>(id) != i)
            place.reject("expected " + std::to_string(i) + " (a description's id is its index in this array)");
    }
    return descriptions;
}

LockImage lockImageFromDocument(Element document) {
    ObjectReader top(
        document, Place(),
        {"$schema", "version", "created", "tool", "host", "container", "processes", "descriptions", "waiters"});
    checkVersion(top);
    LockImage image;
    image.createdAt = top.string("created");
    image.tool = top.string("tool");
    image.host = readHost(top.at("host"), top.place("host"));
    image.container = readContainer(top.at("container"), top.place("container"));
    image.descriptions = readDescriptions(top);
    std::set<pid_t> pids;
    size_t i = 0;
    Place processes = top.place("processes");
    for (Element value : top.array("processes")) {
        Place place = processes.index(i++);
        image.processes.push_back(readProcess(value, place, image.descriptions.size()));
        if (!pids.insert(image.processes.back().containerPid).second)
            place.field("pid").reject("pid " + std::to_string(image.processes.back().containerPid) + " appears twice");
    }
    i = 0;
    Place waiters = top.place("waiters");
    for (Element value : top.array("waiters")) image.waiters.push_back(readWaiter(value, waiters.index(i++)));
    return image;
}

LockImage lockImageFromBuffer(std::string_view text, size_t spare) {
    simdjson::dom::parser parser;
    return lockImageFromDocument(jsonread::parseDocument(parser, text, spare));
}

}  // namespace

LockImage lockImageFromText(std::string_view text) { return lockImageFromBuffer(text, 0); }

LockImage lockImageFromJson(const nlohmann::json& document) {
    return lockImageFromText(document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

LockImage readLockImage(const std::string& path) {
    std::string text;
    return readLockImage(path, text);
}

LockImage readLockImage(const std::string& path, std::string& text) {
    // O_NONBLOCK: opening a FIFO planted at the path must not hang; it is refused below.
    UniqueFd fd = sys::openAt(AT_FDCWD, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    struct stat status {};
    int err = 0;
    if (!sys::tryStatFd(fd.get(), status, err)) throwErrno("stat lock image " + path, err);
    if (!S_ISREG(status.st_mode)) throwBadInput("lock image " + path + ": not a regular file");
    refuseUntrustedFile(status, "lock image " + path);
    if (status.st_size > kMaxImageSize)
        throwBadInput("lock image " + path + ": " + std::to_string(status.st_size) +
                      " bytes, more than the 256 MiB an image can be");
    text.clear();
    text.reserve(static_cast<size_t>(status.st_size) + simdjson::SIMDJSON_PADDING + 1);
    sys::readAllInto(fd.get(), text, "lock image " + path, kMaxImageSize);
    if (text.size() > static_cast<size_t>(kMaxImageSize))
        throwBadInput("lock image " + path + ": grew past 256 MiB while being read");
    try {
        return lockImageFromBuffer(text, text.capacity() - text.size());
    } catch (const Error& error) {
        throw error.within("lock image " + path);
    }
}

}  // namespace lockcr
