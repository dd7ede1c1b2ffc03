// Blocked waiters. /proc/locks shows them as "->" lines only while they sleep in the kernel: a
// frozen container's waiters have left the wait (the freezer's fake signal returns -ERESTARTSYS)
// and are invisible there. What stays is the syscall they will restart: /proc/TID/syscall names
// fcntl(fd, F_SETLKW|F_OFD_SETLKW, &flock) or flock(fd, op), and the struct flock is read from the
// task's memory. That also finds OFD waiters, which /proc/locks shows with pid -1.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string_view>

#include "image/model.h"

namespace lockcr {

struct BlockedCall {
    pid_t threadId = 0;
    int fd = -1;
    Lock requested;
};

// Parses /proc/TID/syscall text ("72 0x4 0x7 0x7ffc... sp pc"): the syscall number and 6 args.
struct SyscallLine {
    long number = -1;  // -1: running or not in a syscall
    unsigned long arguments[6] = {};
};
std::optional<SyscallLine> parseSyscallLine(std::string_view text);

// The blocking lock call TID of process PID sits in, if any.
std::optional<BlockedCall> findBlockedLockCall(pid_t pid, pid_t threadId);

}  // namespace lockcr

namespace lockcr {

struct Container;

// Every task of the container blocked in a lock call whose request conflicts with a lock held now
// (one that does not conflict is about to succeed, not waiting). Blocking calls are found through
// /proc/TID/syscall, so this works on a frozen container as on a running one. The blocker is looked
// for among the container's own locks first; /proc/locks is read only when it is held outside.
void recordWaiters(const Container& container, LockImage& image);

}  // namespace lockcr
