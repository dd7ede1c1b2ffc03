#include "snapshot/mountinfo.h"

#include <algorithm>
#include <array>

#include "util/error.h"
#include "util/lines.h"
#include "util/text.h"

namespace lockcr {

namespace {

// "\040" -> " ". The kernel escapes only with three octal digits; anything else is refused.
std::string unescapePath(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\') {
            out += text[i];
            continue;
        }
        std::optional<uint64_t> code = i + 3 < text.size() ? parseUnsignedNumber(text.substr(i + 1, 3), 8)
                                                           : std::nullopt;
        if (!code || *code > 0377) throwBadInput("bad escape in " + quotedForMessage(text));
        out += static_cast<char>(*code);
        i += 3;
    }
    if (out.empty() || out.find('\0') != std::string::npos) throwBadInput("bad path " + quotedForMessage(text));
    return out;
}

std::vector<std::string_view> splitFields(std::string_view line) {
    std::vector<std::string_view> fields;
    size_t position = 0;
    while (position <= line.size()) {
        size_t space = line.find(' ', position);
        if (space == std::string_view::npos) space = line.size();
        fields.push_back(line.substr(position, space - position));
        position = space + 1;
    }
    return fields;
}

unsigned number(std::string_view text, const char* field) {
    std::optional<uint64_t> value = parseUnsignedNumber(text);
    if (!value || *value > INT32_MAX) throwBadInput(std::string(field) + ": not a number: " + quotedForMessage(text));
    return static_cast<unsigned>(*value);
}

MountInfoEntry parseLine(std::string_view line) {
    std::vector<std::string_view> fields = splitFields(line);
    auto separator = std::find(fields.begin() + std::min<size_t>(fields.size(), 6), fields.end(), "-");
    if (fields.size() < 10 || separator == fields.end() || fields.end() - separator != 4)
        throwBadInput("expected 6 fields, optional fields, \"-\" and 3 fields: " + quotedForMessage(line));
    MountInfoEntry entry;
    entry.mountId = static_cast<int>(number(fields[0], "mount id"));
    entry.parentId = static_cast<int>(number(fields[1], "parent id"));
    size_t colon = fields[2].find(':');
    if (colon == std::string_view::npos) throwBadInput("device is not MAJOR:MINOR: " + quotedForMessage(fields[2]));
    entry.major = number(fields[2].substr(0, colon), "major");
    entry.minor = number(fields[2].substr(colon + 1), "minor");
    entry.root = unescapePath(fields[3]);
    entry.mountPoint = unescapePath(fields[4]);
    entry.options = std::string(fields[5]);
    entry.fsType = std::string(separator[1]);
    entry.source = std::string(separator[2]);
    entry.superOptions = std::string(separator[3]);
    if (entry.fsType.empty()) throwBadInput("empty filesystem type");
    // The kernel prints absolute paths; anything else would make every path below it meaningless.
    if (!entry.mountPoint.starts_with('/') || !entry.root.starts_with('/'))
        throwBadInput("mount point or root is not an absolute path: " + quotedForMessage(fields[4]));
    return entry;
}

// Filesystems whose contents are not the container's data: the kernel's views, memory (CRIU
// dumps tmpfs contents itself) and devices.
bool isPseudoFilesystem(const std::string& type) {
    static const std::array<const char*, 16> kPseudo = {
        "proc",       "sysfs",   "cgroup",  "cgroup2", "devpts", "mqueue",    "tmpfs",       "devtmpfs",
        "securityfs", "debugfs", "tracefs", "pstore",  "bpf",    "hugetlbfs", "binfmt_misc", "ramfs"};
    return std::find_if(kPseudo.begin(), kPseudo.end(), [&](const char* name) { return type == name; }) !=
           kPseudo.end();
}

bool isBelow(const std::string& path, const std::string& directory) {
    if (directory == "/") return path.starts_with('/');
    return path == directory || (path.starts_with(directory) && path[directory.size()] == '/');
}

}  // namespace

bool MountInfoEntry::readOnly() const { return options == "ro" || options.starts_with("ro,"); }

std::vector<MountInfoEntry> parseMountInfo(std::string_view text) {
    std::vector<MountInfoEntry> mounts;
    forEachLine(text, "mountinfo", [&](std::string_view line) { mounts.push_back(parseLine(line)); });
    return mounts;
}

std::string mountOption(std::string_view options, std::string_view key) {
    size_t position = 0;
    while (position < options.size()) {
        size_t end = position;
        std::string value;
        while (end < options.size() && options[end] != ',') {
            if (options[end] == '\\' && end + 1 < options.size()) ++end;  // "\," is part of the value
            value += options[end];
            ++end;
        }
        if (value.size() > key.size() && value.starts_with(key) && value[key.size()] == '=')
            return value.substr(key.size() + 1);
        position = end + 1;
    }
    return {};
}

const char* backendName(SnapshotBackend backend) {
    switch (backend) {
        case SnapshotBackend::btrfs: return "btrfs";
        case SnapshotBackend::overlay: return "overlay";
        case SnapshotBackend::manifest: return "manifest";
    }
    return "?";
}

std::vector<ContainerMount> writableContainerMounts(const std::vector<MountInfoEntry>& mounts) {
    // Mounts stacked on one mount point hide the earlier ones: only the last one counts.
    std::vector<ContainerMount> result;
    for (const MountInfoEntry& mount : mounts) {
        std::erase_if(result, [&](const ContainerMount& seen) { return seen.mount.mountPoint == mount.mountPoint; });
        if (mount.mountPoint != "/" && (mount.readOnly() || isPseudoFilesystem(mount.fsType))) continue;
        ContainerMount entry{mount, SnapshotBackend::manifest, {}};
        if (mount.fsType == "btrfs") entry.backend = SnapshotBackend::btrfs;
        if (mount.fsType == "overlay") {
            entry.upperDirectory = mountOption(mount.superOptions, "upperdir");
            if (!entry.upperDirectory.empty()) entry.backend = SnapshotBackend::overlay;
        }
        result.push_back(std::move(entry));
    }
    auto root = std::find_if(result.begin(), result.end(),
                             [](const ContainerMount& m) { return m.mount.mountPoint == "/"; });
    if (root == result.end()) throwBadInput("mountinfo: no mount at \"/\"");
    if (root->mount.readOnly() || isPseudoFilesystem(root->mount.fsType)) result.erase(root);
    return result;
}

std::string pathInOtherTable(const MountInfoEntry& mount, const std::vector<MountInfoEntry>& table) {
    const MountInfoEntry* best = nullptr;
    for (const MountInfoEntry& candidate : table) {
        if (candidate.major != mount.major || candidate.minor != mount.minor) continue;
        if (!isBelow(mount.root, candidate.root)) continue;
        if (!best || candidate.root.size() < best->root.size()) best = &candidate;
    }
    if (!best) return {};
    std::string rest = best->root == "/" ? mount.root : mount.root.substr(best->root.size());
    if (best->mountPoint == "/") return rest.empty() ? "/" : rest;
    return best->mountPoint + (rest == "/" ? "" : rest);
}

}  // namespace lockcr
