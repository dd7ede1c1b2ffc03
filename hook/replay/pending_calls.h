// The blocking lock call a waiter is about to make, for collect's recordWaiters (collect/waiters.h):
// a thread that stands on a syscall instruction outside any syscall (restored by CRIU, or rewound)
// has its call in its registers, and only a tracer can read them. What a syscall instruction looks
// like is the injection's per-architecture knowledge (replay/inject_arch.h), so it is asked here.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>

#include "collect/waiters.h"

namespace lockcr {

// Whether the bytes at ADDRESS in thread TID of PID are a syscall instruction.
bool standsOnSyscallInstruction(pid_t pid, pid_t threadId, uint64_t address);

// For `lockcr verify` outside a replay: reads a waiter's pending call by seizing its process for
// the moment of one register read, then detaching (a stopped task goes back to its stop). Best
// effort: a process that can't be seized (traced by CRIU, frozen) counts as not waiting.
PendingSyscalls pendingBySeizing(std::chrono::milliseconds timeout = std::chrono::milliseconds(500));

}  // namespace lockcr
