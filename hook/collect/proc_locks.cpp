#include "collect/proc_locks.h"

#include <algorithm>
#include <charconv>
#include <climits>

#include "util/error.h"
#include "util/lines.h"
#include "util/text.h"

namespace lockcr {

namespace {

// Room for ~130,000 nested waiters: every level of nesting indents the line by one space.
constexpr size_t kMaxLockLineLength = 1 << 17;
constexpr uint64_t kPidLimit = 4194304;       // PID_MAX_LIMIT on 64-bit kernels
constexpr uint64_t kOffsetLimit = INT64_MAX;  // loff_t; the kernel prints OFFSET_MAX as EOF

[[noreturn]] void rejectLine(std::string_view line, const std::string& why) {
    throwBadInput("lock line " + quotedForMessage(line) + ": " + why);
}

// The space-separated fields of a line. lock_get_status() pads with runs of spaces (and older
// kernels print "READ " with a trailing space), so any run of spaces separates two fields.
class Fields {
public:
    explicit Fields(std::string_view text) : cursor_(text.data()), end_(text.data() + text.size()) {}

    // Plain loops rather than find(): fields are a few bytes long and this runs 20,000 times a
    // /proc/locks on busy hosts.
    std::string_view next() {
        skipSpaces();
        const char* start = cursor_;
        while (cursor_ != end_ && *cursor_ != ' ') ++cursor_;
        return {start, static_cast<size_t>(cursor_ - start)};
    }
    bool atEnd() {
        skipSpaces();
        return cursor_ == end_;
    }

private:
    void skipSpaces() {
        while (cursor_ != end_ && *cursor_ == ' ') ++cursor_;
    }
    const char* cursor_;
    const char* end_;
};

void parseKind(std::string_view kind, std::string_view qualifier, LockLine& out, std::string_view line) {
    if (kind == "POSIX" || kind == "OFDLCK" || kind == "ACCESS") {
        out.lock.kind = kind == "OFDLCK" ? LockKind::ofd : LockKind::posix;
        out.accessCheck = kind == "ACCESS";
        if (qualifier == "MANDATORY") out.mandatory = true;
        else if (qualifier == "*NOINODE*") out.hasInode = false;
        else if (qualifier != "ADVISORY")
            rejectLine(line,
                       "bad qualifier " + quotedForMessage(qualifier) + " (expected ADVISORY, MANDATORY or *NOINODE*)");
    } else if (kind == "FLOCK") {
        out.lock.kind = LockKind::flock;
        if (qualifier == "MSNFS") rejectLine(line, "LOCK_MAND flocks (Samba, kernels before 5.15) are not supported");
        if (qualifier != "ADVISORY") rejectLine(line, "bad flock qualifier " + quotedForMessage(qualifier));
    } else if (kind == "LEASE" || kind == "DELEG") {
        out.lock.kind = LockKind::lease;
        out.delegation = kind == "DELEG";
        if (qualifier == "ACTIVE") out.lock.leaseState = LeaseState::active;
        else if (qualifier == "BREAKING") out.lock.leaseState = LeaseState::breaking;
        else if (qualifier == "BREAKER") out.lock.leaseState = LeaseState::breaker;
        else
            rejectLine(line,
                       "bad lease state " + quotedForMessage(qualifier) + " (expected ACTIVE, BREAKING or BREAKER)");
    } else {
        rejectLine(line, "unknown lock kind " + quotedForMessage(kind) +
                             " (expected POSIX, OFDLCK, ACCESS, FLOCK, LEASE or DELEG)");
    }
}

void parseType(std::string_view type, LockLine& out, std::string_view line) {
    if (type == "READ") out.lock.type = LockType::read;
    else if (type == "WRITE") out.lock.type = LockType::write;
    else if (type == "UNLCK") out.lock.type = LockType::unlock;
    else rejectLine(line, "bad lock type " + quotedForMessage(type) + " (expected READ, WRITE or UNLCK)");
    // A lease being broken prints the type it is breaking to (target_leasetype()); nothing else
    // on a lock list can be F_UNLCK.
    if (out.lock.type == LockType::unlock && out.lock.leaseState != LeaseState::breaking)
        rejectLine(line, "UNLCK on a lock that is not a breaking lease");
}

pid_t parsePid(std::string_view text, std::string_view line) {
    bool negative = !text.empty() && text[0] == '-';
    std::optional<uint64_t> value = parseUnsignedNumber(negative ? text.substr(1) : text);
    if (!value || *value > kPidLimit)
        rejectLine(line, "bad pid " + quotedForMessage(text) + " (expected -4194304..4194304)");
    return negative ? -static_cast<pid_t>(*value) : static_cast<pid_t>(*value);
}

void parseFile(std::string_view text, LockLine& out, std::string_view line) {
    // hasInode is already false after "*NOINODE*": then, and for a lease breaker, the kernel
    // prints "<none>:0"; everything else has a file.
    bool noFile = !out.hasInode || out.lock.leaseState == LeaseState::breaker;
    if (text == "<none>:0") {
        if (!noFile) rejectLine(line, "\"<none>:0\" on a lock that is not a lease breaker");
        out.hasInode = false;
        return;
    }
    if (!out.hasInode) rejectLine(line, "*NOINODE* with a device and inode");
    size_t colon = text.rfind(':');
    std::optional<uint64_t> inode = colon == std::string_view::npos ? std::nullopt
                                                                    : parseUnsignedNumber(text.substr(colon + 1));
    if (!inode) rejectLine(line, "bad file " + quotedForMessage(text) + " (expected MAJOR:MINOR:INODE)");
    try {
        out.device = deviceNumberFromString(text.substr(0, colon));
    } catch (const Error& error) {
        rejectLine(line, error.what());
    }
    out.inode = *inode;
}

void parseRange(std::string_view start, std::string_view end, LockLine& out, std::string_view line) {
    std::optional<uint64_t> first = parseUnsignedNumber(start);
    if (!first || *first > kOffsetLimit) rejectLine(line, "bad start offset " + quotedForMessage(start));
    out.lock.range.start = *first;
    if (end != "EOF") {
        std::optional<uint64_t> last = parseUnsignedNumber(end);
        if (!last || *last > kOffsetLimit || *last < *first)
            rejectLine(line,
                       "bad end offset " + quotedForMessage(end) + " (expected \"EOF\" or a number >= the start)");
        out.lock.range.end = *last;
    }
    // Only POSIX and OFD locks have ranges: the kernel prints "0 EOF" for the others.
    bool byteRange = out.lock.kind == LockKind::posix || out.lock.kind == LockKind::ofd;
    if (!byteRange && (out.lock.range.start != 0 || out.lock.range.end))
        rejectLine(line, "a flock or lease with a range other than \"0 EOF\"");
}

}  // namespace

LockLine parseLockLine(std::string_view line) {
    if (line.size() > kMaxLockLineLength)
        rejectLine(line, "longer than " + std::to_string(kMaxLockLineLength) + " bytes");
    LockLine out;
    size_t colon = line.find(':');
    std::optional<uint64_t> id = colon == std::string_view::npos ? std::nullopt
                                                                 : parseUnsignedNumber(line.substr(0, colon));
    if (!id || *id < 1 || *id > INT_MAX) rejectLine(line, "bad id (expected \"N: \", N >= 1)");
    out.id = static_cast<int>(*id);

    // A waiter is printed as "ID: " then "-> " right-aligned in level - 1 + 3 columns.
    std::string_view rest = line.substr(colon + 1);
    size_t spaces = std::min(rest.find_first_not_of(' '), rest.size());
    if (spaces == 0) rejectLine(line, "no space after the id");
    rest.remove_prefix(spaces);
    if (rest.substr(0, 3) == "-> ") {
        out.blockedLevel = static_cast<int>(spaces);
        rest.remove_prefix(3);
    }

    Fields fields(rest);
    std::string_view kind = fields.next(), qualifier = fields.next(), type = fields.next(), pid = fields.next(),
                     file = fields.next(), start = fields.next(), end = fields.next();
    if (end.empty()) rejectLine(line, "missing fields (expected 8 after the id)");
    if (!fields.atEnd()) rejectLine(line, "junk after the end offset");
    parseKind(kind, qualifier, out, line);
    parseType(type, out, line);
    out.pid = parsePid(pid, line);
    parseFile(file, out, line);
    parseRange(start, end, out, line);
    return out;
}

ProcLocksTable parseProcLocks(std::string_view text) {
    // Reserving for every line in both vectors costs only address space: pages that are never
    // written are never faulted in, and growing by doubling would copy and fault them all.
    size_t lines = 0;
    for (size_t at = text.find('\n'); at != std::string_view::npos; at = text.find('\n', at + 1)) ++lines;
    ProcLocksTable table;
    table.held.reserve(lines);
    table.waits.reserve(lines);
    // The chain from the held lock down to the last line read: chain[n] is at depth n, so a
    // waiter at depth n is blocked on chain[n - 1] (locks_show() walks each tree depth first).
    std::vector<LockLine> chain;
    forEachLine(text, "/proc/locks", [&](std::string_view line) {
        LockLine parsed = parseLockLine(line);
        auto level = static_cast<size_t>(parsed.blockedLevel);
        if (level == 0) {
            chain.clear();
            chain.push_back(parsed);
            table.held.push_back(parsed);
            return;
        }
        if (level > chain.size())
            throwBadInput("a waiter at depth " + std::to_string(level) + " with no line at depth " +
                          std::to_string(level - 1) + " above it");
        chain.erase(chain.begin() + static_cast<std::ptrdiff_t>(level), chain.end());
        if (chain.back().id != parsed.id)
            throwBadInput("a waiter with id " + std::to_string(parsed.id) + " under a lock with id " +
                          std::to_string(chain.back().id));
        table.waits.push_back({parsed, chain.back()});
        chain.push_back(parsed);
    });
    return table;
}

}  // namespace lockcr
