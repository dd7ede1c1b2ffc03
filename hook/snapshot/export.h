// Copies of the volumes' recorded files that travel with the checkpoint (snapshot-export: volumes).
// The snapshot's data stays in the store of the host that took it, and podman's --export carries
// the root's upper layer (rootfs-diff.tar) but nothing of a bind-mounted volume: with this export, a
// rollback on another host, where the store is absent, puts the volume files back from the
// checkpoint's own image directory.
#pragma once

#include <string>

#include "snapshot/record.h"
#include "snapshot/snapshot.h"

namespace lockcr {

// Beside lockcr-snapshot.json in the image directory: part-N/K, one file per exported file.
constexpr const char* kSnapshotExportDirectoryName = "lockcr-snapshot-files";

// Copies into RECORD_DIRECTORY/lockcr-snapshot-files/part-N/K (directories 0700, files 0600) the
// bytes of every recorded file of each volume (every part not mounted at "/"), from the snapshot's
// copy of it, or, where the snapshot kept none, from the file itself through CONTAINER_ROOT (the
// container is still frozen); each exported copy must match its recorded digest. Files recorded
// without their bytes (kNoDigest) are not exported. Records where each went (part.exported,
// file.exported) in RECORD and RECORD_DIRECTORY/lockcr-snapshot.json. Idempotent: a record whose
// export is in place is left as it is (CRIU 4.1 runs each action twice). The export is built in a
// temporary directory and renamed into place only once complete and synced: a failure midway
// leaves nothing of it.
void exportVolumeFiles(SnapshotRecord& record, const std::string& recordDirectory, const std::string& containerRoot);

// takeSnapshot, then, with EXPORT_VOLUMES, exportVolumeFiles. A failed export removes the snapshot
// and its record as well: the checkpoint fails whole, and says so.
SnapshotRecord takeSnapshotWithExport(const SnapshotTarget& target, const SnapshotOptions& options,
                                      const std::string& recordDirectory, bool exportVolumes);

// RECORD (read from RECORD_DIRECTORY) with each part whose snapshot data is not on this host but
// whose files were exported pointed at the exported copies: part.data becomes the export
// directory and each file's copy its exported copy (empty: none). A part whose data is here is left
// as it is: the store's copy is the first choice on the host that took it.
SnapshotRecord withExportedCopies(SnapshotRecord record, const std::string& recordDirectory);

}  // namespace lockcr
