// /proc/PID/cgroup: which cgroup a process is in, one line per hierarchy
// (kernel/cgroup/cgroup.c proc_cgroup_show):
//
//   6:freezer:/machine/abc           cgroup v1: hierarchy id, its controllers, the path
//   9:name=systemd:/                 a named v1 hierarchy without controllers
//   0::/system.slice/abc.scope       the unified (v2) hierarchy: id 0, no controllers
//
// Paths are relative to the cgroup namespace root of the reading process.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lockcr {

struct CgroupMembership {
    int hierarchyId = 0;
    std::vector<std::string> controllers;  // "freezer", "cpu", "name=systemd"; empty for v2
    std::string path;                      // starts with '/'; may contain ':' and spaces
};

// The whole file: at least one line, every line "ID:CONTROLLERS:/PATH" ending in a newline,
// hierarchy ids unique, id 0 without controllers and every other id with some. Throws
// Error(badInput) naming the line.
std::vector<CgroupMembership> parseProcCgroup(std::string_view text);

// The path in the v1 hierarchy that has the freezer controller, if there is one.
std::optional<std::string> freezerPathV1(const std::vector<CgroupMembership>& memberships);
// The path in the unified (v2) hierarchy: the "0::" line, present on v2 and hybrid hosts.
std::optional<std::string> unifiedPath(const std::vector<CgroupMembership>& memberships);

}  // namespace lockcr
