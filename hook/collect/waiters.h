// Blocked waiters. /proc/locks shows them as "->" lines only while they sleep in the kernel: a
// frozen container's waiters have left the wait (the freezer's fake signal returns -ERESTARTSYS)
// and are invisible there. What stays is the syscall they will restart: /proc/TID/syscall names
// fcntl(fd, F_SETLKW|F_OFD_SETLKW, &flock) or flock(fd, op), and the struct flock is read from the
// task's memory. That also finds OFD waiters, which /proc/locks shows with pid -1.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "image/model.h"

namespace lockcr {

struct BlockedCall {
    pid_t threadId = 0;
    int fd = -1;
    Lock requested;
};

// Parses /proc/TID/syscall text ("72 0x4 0x7 0x7ffc... sp pc"): the syscall number and 6 args;
// "-1 sp pc" for a task stopped outside a syscall, "running" for one on a CPU.
struct SyscallLine {
    long number = -1;  // -1: running or not in a syscall
    unsigned long arguments[6] = {};
    unsigned long instructionPointer = 0;  // of "-1 sp pc": where the task stands in user space
};
std::optional<SyscallLine> parseSyscallLine(std::string_view text);

// The syscall a thread held in a ptrace stop will make first when it runs (PID, TID), from its
// registers. A task restored by CRIU from a dump taken while it waited, or rewound after an
// interruption, stands on its syscall instruction with the call in its registers, not inside it:
// /proc/TID/syscall shows "-1", yet it waits again as soon as it runs. Asked for a thread stopped
// outside any syscall at INSTRUCTION_POINTER; it answers nothing unless a syscall instruction is
// there (what one looks like is the injection's per-architecture knowledge: replay/pending_calls.h).
using PendingSyscalls =
    std::function<std::optional<SyscallLine>(pid_t pid, pid_t threadId, uint64_t instructionPointer)>;

// The blocking lock call TID of process PID sits in, or (with PENDING) is about to make, if any.
std::optional<BlockedCall> findBlockedLockCall(pid_t pid, pid_t threadId, const PendingSyscalls& pending = {});

}  // namespace lockcr

namespace lockcr {

struct Container;

// Every task of the container blocked in a lock call whose request conflicts with a lock held now
// (one that does not conflict is about to succeed, not waiting). Blocking calls are found through
// /proc/TID/syscall, so this works on a frozen container as on a running one. The blocker is looked
// for among the container's own locks first; /proc/locks is read only when it is held outside.
void recordWaiters(const Container& container, LockImage& image, const PendingSyscalls& pending = {});

}  // namespace lockcr
