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

#include "util/json_writer.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sys.h"

namespace lockcr {

namespace {

using nlohmann::json;

// ---- Writing ----------------------------------------------------------------------------------

std::string octalFlags(unsigned flags) {
    char text[16] = "0";  // "0%o", as fdinfo prints them
    auto [end, error] = std::to_chars(text + 1, text + sizeof text, flags, 8);
    return std::string(text, end);
}

void writeLock(JsonWriter& out, const Lock& lock) {
    out.beginObject();
    out.key("kind").plainString(nameOf(lock.kind));
    out.key("type").plainString(nameOf(lock.type));
    out.key("start").unsignedNumber(lock.range.start);
    if (lock.range.end) out.key("end").unsignedNumber(*lock.range.end);
    else out.key("end").plainString("EOF");
    if (lock.kind == LockKind::lease) out.key("lease_state").plainString(nameOf(lock.leaseState));
    if (lock.setBy > 0) out.key("set_by").number(lock.setBy);
    out.endObject();
}

void writeLocks(JsonWriter& out, const std::vector<Lock>& locks) {
    out.key("lock_count").unsignedNumber(locks.size());
    out.key("locks").beginArray();
    for (const Lock& lock : locks) writeLock(out, lock);
    out.endArray();
}

void writeFileIdentity(JsonWriter& out, const FileIdentity& file, unsigned openFlags) {
    out.key("path").exactString(file.path, "lock image: path");
    out.key("deleted").boolean(file.deleted);
    out.key("mnt_id").number(file.mountId);
    out.key("dev").plainString(deviceNumberToString(file.device));
    out.key("ino").unsignedNumber(file.inode);
    out.key("flags").plainString(octalFlags(openFlags));
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
    out.key("path").exactString(waiter.path, "lock image: path");
    out.key("requested");
    writeLock(out, waiter.requested);
    out.key("blocked_on");
    writeLock(out, waiter.blockedOn);
    out.key("blocked_on_pid").number(waiter.blockedOnContainerPid);
    out.endObject();
}

void writeContainer(JsonWriter& out, const ContainerIdentity& container) {
    out.beginObject();
    out.key("id").exactString(container.id, "lock image: container id");
    out.key("bundle").exactString(container.bundle, "lock image: bundle");
    out.key("root_path").exactString(container.rootPath, "lock image: root path");
    out.key("init_host_pid").number(container.initHostPid);
    out.key("pid_namespace").unsignedNumber(container.pidNamespace);
    out.key("cgroup").exactString(container.cgroup, "lock image: cgroup");
    out.key("membership").exactString(container.membership, "lock image: membership");
    out.endObject();
}

// ---- Files ------------------------------------------------------------------------------------

// A little more than the text will need, so the buffer is not copied as it grows (an image of
// 20,000 locks is a few megabytes).
size_t expectedTextSize(const LockImage& image) {
    size_t entries = image.processes.size() + image.descriptions.size() + image.waiters.size(), locks = 0;
    for (const Process& process : image.processes) {
        entries += process.fds.size();
        for (const ProcessFd& fd : process.fds) locks += fd.posixLocks.size();
    }
    for (const OpenFileDescription& description : image.descriptions)
        locks += description.locks.size() + description.holders.size();
    return 1024 + entries * 256 + locks * 64;
}

}  // namespace

std::string lockImageToText(const LockImage& image) {
    JsonWriter out;
    out.reserve(expectedTextSize(image));
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

void writeLockImage(const std::string& path, const LockImage& image, PhaseClock* clock) {
    // Compact: an image is for lockcr to read back. Reader and writer agree by test
    // (tests/unit/image_json_test.cpp round trips), not by parsing every image again on the dump path.
    std::string text = lockImageToText(image);
    text += '\n';
    if (clock) clock->lap("image text made");
    writeFileAtomically(path, text, clock);
}

}  // namespace lockcr
