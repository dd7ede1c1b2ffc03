#include "util/ptrace.h"

#include <elf.h>
#include <sched.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "util/error.h"
#include "util/sys.h"

namespace lockcr::sys {

namespace {

long request(__ptrace_request what, pid_t tid, uintptr_t address, uintptr_t data) {
    return ::ptrace(what, tid, reinterpret_cast<void*>(address), reinterpret_cast<void*>(data));
}

int errnoOf(long result) { return result == -1 ? errno : 0; }

[[noreturn]] void throwPtrace(const char* what, pid_t tid, int errnoValue = errno) {
    throwErrno(std::string("ptrace ") + what + " tid " + std::to_string(tid), errnoValue);
}

void sleepMicroseconds(long microseconds) {
    timespec pause{0, microseconds * 1000};
    ::nanosleep(&pause, nullptr);
}

// The value after "NAME:" in a /proc status text; empty if absent.
std::string statusField(const std::string& text, const std::string& name) {
    std::string key = "\n" + name + ":";
    size_t at = text.find(key);
    if (at == std::string::npos) return {};
    size_t begin = text.find_first_not_of(" \t", at + key.size());
    if (begin == std::string::npos) return {};
    size_t end = text.find('\n', begin);
    return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

bool readThreadStatus(pid_t pid, pid_t tid, std::string& text) {
    int errnoValue = 0;
    std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status";
    if (!tryReadFileAt(AT_FDCWD, path, text, errnoValue)) return false;
    text.insert(0, "\n");  // so the first field matches "\nName:" too
    return true;
}

}  // namespace

namespace {
bool exitKill = false;
}

void killTraceesIfTracerDies(bool kill) { exitKill = kill; }

unsigned long seizeOptions() { return PTRACE_O_TRACESYSGOOD | (exitKill ? PTRACE_O_EXITKILL : 0); }

int trySeize(pid_t tid, unsigned long options) { return errnoOf(request(PTRACE_SEIZE, tid, 0, options)); }

int tryInterrupt(pid_t tid) { return errnoOf(request(PTRACE_INTERRUPT, tid, 0, 0)); }

int tryDetach(pid_t tid, int signal) { return errnoOf(request(PTRACE_DETACH, tid, 0, static_cast<uintptr_t>(signal))); }

void resumeWithSyscallStops(pid_t tid, int signal) {
    if (request(PTRACE_SYSCALL, tid, 0, static_cast<uintptr_t>(signal)) == -1) throwPtrace("SYSCALL", tid);
}

void resume(pid_t tid, int signal) {
    if (request(PTRACE_CONT, tid, 0, static_cast<uintptr_t>(signal)) == -1) throwPtrace("CONT", tid);
}

Registers getRegisters(pid_t tid) {
    Registers registers{};
    iovec vector{&registers, sizeof registers};
    if (request(PTRACE_GETREGSET, tid, NT_PRSTATUS, reinterpret_cast<uintptr_t>(&vector)) == -1)
        throwPtrace("GETREGSET", tid);
    // A compat (32-bit) thread answers with its own, shorter register layout.
    if (vector.iov_len != sizeof registers)
        throwFailure("ptrace GETREGSET tid " + std::to_string(tid) +
                     ": not a 64-bit thread (32-bit processes are not supported)");
    return registers;
}

void setRegisters(pid_t tid, const Registers& registers) {
    Registers copy = registers;
    iovec vector{&copy, sizeof copy};
    if (request(PTRACE_SETREGSET, tid, NT_PRSTATUS, reinterpret_cast<uintptr_t>(&vector)) == -1)
        throwPtrace("SETREGSET", tid);
}

uint64_t getSignalMask(pid_t tid) {
    uint64_t mask = 0;  // the kernel's sigset_t: 64 bits on 64-bit architectures
    if (request(PTRACE_GETSIGMASK, tid, sizeof mask, reinterpret_cast<uintptr_t>(&mask)) == -1)
        throwPtrace("GETSIGMASK", tid);
    return mask;
}

void setSignalMask(pid_t tid, uint64_t mask) {
    if (request(PTRACE_SETSIGMASK, tid, sizeof mask, reinterpret_cast<uintptr_t>(&mask)) == -1)
        throwPtrace("SETSIGMASK", tid);
}

siginfo_t getSignalInfo(pid_t tid) {
    siginfo_t info{};
    if (request(PTRACE_GETSIGINFO, tid, 0, reinterpret_cast<uintptr_t>(&info)) == -1) throwPtrace("GETSIGINFO", tid);
    return info;
}

#if defined(__aarch64__)
void setSyscallNumber(pid_t tid, int number) {
    iovec vector{&number, sizeof number};
    if (request(PTRACE_SETREGSET, tid, NT_ARM_SYSTEM_CALL, reinterpret_cast<uintptr_t>(&vector)) == -1)
        throwPtrace("SETREGSET NT_ARM_SYSTEM_CALL", tid);
}
#endif

void pokeWord(pid_t tid, uint64_t address, uint64_t word) {
    if (request(PTRACE_POKEDATA, tid, address, word) == -1) throwPtrace("POKEDATA", tid);
}

ThreadReport decodeWaitStatus(int status) {
    ThreadReport report;
    report.status = status;
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
        report.kind = ThreadReport::Kind::exited;
        report.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        return report;
    }
    int event = status >> 16;
    report.signal = WSTOPSIG(status);
    if (event == PTRACE_EVENT_STOP) report.kind = ThreadReport::Kind::eventStop;
    else if (event != 0) report.kind = ThreadReport::Kind::otherEvent;
    else if (report.signal == (SIGTRAP | 0x80)) report.kind = ThreadReport::Kind::syscallStop;
    else report.kind = ThreadReport::Kind::signalStop;
    return report;
}

WaitOutcome pollThread(pid_t tid, ThreadReport& report) {
    for (;;) {
        int status = 0;
        pid_t result = ::waitpid(tid, &status, __WALL | WNOHANG);
        if (result == tid) {
            report = decodeWaitStatus(status);
            return WaitOutcome::reported;
        }
        if (result == 0) return WaitOutcome::nothingYet;
        if (errno == EINTR) continue;
        if (errno == ECHILD) return WaitOutcome::notOurs;
        throwErrno("waitpid tid " + std::to_string(tid));
    }
}

WaitOutcome waitThread(pid_t tid, ThreadReport& report, Deadline deadline) {
    // A tracee answers a resume in microseconds; yield to it first, then back off so a thread
    // that never stops costs little CPU.
    auto spinUntil = std::chrono::steady_clock::now() + std::chrono::microseconds(300);
    long pauseMicroseconds = 20;
    for (;;) {
        WaitOutcome outcome = pollThread(tid, report);
        if (outcome != WaitOutcome::nothingYet) return outcome;
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return WaitOutcome::nothingYet;
        if (now < spinUntil) {
            ::sched_yield();
            continue;
        }
        sleepMicroseconds(pauseMicroseconds);
        pauseMicroseconds = std::min(pauseMicroseconds * 2, 2000L);
    }
}

std::vector<pid_t> listThreads(pid_t pid) {
    std::vector<std::string> names;
    int errnoValue = 0;
    std::string path = "/proc/" + std::to_string(pid) + "/task";
    if (!tryListDirectory(AT_FDCWD, path, names, errnoValue))
        throwErrno("list threads of pid " + std::to_string(pid), errnoValue == ENOENT ? ESRCH : errnoValue);
    std::vector<pid_t> threads;
    for (const std::string& name : names) {
        char* end = nullptr;
        long tid = std::strtol(name.c_str(), &end, 10);
        if (end != name.c_str() && *end == '\0' && tid > 0) threads.push_back(static_cast<pid_t>(tid));
    }
    std::sort(threads.begin(), threads.end());
    return threads;
}

bool readThreadState(pid_t pid, pid_t tid, char& state, pid_t& tracerPid) {
    std::string text;
    if (!readThreadStatus(pid, tid, text)) return false;
    std::string stateField = statusField(text, "State");
    std::string tracerField = statusField(text, "TracerPid");
    if (stateField.empty() || tracerField.empty()) return false;
    state = stateField[0];
    tracerPid = static_cast<pid_t>(std::strtol(tracerField.c_str(), nullptr, 10));
    return true;
}

std::string readThreadWaitChannel(pid_t pid, pid_t tid) {
    std::string text;
    int errnoValue = 0;
    std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/wchan";
    if (!tryReadFileAt(AT_FDCWD, path, text, errnoValue)) return {};
    return text;
}

bool readThreadPendingSignals(pid_t pid, pid_t tid, uint64_t& pending) {
    std::string text;
    if (!readThreadStatus(pid, tid, text)) return false;
    std::string field = statusField(text, "SigPnd");
    if (field.empty()) return false;
    pending = std::strtoull(field.c_str(), nullptr, 16);
    return true;
}

int requeueSignal(pid_t pid, pid_t tid, const siginfo_t& info) {
    siginfo_t copy = info;
    if (::syscall(SYS_rt_tgsigqueueinfo, pid, tid, info.si_signo, &copy) == 0) return 0;
    if (::syscall(SYS_tgkill, pid, tid, info.si_signo) == 0) return 0;
    return errno;
}

int killProcess(pid_t pid, int signal) { return ::kill(pid, signal) == 0 ? 0 : errno; }

int tryWriteMemory(int memFd, uint64_t address, const void* data, size_t size) {
    const char* cursor = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t written = ::pwrite(memFd, cursor, size, static_cast<off_t>(address));
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return written < 0 ? errno : EIO;
        cursor += written;
        address += static_cast<uint64_t>(written);
        size -= static_cast<size_t>(written);
    }
    return 0;
}

int tryReadMemory(int memFd, uint64_t address, void* data, size_t size) {
    char* cursor = static_cast<char*>(data);
    while (size > 0) {
        ssize_t got = ::pread(memFd, cursor, size, static_cast<off_t>(address));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return got < 0 ? errno : EIO;
        cursor += got;
        address += static_cast<uint64_t>(got);
        size -= static_cast<size_t>(got);
    }
    return 0;
}

}  // namespace lockcr::sys
