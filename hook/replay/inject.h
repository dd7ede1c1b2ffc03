// Locks set from inside their owner. A POSIX lock belongs to the process (its files_struct), so
// only the process itself can take one. A flock or a lease belongs to the open file description,
// but the kernel shows the pid of whoever set it (/proc/locks, fdinfo: what zdtm's file_locks
// tests and applications check), and a lease's break signal names the fd number it was set
// through: set from inside a process holding the description, both are what they were.
// injectLockCalls makes a stopped process run one lock call per request (never a blocking one)
// and then puts every register and byte back as it was.
//
// How (one process, any number of locks, five ptrace stops):
//   1. in a thread in a ptrace event stop, save registers and signal mask; block the signals our
//      code cannot raise;
//   2. inject mmap(PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS) through a syscall instruction
//      found in the [vdso] (or written over a private code page for that one syscall, then put
//      back);
//   3. write a small position-independent loop (inject_<arch>.cpp) and the requests into it
//      through /proc/PID/mem; the loop runs one syscall per request, stops at the first failure and
//      ends with tkill(gettid(), SIGTRAP), leaving the count applied and the result in registers,
//      so it writes no memory at all;
//   4. inject munmap; restore the signal mask and the registers with the kernel's syscall-restart
//      fix-up, so a thread stopped inside nanosleep or a blocked F_SETLKW goes back into it.
// No mapping is ever writable and executable at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <vector>

#include "image/model.h"
#include "util/error.h"
#include "replay/tracee.h"

namespace lockcr {

// POSIX: fcntl(fd, F_SETLK, {type, SEEK_SET, start, length}); flock: flock(fd, LOCK_SH, LOCK_EX
// or LOCK_UN, with LOCK_NB); lease: fcntl(fd, F_SETLEASE, type).
struct LockCall {
    int fd;                           // the target's descriptor number
    short type;                       // F_RDLCK, F_WRLCK or F_UNLCK
    uint64_t start = 0;               // POSIX only
    uint64_t length = 0;              // POSIX only; 0 = to EOF
    LockKind kind = LockKind::posix;  // posix, flock or lease
};

// The lock loop started, then the injection failed (a seccomp trap or a timeout inside the loop,
// the process gone, the thread not put back): the first APPLIED calls may have taken effect, and
// the caller must count them as set (to roll them back) before it fails.
class FailedAfterLoop : public Error {
public:
    FailedAfterLoop(const Error& cause, size_t applied) : Error(cause), applied_(applied) {}
    size_t applied() const { return applied_; }

private:
    size_t applied_;
};

struct InjectionResult {
    size_t applied = 0;  // requests set, in order
    int firstError = 0;  // errno of the request at index applied; 0 if all were applied
};

// Runs each call inside PROCESS, in order, stopping at the first failure (never F_SETLKW or a
// flock without LOCK_NB: a conflict answers EAGAIN, never waits).
// PROCESS must have gone through waitUntilStopped. Throws Error if the injection itself fails
// before the loop ran (process exited, seccomp refused mmap, timeout, 32-bit process...);
// registers, signal mask and memory are then restored, and a process whose registers could not be
// restored is killed rather than let run on injected state. A failure once the loop has started
// throws FailedAfterLoop instead. Once the loop has run, its result is returned even if the
// mapping could not be removed (logged; one PROT_READ|PROT_EXEC anonymous mapping stays behind).
InjectionResult injectLockCalls(StoppedProcess& process, const std::vector<LockCall>& requests,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10));

// One process's share of injectLockCallsTogether: its calls, then what came of them.
struct InjectionJob {
    StoppedProcess* process = nullptr;
    std::vector<LockCall> calls;
    bool started = false;        // false: not tried (an earlier job failed first)
    InjectionResult result;      // when it ran without failure
    std::exception_ptr failure;  // what injectLockCalls would have thrown
};

// injectLockCalls for several processes, with their lock loops running at once (each process's
// loop runs on a core of its own while the next process is prepared), instead of one after the
// other. Every job is tried in order until one fails before its loop starts; the loops already
// started are always waited for and their threads put back. Never throws for a job: each job says
// how it ended (a FailedAfterLoop failure counts calls that may have taken effect).
void injectLockCallsTogether(std::vector<InjectionJob>& jobs,
                             std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace lockcr
