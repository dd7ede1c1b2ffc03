#include "replay/inject_image.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/syscall.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <span>

#include "replay/inject_arch.h"
#include "util/sys.h"

namespace lockcr {

namespace {

uint64_t roundUp(uint64_t value, uint64_t unit) { return (value + unit - 1) / unit * unit; }

// The syscall and arguments of one call. A POSIX call's third argument is the address its
// struct flock will have in the target.
inject_arch::LockEntry entryFor(const LockCall& call, uint64_t entryAddress) {
    inject_arch::LockEntry entry{};
    uint64_t fd = static_cast<uint64_t>(call.fd);
    switch (call.kind) {
        case LockKind::flock: {
            int operation = call.type == F_WRLCK ? LOCK_EX : call.type == F_RDLCK ? LOCK_SH : LOCK_UN;
            entry.number = SYS_flock;
            entry.arguments[0] = fd;
            entry.arguments[1] = static_cast<uint64_t>(operation | LOCK_NB);
            break;
        }
        case LockKind::lease:
            entry.number = SYS_fcntl;
            entry.arguments[0] = fd;
            entry.arguments[1] = F_SETLEASE;
            entry.arguments[2] = static_cast<uint64_t>(call.type);
            break;
        case LockKind::posix:
        case LockKind::ofd:
            entry.number = SYS_fcntl;
            entry.arguments[0] = fd;
            entry.arguments[1] = call.kind == LockKind::ofd ? F_OFD_SETLK : F_SETLK;
            entry.arguments[2] = entryAddress + offsetof(inject_arch::LockEntry, lock);
            entry.lock.l_type = call.type;
            entry.lock.l_whence = SEEK_SET;
            // Values beyond INT64_MAX become negative: the kernel answers EINVAL for that request.
            entry.lock.l_start = static_cast<off_t>(call.start);
            entry.lock.l_len = static_cast<off_t>(call.length);
            break;
    }
    return entry;
}

uint64_t imageSize(size_t calls) { return roundUp(entriesOffset() + calls * sizeof(inject_arch::LockEntry), 8); }

}  // namespace

std::vector<Mapping> readMappings(pid_t pid, pid_t tid) {
    std::vector<Mapping> mappings;
    std::string text = sys::readFile(sys::threadDirectory(pid, tid) + "/maps");
    size_t begin = 0;
    while (begin < text.size()) {
        size_t end = text.find('\n', begin);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(begin, end - begin);
        begin = end + 1;
        unsigned long long start = 0, stop = 0;
        char permissions[8] = {};
        int nameAt = 0;
        if (std::sscanf(line.c_str(), "%llx-%llx %7s %*s %*s %*s %n", &start, &stop, permissions, &nameAt) < 3)
            continue;
        Mapping mapping{start, stop, permissions, nameAt > 0 ? line.substr(static_cast<size_t>(nameAt)) : ""};
        mappings.push_back(std::move(mapping));
    }
    return mappings;
}

uint64_t entriesOffset() { return roundUp(inject_arch::lockLoopCode().bytes.size(), 64); }

uint64_t injectionImageSize(size_t calls, uint64_t pageSize) { return roundUp(imageSize(calls), pageSize); }

std::vector<unsigned char> buildImage(const std::vector<LockCall>& calls, uint64_t address) {
    std::span<const unsigned char> code = inject_arch::lockLoopCode().bytes;
    std::vector<unsigned char> image(imageSize(calls.size()));
    std::memcpy(image.data(), code.data(), code.size());
    uint64_t offset = entriesOffset();
    for (const LockCall& call : calls) {
        inject_arch::LockEntry entry = entryFor(call, address + offset);
        std::memcpy(image.data() + offset, &entry, sizeof entry);
        offset += sizeof entry;
    }
    return image;
}

}  // namespace lockcr
