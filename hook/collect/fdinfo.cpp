#include "collect/fdinfo.h"

#include <algorithm>
#include <climits>

#include "util/error.h"
#include "util/lines.h"
#include "util/text.h"

namespace lockcr {

namespace {

// Lines of the keys we read are short; other lines (epoll's tfd, inotify) are skipped unread.
constexpr size_t kMaxKnownLineLength = 4096;
// "lock:\t1: POSIX  ADVISORY  WRITE 1 0:0:1 0 0\n": the kernel pads the kind, qualifier and type.
constexpr size_t kShortestLockLine = 44;

struct SeenKeys {
    bool position = false, flags = false, mountId = false, inode = false;
};

void markSeen(bool& seen, std::string_view key) {
    if (seen) throwBadInput(std::string(key) + " appears twice");
    seen = true;
}

uint64_t parseNumber(std::string_view key, std::string_view value, int base, uint64_t limit) {
    std::optional<uint64_t> number = parseUnsignedNumber(value, base);
    if (!number || *number > limit) throwBadInput("bad " + std::string(key) + " " + quotedForMessage(value));
    return *number;
}

// "pos:\t%lli": signed, see FdInfo::position.
uint64_t parsePosition(std::string_view value) {
    bool negative = !value.empty() && value[0] == '-';
    uint64_t magnitude = parseNumber("pos", negative ? value.substr(1) : value, 10,
                                     negative ? uint64_t{1} << 63 : uint64_t{INT64_MAX});
    return negative ? ~magnitude + 1 : magnitude;
}

void parseLine(std::string_view line, FdInfo& out, SeenKeys& seen) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view key = line.substr(0, colon);
    bool known = key == "lock" || key == "pos" || key == "flags" || key == "mnt_id" || key == "ino";
    if (!known) return;
    if (line.size() > kMaxKnownLineLength)
        throwBadInput(std::string(key) + " line longer than " + std::to_string(kMaxKnownLineLength) + " bytes");
    std::string_view value = line.substr(colon + 1);
    value.remove_prefix(std::min(value.find_first_not_of(" \t"), value.size()));
    if (key == "pos") {
        markSeen(seen.position, key);
        out.position = parsePosition(value);
    } else if (key == "flags") {
        markSeen(seen.flags, key);
        out.flags = static_cast<unsigned>(parseNumber(key, value, 8, UINT_MAX));
    } else if (key == "mnt_id") {
        markSeen(seen.mountId, key);
        out.mountId = static_cast<int>(parseNumber(key, value, 10, INT_MAX));
    } else if (key == "ino") {
        markSeen(seen.inode, key);
        out.inode = parseNumber(key, value, 10, UINT64_MAX);
    } else {
        LockLine lock = parseLockLine(value);
        if (lock.blockedLevel != 0) throwBadInput("a waiter (\"->\") in fdinfo");
        out.locks.push_back(lock);
    }
}

}  // namespace

FdInfo parseFdInfo(std::string_view text) {
    FdInfo out;
    parseFdInfo(text, out);
    return out;
}

void parseFdInfo(std::string_view text, FdInfo& out) {
    std::vector<LockLine> room = std::move(out.locks);
    room.clear();
    out = FdInfo{};
    out.locks = std::move(room);
    SeenKeys seen;
    // Room for as many lock lines as the text could hold, in one allocation (a file may carry
    // hundreds): no lock line is shorter than kShortestLockLine, and pages never written are never
    // touched. (A shorter line would only make the vector grow.)
    out.locks.reserve(text.size() / kShortestLockLine);
    forEachLine(text, "fdinfo", [&](std::string_view line) { parseLine(line, out, seen); });
    if (!seen.position || !seen.flags)
        throwBadInput(std::string("fdinfo: no \"") + (seen.position ? "flags" : "pos") + "\" line");
}

}  // namespace lockcr
