#include "criu/filelocks_image.h"

#include <cstring>
#include <memory>

#include "file-lock.pb-c.h"
#include "util/error.h"

namespace lockcr {

namespace {

constexpr uint32_t kMaxEntrySize = 4096;

uint32_t wordAt(std::string_view bytes, size_t offset) {
    uint32_t word = 0;
    std::memcpy(&word, bytes.data() + offset, sizeof word);  // CRIU writes host byte order
    return word;
}

struct EntryDeleter {
    void operator()(FileLockEntry* entry) const { file_lock_entry__free_unpacked(entry, nullptr); }
};

}  // namespace

std::optional<LockKind> CriuFileLock::kind() const {
    switch (flag) {
        case kCriuLockPosix: return LockKind::posix;
        case kCriuLockFlock: return LockKind::flock;
        case kCriuLockOfd: return LockKind::ofd;
        case kCriuLockLease: return LockKind::lease;
        default: return std::nullopt;
    }
}

std::optional<LockType> CriuFileLock::lockType() const {
    uint32_t plain = flag == kCriuLockLease ? type & ~kCriuLeaseBreaking : type;
    if (plain == 0) return LockType::read;
    if (plain == 1) return LockType::write;
    if (plain == 2) return LockType::unlock;
    return std::nullopt;
}

LockRange CriuFileLock::range() const {
    LockRange range;
    range.start = static_cast<uint64_t>(start);
    if (length > 0) range.end = static_cast<uint64_t>(start) + static_cast<uint64_t>(length) - 1;
    return range;
}

std::vector<CriuFileLock> criuFileLocksFromBytes(std::string_view bytes, const std::string& source) {
    auto refuse = [&](size_t offset, const std::string& why) {
        throwBadInput(source + ": byte " + std::to_string(offset) + ": " + why);
    };
    if (bytes.size() < 4) refuse(0, "too short for CRIU's image magic");
    size_t offset = 0;
    if (wordAt(bytes, 0) == kCriuImageCommonMagic) offset = 4;
    if (bytes.size() < offset + 4 || wordAt(bytes, offset) != kCriuFileLocksMagic)
        refuse(offset, "not a CRIU filelocks image (no FILE_LOCKS_MAGIC)");
    offset += 4;

    std::vector<CriuFileLock> locks;
    while (offset < bytes.size()) {
        if (bytes.size() - offset < 4) refuse(offset, "an entry size cut short");
        uint32_t size = wordAt(bytes, offset);
        offset += 4;
        if (size > kMaxEntrySize) refuse(offset - 4, "entry of " + std::to_string(size) + " bytes, more than 4096");
        if (size > bytes.size() - offset)
            refuse(offset - 4, "entry of " + std::to_string(size) + " bytes runs past the end");
        std::unique_ptr<FileLockEntry, EntryDeleter> entry(
            file_lock_entry__unpack(nullptr, size, reinterpret_cast<const uint8_t*>(bytes.data() + offset)));
        if (!entry) refuse(offset, "not a FileLockEntry message");
        if (entry->fd < 0 || entry->start < 0 || entry->len < 0 || entry->pid <= 0)
            refuse(offset, "negative pid, fd or range in a lock entry");
        locks.push_back({entry->flag, entry->type, entry->pid, entry->fd, entry->start, entry->len});
        offset += size;
    }
    return locks;
}

std::string criuKindName(const CriuFileLock& lock) {
    switch (lock.flag) {
        case kCriuLockPosix: return "POSIX";
        case kCriuLockFlock: return "FLOCK";
        case kCriuLockOfd: return "OFDLCK";
        case kCriuLockLease: return "LEASE";
        default: return "flag " + std::to_string(lock.flag);
    }
}

std::string criuTypeName(const CriuFileLock& lock) {
    std::optional<LockType> type = lock.lockType();
    std::string name = !type                      ? "type " + std::to_string(lock.type)
                       : *type == LockType::read  ? "READ"
                       : *type == LockType::write ? "WRITE"
                                                  : "UNLCK";
    return lock.breaking() ? name + " (breaking)" : name;
}

}  // namespace lockcr
