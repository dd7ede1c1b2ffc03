// CRIU's own record of a checkpoint's file locks: filelocks.img in the image directory, written by
// CRIU's dump_file_locks (criu/file-lock.c) when it dumps with --file-locks. Read so that `lockcr
// show` can put what CRIU would restore beside what lockcr recorded.
//
// The file is CRIU's image format (criu/image.c, criu/protobuf.c): a 32-bit head magic
// (IMG_COMMON_MAGIC; images older than CRIU 1.4 have none), the file's own magic (FILE_LOCKS_MAGIC),
// then entries, each a 32-bit size in the host's byte order followed by that many bytes of one
// FileLockEntry protobuf message, decoded by protoc-c code generated from images/file-lock.proto.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/model.h"

namespace lockcr {

// criu/include/magic.h
constexpr uint32_t kCriuImageCommonMagic = 0x54564319;  // IMG_COMMON_MAGIC "Sarov"
constexpr uint32_t kCriuFileLocksMagic = 0x54323616;    // FILE_LOCKS_MAGIC "Kaluga"
// criu/include/file-lock.h
constexpr uint32_t kCriuLockPosix = 1, kCriuLockFlock = 2, kCriuLockOfd = 4, kCriuLockLease = 8;
constexpr uint32_t kCriuLeaseBreaking = 4;

// One FileLockEntry, as CRIU wrote it.
struct CriuFileLock {
    uint32_t flag = 0;
    uint32_t type = 0;
    pid_t pid = 0;  // in the container's pid namespace
    int fd = -1;
    int64_t start = 0;
    int64_t length = 0;  // 0: to EOF

    // lockcr's names for CRIU's numbers; nullopt for a flag or type lockcr does not know.
    std::optional<LockKind> kind() const;
    std::optional<LockType> lockType() const;
    bool breaking() const { return flag == kCriuLockLease && (type & kCriuLeaseBreaking) != 0; }
    // The range as the lock image keeps it (both ends inclusive, no end = EOF).
    LockRange range() const;
};

// Pure: the bytes of a filelocks.img to its entries. Refuses (Error badInput naming `source` and
// the byte offset) a wrong magic, a size running past the end, an entry over 4 KiB (a FileLockEntry
// is under 60 bytes), a message protobuf-c cannot unpack, and a negative fd or range.
std::vector<CriuFileLock> criuFileLocksFromBytes(std::string_view bytes, const std::string& source);

// "POSIX", "FLOCK", "OFDLCK", "LEASE", else "flag N": CRIU's kind as a table shows it.
std::string criuKindName(const CriuFileLock& lock);
// "READ", "WRITE", "UNLCK", else "type N" (a LOCK_MAND flock); leases add "(breaking)".
std::string criuTypeName(const CriuFileLock& lock);

}  // namespace lockcr
