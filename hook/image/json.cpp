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
#include "util/workers.h"

namespace lockcr {

namespace {

using nlohmann::json;

// ---- Writing ----------------------------------------------------------------------------------

std::string octalFlags(unsigned flags) {
    char text[16] = "0";  // "0%o", as fdinfo prints them
    auto [end, error] = std::to_chars(text + 1, text + sizeof text, flags, 8);
    return std::string(text, end);
}

// A lock's object up to its start offset, made once for each kind and type: an image has 20,000
// locks, and one copy of this costs less than the five pieces written each time.
const std::string& lockOpening(LockKind kind, LockType type) {
    constexpr LockKind kinds[] = {LockKind::posix, LockKind::ofd, LockKind::flock, LockKind::lease};
    constexpr LockType types[] = {LockType::read, LockType::write, LockType::unlock};
    static const std::vector<std::string> openings = [&] {
        std::vector<std::string> made;
        for (LockKind k : kinds)
            for (LockType t : types) {
                JsonWriter text;
                text.beginObject();
                text.key("kind").plainString(nameOf(k));
                text.key("type").plainString(nameOf(t));
                text.key("start");
                made.push_back(text.take());
            }
        return made;
    }();
    auto kindIndex = std::find(std::begin(kinds), std::end(kinds), kind) - std::begin(kinds);
    auto typeIndex = std::find(std::begin(types), std::end(types), type) - std::begin(types);
    if (kindIndex == std::ssize(kinds) || typeIndex == std::ssize(types))
        throwFailure("lock image: a lock of unknown kind or type");
    return openings[kindIndex * std::size(types) + typeIndex];
}

void writeLock(JsonWriter& out, const Lock& lock) {
    out.beginObjectWith(lockOpening(lock.kind, lock.type));
    out.unsignedNumber(lock.range.start);
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

// ---- The text, in pieces ------------------------------------------------------------------------

// The text is formatted in pieces on the workers (an image of 20,000 locks is 2.8 MB, a few ms of
// one core): the fixed parts, and runs of processes or of descriptions of about equal weight.
// Their concatenation is the text, byte for byte.
struct Piece {
    enum class Part { head, processes, middle, descriptions, tail };
    Part part;
    size_t begin = 0, end = 0;
    size_t weight = 1;  // in units of about a lock's text (some 50 bytes)
};

// A file's identity and flags are the text of about three locks.
size_t weightOf(const Process& process) {
    size_t weight = 1 + 3 * process.fds.size();
    for (const ProcessFd& fd : process.fds) weight += fd.posixLocks.size();
    return weight;
}

size_t weightOf(const OpenFileDescription& description) {
    return 4 + description.holders.size() + description.locks.size();
}

// Runs of ITEMS of about equal weight, RUNS of them at most.
template <typename Item>
void addRuns(std::vector<Piece>& pieces, Piece::Part part, const std::vector<Item>& items, size_t runs) {
    size_t total = 0;
    for (const Item& item : items) total += weightOf(item);
    size_t target = total / runs + 1, begin = 0, weight = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        weight += weightOf(items[i]);
        if (weight < target && i + 1 < items.size()) continue;
        pieces.push_back({part, begin, i + 1, weight});
        begin = i + 1;
        weight = 0;
    }
}

void writeHead(JsonWriter& out, const LockImage& image) {
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
}

void writePiece(JsonWriter& out, const LockImage& image, const Piece& piece) {
    if (piece.begin > 0) out.continueAfterValue();
    switch (piece.part) {
        case Piece::Part::head: writeHead(out, image); break;
        case Piece::Part::processes:
            for (size_t i = piece.begin; i < piece.end; ++i) writeProcess(out, image.processes[i]);
            break;
        case Piece::Part::middle:
            out.endArray();
            out.key("descriptions").beginArray();
            break;
        case Piece::Part::descriptions:
            for (size_t i = piece.begin; i < piece.end; ++i) writeDescription(out, image.descriptions[i]);
            break;
        case Piece::Part::tail:
            out.endArray();
            out.key("waiters").beginArray();
            for (const Waiter& waiter : image.waiters) writeWaiter(out, waiter);
            out.endArray();
            out.endObject();
            break;
    }
}

}  // namespace

std::vector<std::string> lockImageToPieces(const LockImage& image) {
    size_t runs = 2 * workerCount();  // two per worker: one slow run does not hold up the end
    std::vector<Piece> pieces{{Piece::Part::head}};
    addRuns(pieces, Piece::Part::processes, image.processes, runs);
    pieces.push_back({Piece::Part::middle});
    addRuns(pieces, Piece::Part::descriptions, image.descriptions, runs);
    pieces.push_back({Piece::Part::tail, 0, 0, 1 + 4 * image.waiters.size()});
    size_t total = 0;
    for (const Piece& piece : pieces) total += piece.weight;
    std::vector<std::string> texts(pieces.size());
    // A small image costs less on this thread than a thread costs to start.
    size_t chunk = total < 8192 ? pieces.size() : 1;
    runOnWorkers(pieces.size(), chunk, [&](size_t, size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) {
            JsonWriter out;
            out.reserve(1024 + 64 * pieces[i].weight);  // a little more than needed: never copied
            writePiece(out, image, pieces[i]);
            texts[i] = out.take();
        }
    });
    return texts;
}

std::string lockImageToText(const LockImage& image) {
    std::string text;
    for (const std::string& piece : lockImageToPieces(image)) text += piece;
    return text;
}

json lockImageToJson(const LockImage& image) { return json::parse(lockImageToText(image)); }

void writeLockImage(const std::string& path, const LockImage& image, PhaseClock* clock) {
    // Compact: an image is for lockcr to read back. Reader and writer agree by test
    // (tests/unit/image_json_test.cpp round trips), not by parsing every image again on the dump path.
    std::vector<std::string> pieces = lockImageToPieces(image);
    pieces.back() += '\n';
    if (clock) clock->lap("image text made");
    writeFileAtomically(path, pieces, clock);
}

}  // namespace lockcr
