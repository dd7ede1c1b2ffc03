#include "collect/waiters.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "collect/fdinfo.h"
#include "collect/owners.h"
#include "collect/proc_locks.h"
#include "discover/container.h"
#include "image/conflict_rules.h"
#include "util/error.h"
#include "util/ptrace.h"
#include "util/sys.h"
#include "util/text.h"

namespace lockcr {

namespace {

// From include/uapi/asm-generic/fcntl.h: the same numbers on every architecture.
constexpr unsigned long kSetLockWait = 7;      // F_SETLKW (== F_SETLKW64 on 64-bit)
constexpr unsigned long kOfdSetLockWait = 38;  // F_OFD_SETLKW

// The next space-separated word of TEXT, taken off it.
std::string_view nextWord(std::string_view& text) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    size_t end = std::min(text.find_first_of(" \n"), text.size());
    std::string_view word = text.substr(0, end);
    text.remove_prefix(end);
    return word;
}

// The next word as a number: hex with "0x", else decimal.
bool parseNumber(std::string_view& text, unsigned long& value) {
    std::string_view word = nextWord(text);
    int base = 10;
    if (word.size() > 2 && word[0] == '0' && word[1] == 'x') {
        word.remove_prefix(2);
        base = 16;
    }
    auto number = parseUnsignedNumber(word, base);
    if (!number) return false;
    value = *number;
    return true;
}

// The kernel's flock_to_posix_lock(): whence, start and a possibly negative length to a range.
std::optional<LockRange> rangeOfRequest(const struct flock& request, uint64_t base) {
    int64_t start = static_cast<int64_t>(base) + request.l_start;
    LockRange range;
    if (request.l_len > 0) {
        range.start = static_cast<uint64_t>(start);
        range.end = static_cast<uint64_t>(start + request.l_len - 1);
    } else if (request.l_len < 0) {
        if (start + request.l_len < 0) return std::nullopt;
        range.start = static_cast<uint64_t>(start + request.l_len);
        range.end = static_cast<uint64_t>(start - 1);
    } else {
        range.start = static_cast<uint64_t>(start);
    }
    if (start < 0) return std::nullopt;
    return range;
}

// Everything about a waiter is read through its own thread's /proc entries: they show the fds and
// memory even when the thread-group leader has exited.
std::optional<uint64_t> whenceBase(pid_t pid, pid_t threadId, int fd, short whence) {
    if (whence == SEEK_SET) return 0;
    std::string proc = sys::threadDirectory(pid, threadId);
    int err = 0;
    if (whence == SEEK_END) {
        struct stat info {};
        if (!sys::tryStatAt(AT_FDCWD, proc + "/fd/" + std::to_string(fd), info, err)) return std::nullopt;
        return static_cast<uint64_t>(info.st_size);
    }
    std::string text;
    if (!sys::tryReadFileAt(AT_FDCWD, proc + "/fdinfo/" + std::to_string(fd), text, err)) return std::nullopt;
    return parseFdInfo(text).position;
}

std::optional<BlockedCall> fcntlWaiter(pid_t pid, pid_t threadId, const SyscallLine& call) {
    unsigned long command = call.arguments[1];
    if (command != kSetLockWait && command != kOfdSetLockWait) return std::nullopt;
    BlockedCall blocked;
    blocked.threadId = threadId;
    blocked.fd = static_cast<int>(call.arguments[0]);
    blocked.requested.kind = command == kSetLockWait ? LockKind::posix : LockKind::ofd;

    struct flock request {};
    int err = 0;
    UniqueFd memory = sys::tryOpenAt(AT_FDCWD, sys::threadDirectory(pid, threadId) + "/mem", O_RDONLY, err);
    if (!memory) return std::nullopt;
    if (sys::tryReadMemory(memory.get(), call.arguments[2], &request, sizeof request) != 0) return std::nullopt;
    if (request.l_type == F_RDLCK) blocked.requested.type = LockType::read;
    else if (request.l_type == F_WRLCK) blocked.requested.type = LockType::write;
    else return std::nullopt;  // an F_UNLCK never blocks
    auto base = whenceBase(pid, threadId, blocked.fd, request.l_whence);
    if (!base) return std::nullopt;
    auto range = rangeOfRequest(request, *base);
    if (!range) return std::nullopt;
    blocked.requested.range = *range;
    return blocked;
}

}  // namespace

std::optional<SyscallLine> parseSyscallLine(std::string_view text) {
    SyscallLine line;
    if (text.starts_with("running")) return line;
    std::string_view word = nextWord(text);
    bool negative = word.starts_with('-');
    if (negative) word.remove_prefix(1);
    auto magnitude = parseUnsignedNumber(word, 10, LONG_MAX);
    if (!magnitude) return std::nullopt;
    long number = negative ? -static_cast<long>(*magnitude) : static_cast<long>(*magnitude);
    line.number = number;
    if (number < 0) {  // "-1 sp pc": stopped outside a syscall
        unsigned long stackPointer = 0;
        if (!parseNumber(text, stackPointer) || !parseNumber(text, line.instructionPointer)) return std::nullopt;
        return line;
    }
    for (unsigned long& argument : line.arguments)
        if (!parseNumber(text, argument)) return std::nullopt;
    return line;
}

