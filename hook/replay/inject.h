// POSIX locks set from inside their owner. A POSIX lock belongs to the process (its files_struct),
// so unlike flock/OFD locks/leases (set on a pidfd_getfd duplicate) only the process itself can
// take one. injectPosixLocks makes a stopped process run fcntl(fd, F_SETLK, ...) for each request
// and then puts every register and byte back as it was.
//
// How (one process, any number of locks, five ptrace stops):
//   1. in a thread in a ptrace event stop, save registers and signal mask; block the signals our
//      code cannot raise;
//   2. inject mmap(PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS) through a syscall instruction
//      found in the [vdso] (or written over a private code page for that one syscall, then put
//      back);
//   3. write a small position-independent loop (inject_<arch>.cpp) and the requests into it
//      through /proc/PID/mem; the loop runs F_SETLK per request, stops at the first failure and
//      ends with tkill(gettid(), SIGTRAP), leaving the count applied and the result in registers,
//      so it writes no memory at all;
//   4. inject munmap; restore the signal mask and the registers with the kernel's syscall-restart
//      fix-up, so a thread stopped inside nanosleep or a blocked F_SETLKW goes back into it.
// No mapping is ever writable and executable at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "replay/tracee.h"

namespace lockcr {

struct PosixLockRequest {
    int fd;          // the target's descriptor number
    short type;      // F_RDLCK, F_WRLCK or F_UNLCK
    uint64_t start;
    uint64_t length; // 0 = to EOF
};

struct InjectionResult {
    size_t applied = 0;  // requests set, in order
    int firstError = 0;  // errno of the request at index applied; 0 if all were applied
};

// Runs fcntl(fd, F_SETLK, {type, SEEK_SET, start, length}) inside PROCESS for each request, in
// order, stopping at the first failure (never F_SETLKW: a conflict answers EAGAIN, never waits).
// PROCESS must have gone through waitUntilStopped. Throws Error if the injection itself fails
// before the loop ran (process exited, seccomp refused mmap, timeout, 32-bit process...);
// registers, signal mask and memory are then restored, and a process whose registers could not be
// restored is killed rather than let run on injected state. Once the loop has run, its result is
// returned even if the mapping could not be removed (logged; one PROT_READ|PROT_EXEC anonymous
// mapping stays behind).
InjectionResult injectPosixLocks(StoppedProcess& process, const std::vector<PosixLockRequest>& requests,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace lockcr
