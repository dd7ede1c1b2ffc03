// Children of the test process for the injection tests: a sleeper in nanosleep and a spinner in
// user code (with or without its [vdso]), each reporting through a pipe how its own syscalls and
// registers came through an injection. Every child is SIGKILLed and reaped when its Child goes.
#pragma once

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "injection_fixtures.h"
#include "util/unique_fd.h"
#include "wait_until.h"

namespace lockcr::test {

// What a forked child reports after its nanosleep.
struct SleepReport {
    int result;
    int error;
    long long elapsedNanoseconds;
    int sigsysCount;
};

inline volatile sig_atomic_t sigsysCount = 0;

// A child of the test process running BODY(reportFd, commandFd); SIGKILLed and reaped at the end.
class Child {
public:
    template <typename Body>
    explicit Child(Body body) {
        int report[2], command[2];
        REQUIRE(pipe2(report, O_CLOEXEC) == 0);
        REQUIRE(pipe2(command, O_CLOEXEC) == 0);
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            close(report[0]);
            close(command[1]);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            body(report[1], command[0]);
            _exit(0);
        }
        close(report[1]);
        close(command[0]);
        report_ = UniqueFd(report[0]);
        command_ = UniqueFd(command[1]);
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        kill(pid_, SIGKILL);
        while (waitpid(pid_, nullptr, __WALL) < 0 && errno == EINTR) {}
    }

    pid_t pid() const { return pid_; }

    template <typename T>
    bool read(T& value, int timeoutMs = 5000) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
        size_t done = 0;
        while (done < sizeof value) {
            int left = static_cast<int>(
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
                    .count());
            pollfd readable{report_.get(), POLLIN, 0};
            if (left <= 0 || poll(&readable, 1, left) <= 0) return false;
            ssize_t got = ::read(report_.get(), reinterpret_cast<char*>(&value) + done, sizeof value - done);
            if (got <= 0) return false;
            done += static_cast<size_t>(got);
        }
        return true;
    }

    // Sends a byte; the child echoes it if it runs.
    bool answers() {
        char sent = 'x', echoed = 0;
        return write(command_.get(), &sent, 1) == 1 && read(echoed) && echoed == sent;
    }

private:
    pid_t pid_ = -1;
    UniqueFd report_;
    UniqueFd command_;
};

// Child body: open PATH, report the fd, nanosleep 1.5 s, report how that went, then echo bytes.
inline auto sleeper(const std::string& path, int seccompAction = -1) {
    return [path, seccompAction](int report, int command) {
        int fd = open(path.c_str(), O_RDWR);
        if (seccompAction >= 0) {
            struct sigaction counting {};
            counting.sa_handler = [](int) { sigsysCount = sigsysCount + 1; };
            sigaction(SIGSYS, &counting, nullptr);
            sock_filter filter[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mmap, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, static_cast<unsigned>(seccompAction)),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            };
            sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
                syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0)
                fd = -1;
        }
        if (write(report, &fd, sizeof fd) != sizeof fd) _exit(1);
        timespec start{}, end{};
        clock_gettime(CLOCK_MONOTONIC, &start);
        timespec interval{1, 500000000};
        SleepReport result{};
        errno = 0;
        result.result = nanosleep(&interval, nullptr);
        result.error = result.result == 0 ? 0 : errno;
        clock_gettime(CLOCK_MONOTONIC, &end);
        result.elapsedNanoseconds = (end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec);
        result.sigsysCount = sigsysCount;
        if (write(report, &result, sizeof result) != sizeof result) _exit(1);
        char byte;
        while (::read(command, &byte, 1) == 1)
            if (write(report, &byte, 1) != 1) _exit(1);
    };
}

inline volatile sig_atomic_t stopSpinning = 0;
inline volatile int spinnerStarted = 0;
inline volatile int registersDiverged = 0;

// Counts until SIGUSR1. On x86_64 the loop carries every general register the code may use in
// lock step and checks them each round: a register that an injection did not put back exactly
// shows as registersDiverged.
inline unsigned long long spinUntilStopped() {
    spinnerStarted = 1;
#if defined(__x86_64__)
    unsigned long long rounds = 0;
    asm volatile(R"(
        xor %%ebx, %%ebx
        xor %%ecx, %%ecx
        xor %%edx, %%edx
        xor %%esi, %%esi
        xor %%edi, %%edi
        xor %%r8d, %%r8d
        xor %%r9d, %%r9d
        xor %%r10d, %%r10d
        xor %%r11d, %%r11d
        xor %%r12d, %%r12d
        xor %%r13d, %%r13d
        xor %%r14d, %%r14d
        xor %%r15d, %%r15d
    1:  inc %%rax
        inc %%rbx
        inc %%rcx
        inc %%rdx
        inc %%rsi
        inc %%rdi
        inc %%r8
        inc %%r9
        inc %%r10
        inc %%r11
        inc %%r12
        inc %%r13
        inc %%r14
        inc %%r15
        cmp %%rax, %%rbx; jne 2f
        cmp %%rax, %%rcx; jne 2f
        cmp %%rax, %%rdx; jne 2f
        cmp %%rax, %%rsi; jne 2f
        cmp %%rax, %%rdi; jne 2f
        cmp %%rax, %%r8;  jne 2f
        cmp %%rax, %%r9;  jne 2f
        cmp %%rax, %%r10; jne 2f
        cmp %%rax, %%r11; jne 2f
        cmp %%rax, %%r12; jne 2f
        cmp %%rax, %%r13; jne 2f
        cmp %%rax, %%r14; jne 2f
        cmp %%rax, %%r15; jne 2f
        cmpl $0, %1
        je 1b
        jmp 3f
    2:  movl $1, %2
    3:
    )"
                 : "+a"(rounds)
                 : "m"(stopSpinning), "m"(registersDiverged)
                 : "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "cc",
                   "memory");
    return rounds;
