// x86_64 side of lock injection: the lock loop and the syscall-restart fix-up.
#include <signal.h>
#include <sys/syscall.h>

#include "replay/inject_arch.h"

// The lock loop. In: rbx = first LockEntry, r12 = number of entries. Out: r13 = entries applied,
// r14 = 0 or -errno of entry [r13]. It only reads memory, and ends in a SIGTRAP sent with tkill
// rather than int3: int3 is a forced signal, and the kernel resets a forced signal's handler to
// SIG_DFL if the process ignores or blocks it. The int3 is there only in case tkill fails.
asm(R"(
    .pushsection .rodata.lockcr_lock_loop, "a", @progbits
    .p2align 4
    .globl lockcr_lock_loop_start, lockcr_lock_loop_syscall, lockcr_lock_loop_stop, lockcr_lock_loop_end
    .hidden lockcr_lock_loop_start, lockcr_lock_loop_syscall, lockcr_lock_loop_stop, lockcr_lock_loop_end
lockcr_lock_loop_start:
    xor   %r13d, %r13d          # applied = 0
1:  cmp   %r12, %r13
    jae   3f                    # every entry applied
    mov   (%rbx), %rax          # entry->number
    mov   8(%rbx), %rdi         # entry->arguments[0..2]
    mov   16(%rbx), %rsi
    mov   24(%rbx), %rdx
lockcr_lock_loop_syscall:
    syscall
    test  %rax, %rax
    js    2f                    # -errno: stop at the first failure
    add   $64, %rbx
    inc   %r13
    jmp   1b
3:  xor   %eax, %eax
2:  mov   %rax, %r14            # result
    mov   $186, %eax            # __NR_gettid
    syscall
    mov   %eax, %edi
    mov   $5, %esi              # SIGTRAP
    mov   $200, %eax            # __NR_tkill
    syscall
lockcr_lock_loop_stop:
    int3
lockcr_lock_loop_end:
    .popsection
)");

static_assert(SYS_gettid == 186 && SYS_tkill == 200 && SIGTRAP == 5, "constants in the lock loop");

namespace lockcr::inject_arch {

namespace {

// include/linux/errno.h: what an interrupted syscall leaves in rax for the signal code to act on.
constexpr int64_t kRestartSys = -512;
constexpr int64_t kRestartNoIntr = -513;
constexpr int64_t kRestartNoHand = -514;
constexpr int64_t kRestartRestartBlock = -516;
constexpr uint64_t kX32SyscallBit = 0x40000000;
constexpr uint64_t kNoSyscall = ~0ULL;           // orig_rax = -1
constexpr uint64_t kSyscallInstructionSize = 2;  // 0f 05

constexpr unsigned char kSyscall[] = {0x0f, 0x05};

}  // namespace

std::span<const unsigned char> syscallInstruction() { return kSyscall; }
size_t instructionAlignment() { return 1; }

// A thread stopped inside a syscall has its syscall instruction just before rip (the rewind is
// still to come); one rewound already (by CRIU at dump, or by an earlier injection) sits on it.
std::vector<uint64_t> syscallInstructionsNearPc(const sys::Registers& registers) {
    return {registers.rip - kSyscallInstructionSize, registers.rip};
}

uint64_t programCounter(const sys::Registers& registers) { return registers.rip; }

std::optional<SyscallLine> pendingSyscall(const sys::Registers& registers) {
    if (static_cast<int64_t>(registers.orig_rax) >= 0) return std::nullopt;
    SyscallLine line;
    line.number = static_cast<long>(registers.rax);
    const uint64_t arguments[6] = {registers.rdi, registers.rsi, registers.rdx,
                                   registers.r10, registers.r8,  registers.r9};
    for (size_t i = 0; i < 6; ++i) line.arguments[i] = arguments[i];
    line.instructionPointer = registers.rip;
    return line;
}

void prepareSyscall(sys::Registers& registers, uint64_t address, long number,
                    const std::array<uint64_t, 6>& arguments) {
    registers.rip = address;
    registers.rax = static_cast<uint64_t>(number);
    // Leaving the event stop, the kernel applies its restart fix-up to a thread whose orig_rax
    // names a syscall (arch_do_signal_or_restart runs after get_signal): -1 keeps it off ours.
    registers.orig_rax = kNoSyscall;
    registers.rdi = arguments[0];
    registers.rsi = arguments[1];
    registers.rdx = arguments[2];
    registers.r10 = arguments[3];
    registers.r8 = arguments[4];
    registers.r9 = arguments[5];
}

int64_t syscallResult(const sys::Registers& registers) { return static_cast<int64_t>(registers.rax); }

void prepareLockLoop(sys::Registers& registers, uint64_t codeAddress, uint64_t entriesAddress, uint64_t count) {
    registers.rip = codeAddress;
    registers.orig_rax = kNoSyscall;
    registers.rbx = entriesAddress;
    registers.r12 = count;
}

bool atLockLoopEnd(const sys::Registers& registers, uint64_t codeAddress) {
    uint64_t stop = codeAddress + lockLoopCode().stopOffset;
    return registers.rip == stop || registers.rip == stop + 1;  // after tkill, or after int3
}

LockLoopOutcome lockLoopOutcome(const sys::Registers& registers) {
    return {registers.r13, static_cast<int64_t>(registers.r14)};
}

// At an event stop the thread is inside get_signal(); x86 rewinds an interrupted syscall only
// after that returns (arch/x86/kernel/signal.c, arch_do_signal_or_restart), so the stop shows
// rax = -ERESTART*, rip after the syscall instruction. We leave from another stop (an injected
// syscall's exit stop), where that code runs again only if TIF_SIGPENDING happens to be set
// (PTRACE_DETACH sets it, PTRACE_CONT does not): do its work here, once, like CRIU's compel, and
// set orig_rax = -1 so the kernel cannot do it a second time.
sys::Registers resumableRegisters(const sys::Registers& stopped) {
    sys::Registers registers = stopped;
    if (static_cast<int64_t>(registers.orig_rax) < 0) return registers;
    switch (static_cast<int64_t>(registers.rax)) {
        case kRestartSys:
        case kRestartNoIntr:
        case kRestartNoHand: registers.rax = registers.orig_rax; break;
        case kRestartRestartBlock:
            // restart_syscall(2) continues nanosleep & co with the time that is left.
            registers.rax = SYS_restart_syscall | (registers.orig_rax & kX32SyscallBit);
            break;
        default: return registers;
    }
    registers.rip -= kSyscallInstructionSize;
    // Rewound, the thread is no longer in a syscall: nothing may apply a fix-up a second time.
    registers.orig_rax = kNoSyscall;
    return registers;
}

// x86_64 decides by orig_rax, which resumableRegisters() already set: -1 after a rewind, else
// the thread's own value, for which the kernel's check finds what it would have found anyway.
void leaveSyscall(pid_t) {}

}  // namespace lockcr::inject_arch
