// What POSIX lock injection (inject.cpp) needs to know about one architecture; implemented by
// inject_x86_64.cpp and inject_aarch64.cpp, of which only the target's is built.
#pragma once

#include <fcntl.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "collect/waiters.h"
#include "util/ptrace.h"

namespace lockcr::inject_arch {

// One call as the lock loop reads it in the target: the syscall number and three arguments, then
// room for the struct flock a POSIX call's third argument points to (same layout in the kernel and
// in glibc on both 64-bit architectures).
struct LockEntry {
    uint64_t number;
    uint64_t arguments[3];
    struct flock lock;
};
static_assert(sizeof(LockEntry) == 64 && offsetof(LockEntry, lock) == 32,
              "the lock loop walks 64-byte entries: number, three arguments, a struct flock");

}  // namespace lockcr::inject_arch

// Labels in the lock loop that inject_<arch>.cpp assembles (in .rodata: it is copied, never run
// here): its start, its fcntl syscall instruction, the instruction after its final tkill, its end.
extern "C" {
extern const unsigned char lockcr_lock_loop_start[], lockcr_lock_loop_syscall[], lockcr_lock_loop_stop[],
    lockcr_lock_loop_end[];
}

namespace lockcr::inject_arch {

// The lock loop's machine code, copied into the target. Inputs and outputs are registers only.
struct LockLoopCode {
    std::span<const unsigned char> bytes;
    size_t syscallOffset;  // a syscall instruction inside it, used to inject munmap
    size_t stopOffset;     // where the thread stands at the loop's final SIGTRAP stop
};
inline LockLoopCode lockLoopCode() {
    auto offset = [](const unsigned char* label) { return static_cast<size_t>(label - lockcr_lock_loop_start); };
    return {{lockcr_lock_loop_start, offset(lockcr_lock_loop_end)},
            offset(lockcr_lock_loop_syscall),
            offset(lockcr_lock_loop_stop)};
}

std::span<const unsigned char> syscallInstruction();
size_t instructionAlignment();
// Addresses next to the thread's pc that may hold a syscall instruction (the one the thread is
// blocked in), tried before the [vdso]: checking them costs one small read, not /proc/PID/maps.
std::vector<uint64_t> syscallInstructionsNearPc(const sys::Registers& registers);

uint64_t programCounter(const sys::Registers& registers);

// For a thread in a ptrace stop outside any syscall, standing on a syscall instruction: the call
// it will make when it runs (number and arguments from its registers). Nothing for a thread
// stopped inside a syscall.
std::optional<SyscallLine> pendingSyscall(const sys::Registers& registers);

// Registers that make the thread execute the syscall instruction at ADDRESS with NUMBER and
// ARGUMENTS, and that keep the kernel's own restart logic off them (x86_64: orig_rax = -1).
void prepareSyscall(sys::Registers& registers, uint64_t address, long number, const std::array<uint64_t, 6>& arguments);
int64_t syscallResult(const sys::Registers& registers);

void prepareLockLoop(sys::Registers& registers, uint64_t codeAddress, uint64_t entriesAddress, uint64_t count);
// Whether a SIGTRAP stop is the loop's own end.
bool atLockLoopEnd(const sys::Registers& registers, uint64_t codeAddress);
struct LockLoopOutcome {
    uint64_t applied;
    int64_t result;  // 0, or -errno of entry [applied]
};
LockLoopOutcome lockLoopOutcome(const sys::Registers& registers);

// The registers to write back into a thread that was stopped with STOPPED, so that it continues
// exactly as it would have: if the stop interrupted a syscall that the kernel was going to
// restart, rewind it now, because the thread will leave from a different stop where the kernel
// no longer knows about the restart.
sys::Registers resumableRegisters(const sys::Registers& stopped);
// After resumableRegisters() are written: make sure the kernel does not take the thread, which
// leaves from an injected syscall's stop, for one still inside that syscall. Detaching sets
// TIF_SIGPENDING, so the kernel's restart logic runs once more on the way out; it must find
// nothing to do.
void leaveSyscall(pid_t tid);

}  // namespace lockcr::inject_arch