#else
    unsigned long long rounds = 0;
    while (!stopSpinning) rounds = rounds + 1;
    return rounds;
#endif
}

// Child body: open PATH (and unmap its own [vdso] if asked), report the fd, spin in user code
// until SIGUSR1, report how many rounds it spun. No vdso function is called after the unmap.
inline auto spinner(const std::string& path, bool withoutVdso) {
    return [path, withoutVdso](int report, int) {
        int fd = open(path.c_str(), O_RDWR);
        if (withoutVdso) {
            // A seq_file: each read gives at most a page, and [vdso] is near the end.
            static char maps[1 << 20];
            int mapsFd = open("/proc/self/maps", O_RDONLY);
            size_t size = 0;
            for (ssize_t got;
                 size < sizeof maps - 1 && (got = ::read(mapsFd, maps + size, sizeof maps - 1 - size)) > 0;)
                size += static_cast<size_t>(got);
            maps[size] = '\0';
            for (char* line = maps; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : nullptr) {
                unsigned long start = 0, end = 0;
                char* newline = strchr(line, '\n');
                std::string text(line, newline ? static_cast<size_t>(newline - line) : strlen(line));
                if (text.find("[vdso]") != std::string::npos && sscanf(line, "%lx-%lx", &start, &end) == 2)
                    munmap(reinterpret_cast<void*>(start), end - start);
            }
        }
        struct sigaction stopping {};
        stopping.sa_handler = [](int) { stopSpinning = 1; };
        sigaction(SIGUSR1, &stopping, nullptr);
        if (write(report, &fd, sizeof fd) != sizeof fd) _exit(1);
        unsigned long long rounds = spinUntilStopped();
        unsigned long long answer[2] = {rounds, static_cast<unsigned long long>(registersDiverged)};
        if (write(report, answer, sizeof answer) != sizeof answer) _exit(1);
    };
}

// Bytes of the target's memory as the kernel has them.
inline std::string targetMemory(pid_t pid, uint64_t address, size_t size) {
    UniqueFd memory(open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC));
    std::string bytes(size, '\0');
    if (!memory || pread(memory.get(), bytes.data(), size, static_cast<off_t>(address)) != static_cast<ssize_t>(size))
        return {};
    return bytes;
}

// Start of the first private code mapping and whether [vdso] is mapped, from /proc/PID/maps.
inline uint64_t firstCodeMapping(pid_t pid, bool& hasVdso) {
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    uint64_t first = 0;
    hasVdso = false;
    for (std::string line; std::getline(maps, line);) {
        if (line.find("[vdso]") != std::string::npos) hasVdso = true;
        unsigned long long start = 0;
        char permissions[8] = {};
        if (!first && sscanf(line.c_str(), "%llx-%*x %7s", &start, permissions) == 2 &&
            std::string(permissions) == "r-xp" && line.find("[vsyscall]") == std::string::npos)
            first = start;
    }
    return first;
}

// Returns once the spinner child is in its loop (its own memory says so: no syscall to ask).
inline void waitUntilSpinning(pid_t pid) {
    std::string started(sizeof spinnerStarted, '\0');
    started[0] = 1;
    REQUIRE(waitUntil([&] {
        return targetMemory(pid, reinterpret_cast<uint64_t>(&spinnerStarted), sizeof spinnerStarted) == started;
    }));
}

// Stops the spinner; it must have counted, with its registers in lock step all along.
inline void checkSpunThrough(Child& child) {
    REQUIRE(kill(child.pid(), SIGUSR1) == 0);
    unsigned long long answer[2] = {0, 1};
    REQUIRE(child.read(answer));
    CHECK(answer[0] > 0);
    CHECK(answer[1] == 0);
}

// Starts a sleeper child on PATH and returns once it sits in nanosleep.
inline int startSleeping(Child& child) {
    int fd = -1;
    REQUIRE(child.read(fd));
    REQUIRE(fd >= 0);
    REQUIRE(waitUntil([&] { return isSleepSyscall(currentSyscall(child.pid())); }, 5000));
    return fd;
}

inline void checkSleptThrough(Child& child) {
    SleepReport report{};
    REQUIRE(child.read(report, 30000));  // a bound, not a timing check: load only makes it later
    CHECK(report.result == 0);           // not -1 with EINTR (or errno 516: a restart not fixed up)
    CHECK(report.error == 0);
    // A completed nanosleep never returns early on CLOCK_MONOTONIC: slept through, not cut short.
    // (No upper limit: under sanitizers and load a later end says nothing about lockcr.)
    CHECK(report.elapsedNanoseconds >= 1500000000LL);
    CHECK(report.sigsysCount == 0);
    CHECK(child.answers());
}

}  // namespace lockcr::test
