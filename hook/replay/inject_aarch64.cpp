// aarch64 side of lock injection: the lock loop and the (kernel-made) syscall-restart state.
#include <signal.h>
#include <sys/syscall.h>

#include "replay/inject_arch.h"

// The lock loop. In: x19 = first LockEntry, x20 = number of entries. Out: x21 = entries applied,
// x22 = 0 or -errno of entry [x21]. It only reads memory, and ends in a SIGTRAP sent with tkill
// rather than brk: brk raises a forced signal, and the kernel resets a forced signal's handler to
// SIG_DFL if the process ignores or blocks it. The brk is there only in case tkill fails.
asm(R"(
    .pushsection .rodata.lockcr_lock_loop, "a", %progbits
    .p2align 2
    .globl lockcr_lock_loop_start, lockcr_lock_loop_syscall, lockcr_lock_loop_stop, lockcr_lock_loop_end
    .hidden lockcr_lock_loop_start, lockcr_lock_loop_syscall, lockcr_lock_loop_stop, lockcr_lock_loop_end
lockcr_lock_loop_start:
    mov   x21, #0               // applied = 0
1:  cmp   x21, x20
    b.hs  3f                    // every entry applied
    ldr   x8, [x19]             // entry->number
    ldr   x0, [x19, #8]         // entry->arguments[0..2]
    ldr   x1, [x19, #16]
    ldr   x2, [x19, #24]
lockcr_lock_loop_syscall:
    svc   #0
    tbnz  x0, #63, 2f           // -errno: stop at the first failure
    add   x19, x19, #64
    add   x21, x21, #1
    b     1b
3:  mov   x0, #0
2:  mov   x22, x0               // result
    mov   x8, #178              // __NR_gettid
    svc   #0
    mov   x1, #5                // SIGTRAP
    mov   x8, #130              // __NR_tkill
    svc   #0
lockcr_lock_loop_stop:
    brk   #0
lockcr_lock_loop_end:
    .popsection
)");

static_assert(SYS_gettid == 178 && SYS_tkill == 130 && SIGTRAP == 5, "constants in the lock loop");

namespace lockcr::inject_arch {

namespace {

constexpr unsigned char kSvc[] = {0x01, 0x00, 0x00, 0xd4};  // svc #0, little-endian

}  // namespace

std::span<const unsigned char> syscallInstruction() { return kSvc; }
size_t instructionAlignment() { return 4; }

// The svc a thread returned from sits just before pc. Never pc itself: for a thread stopped with
// a restart pending pc is already the restart address, and leaving the stop there would let the
// kernel turn our syscall into restart_syscall (do_signal, "regs->pc == restart_addr").
std::vector<uint64_t> syscallInstructionsNearPc(const sys::Registers& registers) { return {registers.pc - 4}; }

uint64_t programCounter(const sys::Registers& registers) { return registers.pc; }

// arm64's user registers carry no "in a syscall" mark: callers ask only for a thread that
// /proc/TID/syscall shows outside any syscall, standing on an svc.
std::optional<SyscallLine> pendingSyscall(const sys::Registers& registers) {
    SyscallLine line;
    line.number = static_cast<long>(registers.regs[8]);
    for (size_t i = 0; i < 6; ++i) line.arguments[i] = registers.regs[i];
    line.instructionPointer = registers.pc;
    return line;
}

// x6 and x7 stay as saved: at a syscall stop arm64 reports the direction in x7 and afterwards puts
// back the value x7 had at syscall entry (arch/arm64/kernel/ptrace.c, report_syscall), so every
// injected syscall must enter with the thread's own x7 for the final restore to keep it.
void prepareSyscall(sys::Registers& registers, uint64_t address, long number,
                    const std::array<uint64_t, 6>& arguments) {
    registers.pc = address;
    registers.regs[8] = static_cast<uint64_t>(number);
    for (size_t i = 0; i < arguments.size(); ++i) registers.regs[i] = arguments[i];
}

int64_t syscallResult(const sys::Registers& registers) { return static_cast<int64_t>(registers.regs[0]); }

void prepareLockLoop(sys::Registers& registers, uint64_t codeAddress, uint64_t entriesAddress, uint64_t count) {
    registers.pc = codeAddress;
    registers.regs[19] = entriesAddress;
    registers.regs[20] = count;
}

bool atLockLoopEnd(const sys::Registers& registers, uint64_t codeAddress) {
    // tkill returns to the brk; a brk trap leaves pc on the brk.
    return registers.pc == codeAddress + lockLoopCode().stopOffset;
}

LockLoopOutcome lockLoopOutcome(const sys::Registers& registers) {
    return {registers.regs[21], static_cast<int64_t>(registers.regs[22])};
}

// arm64 rewinds an interrupted syscall BEFORE get_signal (arch/arm64/kernel/signal.c, do_signal:
// x0 = orig_x0, pc -= 4, "so that a debugger will see the already changed PC"), and forgets the
// syscall, so the stop's registers already resume correctly and are written back unchanged.
// CRIU's compel does no fix-up on arm64 either. The one thing lost: for -ERESTART_RESTARTBLOCK the
// kernel sets x8 = __NR_restart_syscall only after get_signal, and only if pc is still the
// restart address; leaving from another stop, the original syscall (x8 unchanged) runs again with
// its original arguments: a relative nanosleep/clock_nanosleep or a futex wait with a relative
// timeout starts its full interval over. Absolute sleeps (-ERESTARTNOHAND) and -ERESTARTSYS calls
// such as a blocked F_SETLKW are exact. The return value that would tell the cases apart is gone
// (x0 holds orig_x0) and guessing from x8 risks running a stale restart_block.
sys::Registers resumableRegisters(const sys::Registers& stopped) { return stopped; }

// The final stop is an injected syscall's exit stop, so the kernel still holds that syscall's
// number: leaving, do_signal() would read x0 (the thread's own value now) as its return value and,
// were it -ERESTART*, rewind pc and load x0 from our syscall's orig_x0. Forget the syscall, as the
// kernel itself had done before the original stop.
void leaveSyscall(pid_t tid) { sys::setSyscallNumber(tid, -1); }

}  // namespace lockcr::inject_arch
