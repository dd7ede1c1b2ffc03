// The tracer's toolkit, wrapped once: ptrace requests, waiting for one thread's reports, a tracee's
// memory and signals. Failures name the request and the thread (Error with errno); the calls that
// may race with a thread's exit return the errno instead, for the caller to judge.
//
// ptrace is per tracer THREAD: every call on a tracee must come from the thread that seized it.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/user.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lockcr::sys {

// General registers of a 64-bit thread, as PTRACE_GETREGSET(NT_PRSTATUS) gives them:
// x86_64: struct user_regs_struct (rax, orig_rax, rip, ...); aarch64: x0..x30, sp, pc, pstate.
using Registers = user_regs_struct;

using Deadline = std::chrono::steady_clock::time_point;

// PTRACE_O_TRACESYSGOOD: syscall stops report SIGTRAP|0x80, never mistaken for a real SIGTRAP.
// No TRACECLONE (a stopped thread creates none; StoppedProcess lists /proc until stable), no
// EXITKILL (lockcr dying must not kill the container: the kernel detaches its tracees).
unsigned long seizeOptions();
// PTRACE_O_EXITKILL on every later seize: if lockcr dies while it traces them (SIGKILL mid-replay),
// the kernel kills the tracees instead of letting them run on without their locks (policy kill).
void killTraceesIfTracerDies(bool kill);

// 0 or the errno: ESRCH (gone, or not in a ptrace stop), EPERM (already traced, a zombie leader).
int trySeize(pid_t tid, unsigned long options);
int tryInterrupt(pid_t tid);
int tryDetach(pid_t tid, int signal);

// Throw "ptrace REQUEST tid N: reason".
void resumeWithSyscallStops(pid_t tid, int signal);  // PTRACE_SYSCALL
void resume(pid_t tid, int signal);                  // PTRACE_CONT
Registers getRegisters(pid_t tid);                   // also throws for a 32-bit (compat) thread
void setRegisters(pid_t tid, const Registers& registers);
uint64_t getSignalMask(pid_t tid);  // the mask the thread returns to (saved_sigmask in ppoll...)
void setSignalMask(pid_t tid, uint64_t mask);
siginfo_t getSignalInfo(pid_t tid);  // of the signal a signal-delivery-stop is about
#if defined(__aarch64__)
// The syscall the kernel believes the stopped thread is in (NT_ARM_SYSTEM_CALL); -1 = none, so
// no syscall-restart logic runs on the registers it resumes with. x86_64 has this as orig_rax.
void setSyscallNumber(pid_t tid, int number);
#endif
void pokeWord(pid_t tid, uint64_t address, uint64_t word);

// One report of waitpid(tid, __WALL), decoded.
struct ThreadReport {
    enum class Kind {
        exited,       // exited or killed: the thread is gone (signal = the fatal one, or 0)
        eventStop,    // PTRACE_EVENT_STOP: after PTRACE_INTERRUPT (SIGTRAP) or group-stop (signal)
        syscallStop,  // syscall-enter or -exit stop (SIGTRAP|0x80)
        signalStop,   // signal-delivery-stop: signal is about to be delivered unless suppressed
        otherEvent,   // another PTRACE_EVENT_*: not requested, still a ptrace stop
    };
    Kind kind = Kind::exited;
    int signal = 0;
    int status = 0;  // raw waitpid status, for messages
};
ThreadReport decodeWaitStatus(int status);

enum class WaitOutcome { reported, nothingYet, notOurs };
// waitpid(tid, __WALL | WNOHANG), EINTR retried. notOurs: ECHILD (reaped already, or not traced).
WaitOutcome pollThread(pid_t tid, ThreadReport& report);
// Waits for tid's next report until deadline: spins (yielding) briefly, then sleeps in growing
// steps. waitpid itself has no timeout and a tracee may never stop (frozen, blocked in a syscall).
// Returns nothingYet on timeout.
WaitOutcome waitThread(pid_t tid, ThreadReport& report, Deadline deadline);

// Thread ids in /proc/PID/task, or throws Error (ESRCH if the process does not exist).
std::vector<pid_t> listThreads(pid_t pid);
// The "State:" letter and "TracerPid:" of /proc/PID/task/TID/status; false if unreadable.
bool readThreadState(pid_t pid, pid_t tid, char& state, pid_t& tracerPid);
// /proc/PID/task/TID/wchan: the kernel function the thread sleeps in ("" if unreadable).
std::string readThreadWaitChannel(pid_t pid, pid_t tid);
// "SigPnd:" of /proc/PID/task/TID/status: signals pending for that thread alone (bit n-1 = signal
// n); false if unreadable.
bool readThreadPendingSignals(pid_t pid, pid_t tid, uint64_t& pending);

// rt_tgsigqueueinfo with INFO as it was, else (the kernel refuses to forge a kernel or kill()
// siginfo for another process) tgkill: the signal arrives, its sender shows as lockcr. 0 or errno.
int requeueSignal(pid_t pid, pid_t tid, const siginfo_t& info);
int killProcess(pid_t pid, int signal);

// /proc/PID/mem access (open it with sys::openAt). Writes go through FOLL_FORCE, so a read-only
// private mapping can be written as the tracer; 0 or errno.
int tryWriteMemory(int memFd, uint64_t address, const void* data, size_t size);
int tryReadMemory(int memFd, uint64_t address, void* data, size_t size);

}  // namespace lockcr::sys
