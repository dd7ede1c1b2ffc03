#include "image/model.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "util/error.h"
#include "util/text.h"

namespace lockcr {

namespace {

// A name from untrusted text, cut short and with control bytes replaced, for an error message.
std::string printable(std::string_view name) {
    std::string out(name.substr(0, 40));
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return name.size() > 40 ? out + "..." : out;
}

// Lowercase hex of at least two digits, as "%02x" prints it.
bool parseHexField(std::string_view text, uint32_t limit, uint32_t& value) {
    if (text.size() < 2 || text.size() > 8) return false;
    for (char c : text)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    auto number = parseUnsignedNumber(text, 16);
    if (!number || *number >= limit) return false;
    value = static_cast<uint32_t>(*number);
    return true;
}

}  // namespace

const char* nameOf(LockKind kind) {
    switch (kind) {
        case LockKind::posix: return "posix";
        case LockKind::ofd: return "ofd";
        case LockKind::flock: return "flock";
        case LockKind::lease: return "lease";
    }
    return "invalid";
}

const char* nameOf(LockType type) {
    switch (type) {
        case LockType::read: return "read";
        case LockType::write: return "write";
        case LockType::unlock: return "unlock";
    }
    return "invalid";
}

const char* nameOf(LeaseState state) {
    switch (state) {
        case LeaseState::none: return "none";
        case LeaseState::active: return "active";
        case LeaseState::breaking: return "breaking";
        case LeaseState::breaker: return "breaker";
    }
    return "invalid";
}

LockKind lockKindFromString(std::string_view name) {
    for (LockKind kind : {LockKind::posix, LockKind::ofd, LockKind::flock, LockKind::lease})
        if (name == nameOf(kind)) return kind;
    throwBadInput("unknown lock kind \"" + printable(name) + "\" (expected posix, ofd, flock or lease)");
}

LockType lockTypeFromString(std::string_view name) {
    for (LockType type : {LockType::read, LockType::write, LockType::unlock})
        if (name == nameOf(type)) return type;
    throwBadInput("unknown lock type \"" + printable(name) + "\" (expected read, write or unlock)");
}

LeaseState leaseStateFromString(std::string_view name) {
    for (LeaseState state : {LeaseState::none, LeaseState::active, LeaseState::breaking, LeaseState::breaker})
        if (name == nameOf(state)) return state;
    throwBadInput("unknown lease state \"" + printable(name) + "\" (expected none, active, breaking or breaker)");
}

std::string deviceNumberToString(DeviceNumber device) {
    // "%02x:%02x" (as /proc/locks prints them), without printf's format parsing: it is called for
    // every fd of an image.
    char text[32];
    auto hex = [](char* out, uint32_t value) {
        char digits[16];
        char* end = std::to_chars(digits, digits + sizeof digits, value, 16).ptr;
        if (end - digits < 2) *out++ = '0';
        return std::copy(digits, end, out);
    };
    char* end = hex(text, device.major);
    *end++ = ':';
    end = hex(end, device.minor);
    return std::string(text, end);
}

DeviceNumber deviceNumberFromString(std::string_view text) {
    // MAJOR() and MINOR() of the kernel's internal dev_t: 12 and 20 bits (include/linux/kdev_t.h).
    constexpr uint32_t kMajorLimit = 1u << 12, kMinorLimit = 1u << 20;
    DeviceNumber device;
    size_t colon = text.find(':');
    if (colon == std::string_view::npos || !parseHexField(text.substr(0, colon), kMajorLimit, device.major) ||
        !parseHexField(text.substr(colon + 1), kMinorLimit, device.minor))
        throwBadInput("bad device number \"" + printable(text) + "\" (expected hex MAJOR:MINOR like \"fe:00\")");
    return device;
}

std::string nameOf(const FileIdentity& file) {
    if (!file.path.empty()) return file.path;
    return std::to_string(file.device.major) + ":" + std::to_string(file.device.minor) + ":" +
           std::to_string(file.inode);
}

size_t countLocks(const LockImage& image) {
    size_t count = 0;
    for (const Process& process : image.processes)
        for (const ProcessFd& fd : process.fds) count += fd.posixLocks.size();
    for (const OpenFileDescription& description : image.descriptions) count += description.locks.size();
    return count;
}

std::string describeLock(const Lock& lock) {
    std::string kind = lock.kind == LockKind::ofd ? "OFD" : nameOf(lock.kind);
    std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return std::toupper(c); });
    std::string type = nameOf(lock.type);
    std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::toupper(c); });
    std::string text = kind + " " + type;
    if (lock.kind == LockKind::lease && lock.leaseState != LeaseState::active)
        text += std::string(" (") + nameOf(lock.leaseState) + ")";
    if (lock.kind == LockKind::posix || lock.kind == LockKind::ofd)
        text += " [" + std::to_string(lock.range.start) + "," +
                (lock.range.end ? std::to_string(*lock.range.end) : "EOF") + "]";
    return text;
}

}  // namespace lockcr
