#include "discover/proc_status.h"

#include <algorithm>

#include "util/error.h"
#include "util/sys.h"
#include "util/lines.h"
#include "util/text.h"

namespace lockcr {

namespace {

constexpr uint64_t kPidLimit = 4194304;       // PID_MAX_LIMIT on 64-bit kernels
constexpr size_t kMaxKnownLineLength = 4096;  // names are 64 bytes at most, escaped 128
constexpr size_t kMaxNamespaceDepth = 33;     // MAX_PID_NS_LEVEL nested namespaces + the first

struct SeenKeys {
    bool name = false, state = false, tgid = false, tracerPid = false, threads = false, namespacePids = false,
         namespaceProcessGroups = false;
};

void markSeen(bool& seen, std::string_view key) {
    if (seen) throwBadInput(std::string(key) + " appears twice");
    seen = true;
}

int parseCount(std::string_view key, std::string_view value, uint64_t minimum) {
    std::optional<uint64_t> number = parseUnsignedNumber(value);
    if (!number || *number < minimum || *number > kPidLimit)
        throwBadInput("bad " + std::string(key) + " " + quotedForMessage(value) + " (expected " +
                      std::to_string(minimum) + ".." + std::to_string(kPidLimit) + ")");
    return static_cast<int>(*number);
}

// proc_task_name() escapes '\n' and '\\' (seq_escape_str(..., ESCAPE_SPACE | ESCAPE_SPECIAL,
// "\n\\")); the other escapes of those classes are undone too in case a kernel widens the set.
// A backslash before anything else is kept as it is.
std::string unescapeName(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\' || i + 1 == text.size()) {
            out += text[i];
            continue;
        }
        static const std::string_view escaped = "n\\tvfrae\"", meant = "\n\\\t\v\f\r\a\x1b\"";
        size_t which = escaped.find(text[i + 1]);
        if (which == std::string_view::npos) {
            out += text[i];
            continue;
        }
        out += meant[which];
        ++i;
    }
    return out;
}

char parseState(std::string_view value) {
    // "S (sleeping)": one letter, then its name in parentheses.
    bool letter = !value.empty() && ((value[0] >= 'A' && value[0] <= 'Z') || (value[0] >= 'a' && value[0] <= 'z'));
    if (!letter || (value.size() > 1 && value[1] != ' ')) throwBadInput("bad State " + quotedForMessage(value));
    return value[0];
}

// NSpid, NSpgid: one id per namespace level. A process group is 0 at the levels where its
// leader's pid is not visible (a group started outside the namespace).
std::vector<pid_t> parseNamespaceIds(std::string_view key, std::string_view value, uint64_t minimum) {
    std::vector<pid_t> pids;
    while (!value.empty()) {
        size_t end = std::min(value.find_first_of(" \t"), value.size());
        if (pids.size() == kMaxNamespaceDepth)
            throwBadInput(std::string(key) + " has more than " + std::to_string(kMaxNamespaceDepth) + " ids");
        pids.push_back(parseCount(key, value.substr(0, end), minimum));
        value.remove_prefix(end);
        value.remove_prefix(std::min(value.find_first_not_of(" \t"), value.size()));
    }
    if (pids.empty()) throwBadInput(std::string(key) + " with no id");
    return pids;
}

void parseLine(std::string_view line, ProcessStatus& out, SeenKeys& seen) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view key = line.substr(0, colon);
    bool* seenKey = key == "Name"        ? &seen.name
                    : key == "State"     ? &seen.state
                    : key == "Tgid"      ? &seen.tgid
                    : key == "TracerPid" ? &seen.tracerPid
                    : key == "Threads"   ? &seen.threads
                    : key == "NSpid"     ? &seen.namespacePids
                    : key == "NSpgid"    ? &seen.namespaceProcessGroups
                                         : nullptr;
    if (seenKey == nullptr) return;
    markSeen(*seenKey, key);
    if (line.size() > kMaxKnownLineLength)
        throwBadInput(std::string(key) + " line longer than " + std::to_string(kMaxKnownLineLength) + " bytes");
    std::string_view value = line.substr(colon + 1);
    if (key == "Name") {
        // Exactly one tab: a name may itself start with spaces or tabs.
        if (value.empty() || value[0] != '\t') throwBadInput("Name without a tab after ':'");
        out.name = unescapeName(value.substr(1));
        return;
    }
    value.remove_prefix(std::min(value.find_first_not_of(" \t"), value.size()));
    if (key == "State") out.state = parseState(value);
    else if (key == "Tgid") out.tgid = parseCount(key, value, 1);
    else if (key == "TracerPid") out.tracerPid = parseCount(key, value, 0);
    else if (key == "Threads") out.threads = parseCount(key, value, 0);
    else if (key == "NSpid") out.namespacePids = parseNamespaceIds(key, value, 1);
    else out.namespaceProcessGroups = parseNamespaceIds(key, value, 0);
}

}  // namespace

ProcessStatus parseProcStatus(std::string_view text) {
    ProcessStatus out;
    SeenKeys seen;
    forEachLine(text, "/proc/PID/status", [&](std::string_view line) { parseLine(line, out, seen); });
    const char* missing = !seen.name        ? "Name"
                          : !seen.state     ? "State"
                          : !seen.tgid      ? "Tgid"
                          : !seen.tracerPid ? "TracerPid"
                          : !seen.threads   ? "Threads"
                                            : nullptr;
    if (missing != nullptr) throwBadInput(std::string("/proc/PID/status: no \"") + missing + "\" line");
    return out;
}

ProcessStatus readProcessStatus(pid_t pid) {
    std::string text;
    int err = 0;
    if (!sys::tryReadSmallProcFileAt(AT_FDCWD, "/proc/" + std::to_string(pid) + "/status", text, err)) {
        if (sys::isGone(err))
            throw Error("pid " + std::to_string(pid) + ": no such process", err, ExitStatus::badInput);
        throwErrno("pid " + std::to_string(pid) + ": read status", err);
    }
    return parseProcStatus(text);
}

}  // namespace lockcr
