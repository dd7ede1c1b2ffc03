// /proc/PID/mountinfo (fs/proc_namespace.c show_mountinfo), one mount a line:
//
//   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//   (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
//
// mount id, parent id, major:minor, root inside the filesystem, mount point, mount options, zero
// or more optional fields ended by "-", filesystem type, source, super options. Paths escape
// space, tab, newline and backslash as \ooo (seq_path_root with " \t\n\\").
// The snapshot stage reads it to find what a container writes to: its root and its volumes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lockcr {

struct MountInfoEntry {
    int mountId = 0;
    int parentId = 0;
    unsigned major = 0;
    unsigned minor = 0;
    std::string root;        // path of the mount's root inside its filesystem
    std::string mountPoint;  // relative to the reading process's root
    std::string options;     // per-mount options ("rw,nosuid,...")
    std::string fsType;      // "btrfs", "overlay", "ext4", "fuse.sshfs"...
    std::string source;
    std::string superOptions;

    bool readOnly() const;
};

// The whole file, in order. Every line must have its ten fields and end in a newline; numbers are
// strict; escapes must be \ooo. Throws Error(badInput) naming the line.
std::vector<MountInfoEntry> parseMountInfo(std::string_view text);

// The value of KEY in a comma-separated option list ("upperdir=/x" -> "/x"); empty if absent.
// Overlay escapes commas in its paths with a backslash (ovl_show_options): "\," is a comma.
std::string mountOption(std::string_view options, std::string_view key);

enum class SnapshotBackend { btrfs, overlay, manifest };
const char* backendName(SnapshotBackend backend);

// A filesystem the container writes to: its root (mount point "/") or a volume.
struct ContainerMount {
    MountInfoEntry mount;
    SnapshotBackend backend = SnapshotBackend::manifest;
    std::string upperDirectory;  // overlay: upperdir= from the super options (a host path)
};

// From a container's own mountinfo: the mount at "/" (the last one mounted there) and every
// mount below it that holds data the container can write: not read-only, not a pseudo or memory
// filesystem (proc, sysfs, cgroup, devpts, mqueue, tmpfs...). Throws if there is no "/".
std::vector<ContainerMount> writableContainerMounts(const std::vector<MountInfoEntry>& mounts);

// Where the same directory is reachable in another mount table (the host's): a mount of the same
// device whose root is a prefix of MOUNT's root, and MOUNT's root below it. Empty if none. Among
// several, the one with the shortest root: the filesystem's own mount rather than another bind
// mount of it (which may be the container's own volume, inside its root).
std::string pathInOtherTable(const MountInfoEntry& mount, const std::vector<MountInfoEntry>& table);

}  // namespace lockcr
