// The files of a checkpoint that `lockcr show` reads, wherever the checkpoint is:
//   - a CRIU image directory (runc checkpoint --image-path, or CRTOOLS_IMAGE_DIR);
//   - a directory holding checkpoint/ (an unpacked podman or CRI-O archive);
//   - a podman `container checkpoint --export` archive or a CRI-O/kubelet checkpoint archive: a tar,
//     plain, gzip or zstd (podman's default), whose checkpoint/ holds the CRIU images, beside
//     config.dump, spec.dump and rootfs-diff.tar.
// Archives are read with libarchive (format and compression detected from the bytes, not the name),
// one pass, keeping only the wanted files; nothing is written to disk.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace lockcr {

struct CheckpointFiles {
    std::string source;  // the path given
    std::string format;  // "directory", or libarchive's names: "tar", "tar+zstd", "tar+gzip"...
    // Wanted files found: name in the image directory -> bytes. Files of the engine beside the
    // image directory (config.dump) are keyed "../config.dump".
    std::map<std::string, std::string> files;
    bool hasCriuImages = false;  // inventory.img seen: this is a CRIU checkpoint
};

// Files over 256 MiB, entries that are not regular files under a wanted name, and paths that are
// neither a directory nor an archive libarchive reads are refused (Error badInput naming them).
// A source holding neither inventory.img nor any wanted file is refused as "not a checkpoint".
CheckpointFiles readCheckpointFiles(const std::string& path, const std::vector<std::string>& wanted);

}  // namespace lockcr
