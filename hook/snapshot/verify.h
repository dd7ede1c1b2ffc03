// The snapshot stage at restore: once the container's mounts exist and before any fd or lock is
// restored (CRIU's setup-namespaces action), compare every recorded file with what is there now,
// and per policy refuse (strict), put the snapshot's bytes back (rollback) or skip (off).
// Every path is resolved inside the container's root with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS): a symlink planted in the container never leads to a host file, and a
// rollback writes only through the container's mounted root, never into an overlay upper layer.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "snapshot/record.h"

namespace lockcr {

enum class VerifyPolicy { strict, rollback, off };

// "strict" | "rollback" | "off"; Error(badInput) otherwise.
VerifyPolicy parseVerifyPolicy(const std::string& text);

// "/proc/PID/root": the container's root with its volumes mounted, as the host reaches it.
std::string containerRootOfPid(pid_t pid);

// One line per recorded file that differs under CONTAINER_ROOT, naming its path inside the
// container and every change: "/data/a: bytes changed (same size)", "size 4096 -> 0", "mode 0644 ->
// 0600", "owner 0:0 -> 1000:1000", "missing", "replaced by a symlink", "replaced by another inode
// (12 -> 40)" (inodes are compared only on the device they were recorded on). Empty: all match.
// Needs only the record, not the snapshot's data. SHOWN_PREFIX goes before every path in lines and
// errors: the part's mount point when the record was moved to its host source (checkSnapshotAtSources),
// so that they name the path inside the container.
std::vector<std::string> findSnapshotChanges(const SnapshotRecord& record, const std::string& containerRoot,
                                             const std::string& shownPrefix = "");

// Puts the recorded bytes, size, owner, mode and mtime back on every changed file, through
// CONTAINER_ROOT, and returns one line per file restored. Before writing anything it refuses
// (Error) when the data a changed file needs is not on this host, or a copy does not match its
// recorded digest. A file replaced by a symlink or another non-directory is replaced by the
// restored file (the symlink itself is removed, its target never touched). Checks again afterwards.
std::vector<std::string> rollBackSnapshot(const SnapshotRecord& record, const std::string& containerRoot,
                                          const std::string& shownPrefix = "");

struct SnapshotCheck {
    std::vector<std::string> changes;   // strict: what differs (the caller fails when not empty)
    std::vector<std::string> restored;  // rollback: what was put back
};

// The policy in one call: strict finds changes, rollback restores them, off does nothing.
SnapshotCheck checkSnapshot(const SnapshotRecord& record, const std::string& containerRoot, VerifyPolicy policy,
                            const std::string& shownPrefix = "");

// Before CRIU opens any file (its pre-restore action) the container's root and volumes are not
// mounted yet: CRIU mounts them later, and /proc/PID/root is still the host's root at
// setup-namespaces (seen with runc 1.1 and CRIU 4.1). Each part whose host source is here -- a
// bind-mounted volume, a plain or btrfs root directory -- is checked through that source instead, so
// that a rollback lands before CRIU's own size check would refuse a changed file. Parts that can't
// be reached that way (an overlay root: its upper directory is not the merged view; a source not on
// this host) are left in `remaining`, for checkSnapshot through /proc/PID/root once CRIU restored
// the mounts (post-restore, before anything runs).
struct SourceCheck {
    SnapshotCheck check;
    SnapshotRecord remaining;
};
SourceCheck checkSnapshotAtSources(const SnapshotRecord& record, VerifyPolicy policy);

}  // namespace lockcr
