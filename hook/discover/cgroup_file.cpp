#include "discover/cgroup_file.h"

#include <algorithm>
#include <climits>
#include <set>

#include "util/error.h"
#include "util/lines.h"
#include "util/text.h"

namespace lockcr {

namespace {

constexpr size_t kMaxLineLength = 8192;  // PATH_MAX for the path, and the controller names

int parseHierarchyId(std::string_view text) {
    auto id = parseUnsignedNumber(text, 10, INT_MAX);
    if (!id) throwBadInput("bad hierarchy id (expected a number >= 0 before the first ':')");
    return static_cast<int>(*id);
}

std::vector<std::string> parseControllers(std::string_view text) {
    std::vector<std::string> controllers;
    if (text.empty()) return controllers;
    for (;;) {
        size_t comma = text.find(',');
        std::string_view name = text.substr(0, comma);
        if (name.empty()) throwBadInput("empty controller name");
        controllers.emplace_back(name);
        if (comma == std::string_view::npos) return controllers;
        text.remove_prefix(comma + 1);
    }
}

CgroupMembership parseLine(std::string_view line) {
    if (line.size() > kMaxLineLength) throwBadInput("longer than " + std::to_string(kMaxLineLength) + " bytes");
    size_t first = line.find(':');
    size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) throwBadInput("expected \"ID:CONTROLLERS:PATH\"");
    CgroupMembership membership;
    membership.hierarchyId = parseHierarchyId(line.substr(0, first));
    membership.controllers = parseControllers(line.substr(first + 1, second - first - 1));
    membership.path = line.substr(second + 1);
    if (membership.path.empty() || membership.path[0] != '/') throwBadInput("the path does not start with '/'");
    // A v1 hierarchy always has controllers or a "name=" (cgroup1 mounts require one).
    if (membership.hierarchyId == 0 && !membership.controllers.empty())
        throwBadInput("hierarchy 0 (cgroup v2) with controllers");
    if (membership.hierarchyId != 0 && membership.controllers.empty())
        throwBadInput("hierarchy " + std::to_string(membership.hierarchyId) + " (cgroup v1) without controllers");
    return membership;
}

}  // namespace

std::vector<CgroupMembership> parseProcCgroup(std::string_view text) {
    if (text.empty()) throwBadInput("/proc/PID/cgroup is empty");
    std::vector<CgroupMembership> memberships;
    std::set<int> hierarchies;
    forEachLine(text, "/proc/PID/cgroup", [&](std::string_view line) {
        CgroupMembership membership = parseLine(line);
        if (!hierarchies.insert(membership.hierarchyId).second)
            throwBadInput("hierarchy " + std::to_string(membership.hierarchyId) + " appears twice");
        memberships.push_back(std::move(membership));
    });
    return memberships;
}

std::optional<std::string> freezerPathV1(const std::vector<CgroupMembership>& memberships) {
    for (const CgroupMembership& membership : memberships) {
        const auto& names = membership.controllers;
        if (membership.hierarchyId != 0 && std::find(names.begin(), names.end(), "freezer") != names.end())
            return membership.path;
    }
    return std::nullopt;
}

std::optional<std::string> unifiedPath(const std::vector<CgroupMembership>& memberships) {
    for (const CgroupMembership& membership : memberships)
        if (membership.hierarchyId == 0 && membership.controllers.empty()) return membership.path;
    return std::nullopt;
}

}  // namespace lockcr