std::optional<BlockedCall> findBlockedLockCall(pid_t pid, pid_t threadId, const PendingSyscalls& pending) {
    std::string text;
    int err = 0;
    std::string path = sys::threadDirectory(pid, threadId) + "/syscall";
    if (!sys::tryReadSmallProcFileAt(AT_FDCWD, path, text, err)) return std::nullopt;
    auto call = parseSyscallLine(text);
    if (call && call->number < 0 && call->instructionPointer && pending)
        call = pending(pid, threadId, call->instructionPointer);
    if (!call || call->number < 0) return std::nullopt;
    if (call->number == SYS_fcntl) return fcntlWaiter(pid, threadId, *call);
    if (call->number == SYS_flock) {
        unsigned long operation = call->arguments[1];
        if (operation & LOCK_NB) return std::nullopt;
        BlockedCall blocked;
        blocked.threadId = threadId;
        blocked.fd = static_cast<int>(call->arguments[0]);
        blocked.requested.kind = LockKind::flock;
        if ((operation & ~static_cast<unsigned long>(LOCK_NB)) == LOCK_SH) blocked.requested.type = LockType::read;
        else if ((operation & ~static_cast<unsigned long>(LOCK_NB)) == LOCK_EX)
            blocked.requested.type = LockType::write;
        else return std::nullopt;
        return blocked;
    }
    return std::nullopt;
}

namespace {

const ProcessFd* recordedFd(const LockImage& image, pid_t hostPid, int fd) {
    for (const Process& process : image.processes) {
        if (process.hostPid != hostPid) continue;
        for (const ProcessFd& entry : process.fds)
            if (entry.fd == fd) return &entry;
    }
    return nullptr;
}

// Holders of a byte-range lock are told apart by pid for POSIX (the tgid that set it) and not at
// all for OFD (-1): a waiter's own POSIX locks never block it.
bool sameOwner(const LockLine& held, const Lock& request, pid_t waiterPid) {
    return held.lock.kind == LockKind::posix && request.kind == LockKind::posix && held.pid == waiterPid;
}

std::optional<LockLine> findBlocker(const std::vector<LockLine>& heldLocks, uint64_t inode, const Lock& request,
                                    pid_t waiterPid) {
    for (const LockLine& held : heldLocks)
        if (held.inode == inode && !sameOwner(held, request, waiterPid) && locksConflict(held.lock, request))
            return held;
    return std::nullopt;
}

void addWaiter(const Container& container, LockImage& image, pid_t hostPid, pid_t threadId, int fd, uint64_t inode,
               DeviceNumber device, const Lock& requested, const LockLine& blocker) {
    Waiter waiter;
    waiter.hostPid = hostPid;
    waiter.containerPid = containerPidOf(container, hostPid);
    waiter.requested = requested;
    waiter.inode = inode;
    waiter.device = device;
    if (const ProcessFd* entry = recordedFd(image, hostPid, fd)) {
        waiter.path = entry->file.path;
    } else {
        int err = 0;
        sys::tryReadLinkAt(AT_FDCWD, sys::threadDirectory(hostPid, threadId) + "/fd/" + std::to_string(fd), waiter.path,
                           err);
    }
    waiter.blockedOn = blocker.lock;
    waiter.blockedOnContainerPid = blocker.lock.kind == LockKind::posix || blocker.lock.kind == LockKind::flock
                                       ? containerPidOf(container, blocker.pid)
                                       : 0;
    image.waiters.push_back(std::move(waiter));
}

}  // namespace

// The container's own locks as lines, from the image (complete: from fdinfo).
std::vector<LockLine> containerLocks(const Container& container, const LockImage& image) {
    std::vector<LockLine> held;
    for (const Process& process : image.processes)
        for (const ProcessFd& fd : process.fds)
            for (const Lock& lock : fd.posixLocks)
                held.push_back({0, 0, lock, process.hostPid, fd.file.device, fd.file.inode});
    for (const OpenFileDescription& description : image.descriptions) {
        const ContainerTask* first = container.taskByContainerPid(description.holders.front().containerPid);
        for (const Lock& lock : description.locks)
            held.push_back({0, 0, lock, lock.kind == LockKind::ofd || !first ? -1 : first->hostPid,
                            description.file.device, description.file.inode});
    }
    return held;
}

void recordWaiters(const Container& container, LockImage& image, const PendingSyscalls& pending) {
    std::optional<std::vector<LockLine>> inside;   // the container's locks, made once if needed
    std::optional<std::vector<LockLine>> outside;  // /proc/locks, read once if needed
    for (const ContainerTask& task : container.tasks) {
        std::vector<pid_t> threads;
        try {
            threads = sys::listThreads(task.hostPid);
        } catch (const Error& error) {
            if (sys::isGone(error.errnoValue())) continue;  // exited: its waits are gone with it
            throw;
        }
        for (pid_t threadId : threads) {
            int err = 0;
            auto call = findBlockedLockCall(task.hostPid, threadId, pending);
            if (!call) continue;
            struct stat target {};
            std::string link = sys::threadDirectory(task.hostPid, threadId) + "/fd/" + std::to_string(call->fd);
            if (!sys::tryStatAt(AT_FDCWD, link, target, err)) continue;
            if (!inside) inside = containerLocks(container, image);
            auto blocker = findBlocker(*inside, target.st_ino, call->requested, task.hostPid);
            if (!blocker) {
                if (!outside) outside = parseProcLocks(sys::readFile("/proc/locks")).held;
                blocker = findBlocker(*outside, target.st_ino, call->requested, task.hostPid);
            }
            if (!blocker) continue;
            addWaiter(container, image, task.hostPid, threadId, call->fd, target.st_ino, blocker->device,
                      call->requested, *blocker);
        }
    }
}

}  // namespace lockcr
