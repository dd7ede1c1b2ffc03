// POSIX lock injection into real processes: every case checks what the kernel says afterwards
// (/proc/locks, F_GETLK from the test process, what the target's own syscalls returned), not only
// what injectLockCalls answered.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "agent.h"
#include "child_process.h"
#include "injection_fixtures.h"
#include "kernel_truth.h"
#include "replay/inject.h"
#include "replay/tracee.h"
#include "temp_directory.h"
#include "test_cgroup.h"
#include "util/error.h"
#include "wait_until.h"

using namespace lockcr;
using namespace lockcr::test;

// How long a call that must give up or refuse at once may take before the test calls it blocked:
// far above any load, far below ctest's TIMEOUT.
constexpr auto kGiveUpBound = std::chrono::seconds(30);

TEST_CASE("a child sleeping in nanosleep gets a POSIX write lock and sleeps on") {
    TempDirectory directory;
    std::string path = directory.file("data");
    { std::ofstream(path) << "x"; }
    Child child(sleeper(path));
    int fd = startSleeping(child);

    {
        StoppedProcess process = stopProcess(child.pid());
        CHECK(process.injectionThread() == child.pid());
        InjectionResult result = injectLockCalls(process, {{fd, F_WRLCK, 0, 100}});
        CHECK(result.applied == 1);
        CHECK(result.firstError == 0);
        CHECK(posixHolder(path, F_RDLCK, 0, 100) == child.pid());
        process.detach();
    }
    CHECK(posixHolder(path, F_RDLCK, 50, 1) == child.pid());
    CHECK(posixHolder(path, F_WRLCK, 100, 10) == 0);
    CHECK(procLocksShows(inodeOf(path), child.pid(), 1));
    checkSleptThrough(child);
}

TEST_CASE("a thread interrupted in user code, away from any syscall instruction") {
    TempDirectory directory;
    std::string path = directory.file("data");
    { std::ofstream(path) << "x"; }
    struct Case {
        const char* name;
        bool withoutVdso;
    };
    const Case cases[] = {
        {"the syscall instruction comes from the [vdso]", false},
        {"no [vdso]: an instruction is borrowed from a code page and put back", true},
    };
    for (const Case& each : cases) {
        CAPTURE(each.name);
        Child child(spinner(path, each.withoutVdso));
        int fd = -1;
        REQUIRE(child.read(fd));
        waitUntilSpinning(child.pid());
        bool hasVdso = true;
        uint64_t code = firstCodeMapping(child.pid(), hasVdso);
        REQUIRE(hasVdso == !each.withoutVdso);
        REQUIRE(code != 0);
        std::string before = targetMemory(child.pid(), code, 64);
        REQUIRE(before.size() == 64);
        {
            StoppedProcess process = stopProcess(child.pid());
            CHECK(injectLockCalls(process, {{fd, F_WRLCK, 0, 0}}).applied == 1);
        }
        CHECK(targetMemory(child.pid(), code, 64) == before);
        CHECK(posixHolder(path, F_WRLCK, 0, 1) == child.pid());
        checkSpunThrough(child);
    }
}

TEST_CASE("every thread of a multi-threaded static process is held; the lock lands on the process") {
    AgentScene scene;
    Agent& agent = scene.agent;
    const std::string& path = scene.path;
    int fd = scene.fd;
    REQUIRE(agent.call("threads 3") == "ok");
    {
        StoppedProcess process = stopProcess(agent.pid());
        CHECK(process.threadIds().size() == 4);
        CHECK(process.injectionThread() == agent.pid());
        InjectionResult result = injectLockCalls(process, {{fd, F_WRLCK, 10, 0}, {fd, F_RDLCK, 0, 5}});
        CHECK(result.applied == 2);
        CHECK(result.firstError == 0);
    }                                                           // the destructor detaches
    CHECK(posixHolder(path, F_RDLCK, 1000, 1) == agent.pid());  // [10, EOF) write
    CHECK(posixHolder(path, F_WRLCK, 0, 5) == agent.pid());     // [0, 5) read
    CHECK(posixHolder(path, F_RDLCK, 0, 5) == 0);
    CHECK(procLocksShows(inodeOf(path), agent.pid(), 2));
    CHECK(agent.call("pid") == "ok " + std::to_string(agent.pid()));
}

TEST_CASE("a static process blocked in F_SETLKW waits again after injection and later gets its lock") {
    AgentScene scene;  // the waiter
    LockHolder holder(scene.path, "0 10");
    scene.agent.send("posix " + std::to_string(scene.fd) + " w 0 10 wait");
    uint64_t inode = inodeOf(scene.path);
    REQUIRE(procLocksShows(inode, scene.agent.pid(), 1, true));

    {
        StoppedProcess process = stopProcess(scene.agent.pid());
        InjectionResult result = injectLockCalls(process, {{scene.fd, F_WRLCK, 100, 10}});
        CHECK(result.applied == 1);
        CHECK(result.firstError == 0);
        process.detach();
    }
    CHECK(posixHolder(scene.path, F_RDLCK, 100, 10) == scene.agent.pid());
    // Back in F_SETLKW: a waiter again, not an EINTR reply.
    CHECK(procLocksShows(inode, scene.agent.pid(), 1, true));
    CHECK_FALSE(scene.agent.reply(200).has_value());

    REQUIRE(holder.call("u 0 10") == "ok");
    std::optional<std::string> reply = scene.agent.reply(5000);
    REQUIRE(reply.has_value());
    CHECK(*reply == "ok");
    CHECK(posixHolder(scene.path, F_RDLCK, 0, 10) == scene.agent.pid());
    CHECK(posixHolder(scene.path, F_RDLCK, 100, 10) == scene.agent.pid());
}

TEST_CASE("a static process in nanosleep goes back to sleep after injection") {
    AgentScene scene;
    Agent& agent = scene.agent;
    const std::string& path = scene.path;
    int fd = scene.fd;
    agent.send("sleep");
    REQUIRE(waitUntil([&] { return isSleepSyscall(currentSyscall(agent.pid())); }));
    {
        StoppedProcess process = stopProcess(agent.pid());
        CHECK(injectLockCalls(process, {{fd, F_WRLCK, 0, 1}}).applied == 1);
    }
    CHECK(posixHolder(path, F_WRLCK, 0, 1) == agent.pid());
    CHECK_FALSE(agent.reply(300).has_value());  // an interrupted sleep would answer "err EINTR"
    CHECK(isSleepSyscall(currentSyscall(agent.pid())));
}

TEST_CASE("2000 POSIX locks in one injection") {
    AgentScene scene;
    Agent& agent = scene.agent;
    const std::string& path = scene.path;
    int fd = scene.fd;
    constexpr size_t kLocks = 2000;
    std::vector<LockCall> requests;
    // One byte every other byte: same-owner neighbours would merge into one lock.
    for (size_t i = 0; i < kLocks; ++i) requests.push_back({fd, F_WRLCK, 2 * i, 1});

    auto start = std::chrono::steady_clock::now();
    StoppedProcess process = StoppedProcess::seizeAndInterrupt(agent.pid());
    process.waitUntilStopped(kStopTimeout);
    auto stopped = std::chrono::steady_clock::now();
    InjectionResult result = injectLockCalls(process, requests);
    double injectSeconds = secondsSince(stopped);
    process.detach();
    double totalSeconds = secondsSince(start);

    CHECK(result.applied == kLocks);
    CHECK(result.firstError == 0);
    CHECK(fdinfoLocks(agent.pid(), fd) == kLocks);
    CHECK(procLocksShows(inodeOf(path), agent.pid(), kLocks));
    CHECK(posixHolder(path, F_RDLCK, 2 * 1234, 1) == agent.pid());
    CHECK(posixHolder(path, F_RDLCK, 2 * 1234 + 1, 1) == 0);
    CHECK(agent.call("pid") == "ok " + std::to_string(agent.pid()));

    // The same F_SETLKs made by a process itself: the kernel's share of the cost (its POSIX lock
    // list per inode makes n disjoint locks on one file cost O(n^2)).
    std::string ownPath = scene.directory.file("own");
    UniqueFd own(open(ownPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    double ownSeconds = lockEveryOtherByte(own.get(), kLocks);

    // The fixed cost of one injection: one more lock.
    StoppedProcess again = stopProcess(agent.pid());
    auto oneStart = std::chrono::steady_clock::now();
    CHECK(injectLockCalls(again, {{fd, F_WRLCK, 100000, 1}}).applied == 1);
    double oneSeconds = secondsSince(oneStart);
    CHECK(injectLockCalls(again, {{fd, F_UNLCK, 0, 0}}).applied == 1);
    again.detach();
    CHECK(procLocksShows(inodeOf(path), agent.pid(), 0));

    char text[512];
    std::snprintf(text, sizeof text,
                  "2000 locks on one file: injection %.0f us (%.2f us/lock), seize+stop+inject+detach %.0f us; "
                  "the same 2000 fcntl calls made by a process itself: %.0f us; a one-lock injection: %.0f us",
                  injectSeconds * 1e6, injectSeconds * 1e6 / kLocks, totalSeconds * 1e6, ownSeconds * 1e6,
                  oneSeconds * 1e6);
    MESSAGE(text);
}

TEST_CASE("2000 POSIX locks over 20 files in one injection") {
    TempDirectory directory;
    Agent agent = Agent::spawn(agentBinary);
    std::vector<int> fds;
    std::vector<UniqueFd> own;
    for (int file = 0; file < 20; ++file) {
        std::string path = directory.file("data" + std::to_string(file));
        fds.push_back(openIn(agent, path));
        own.emplace_back(
            open(directory.file("own" + std::to_string(file)).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    }
    std::vector<LockCall> requests;
    for (int fd : fds)
        for (uint64_t i = 0; i < 100; ++i) requests.push_back({fd, F_WRLCK, 2 * i, 1});

    StoppedProcess process = stopProcess(agent.pid());
    auto start = std::chrono::steady_clock::now();
    InjectionResult result = injectLockCalls(process, requests);
    double injectSeconds = secondsSince(start);
    process.detach();
    CHECK(result.applied == requests.size());
    for (int file = 0; file < 20; ++file) {
        CHECK(fdinfoLocks(agent.pid(), fds[file]) == 100);
        CHECK(procLocksShows(inodeOf(directory.file("data" + std::to_string(file))), agent.pid(), 100));
    }

    double ownSeconds = 0;
    for (const UniqueFd& fd : own) ownSeconds += lockEveryOtherByte(fd.get(), 100);
    char text[256];
    std::snprintf(text, sizeof text,
                  "2000 locks over 20 files: injection %.0f us (%.2f us/lock); the same fcntl calls made by a "
                  "process itself: %.0f us",
                  injectSeconds * 1e6, injectSeconds * 1e6 / 2000, ownSeconds * 1e6);
    MESSAGE(text);
}

TEST_CASE("a conflicting request stops the injection with EAGAIN; earlier requests are set") {
    AgentScene scene;  // the target
    LockHolder holder(scene.path, "50 10");

    InjectionResult result;
    {
        StoppedProcess process = stopProcess(scene.agent.pid());
        int fd = scene.fd;
        result = injectLockCalls(
            process, {{fd, F_WRLCK, 0, 10}, {fd, F_RDLCK, 20, 10}, {fd, F_WRLCK, 50, 10}, {fd, F_WRLCK, 70, 10}});
    }
    CHECK(result.applied == 2);
    CHECK(result.firstError == EAGAIN);
    CHECK(posixHolder(scene.path, F_RDLCK, 0, 10) == scene.agent.pid());
    CHECK(posixHolder(scene.path, F_WRLCK, 20, 10) == scene.agent.pid());
    CHECK(posixHolder(scene.path, F_RDLCK, 50, 10) == holder.agent.pid());
    CHECK(posixHolder(scene.path, F_RDLCK, 70, 10) == 0);
    CHECK(procLocksShows(inodeOf(scene.path), scene.agent.pid(), 2));
    CHECK(scene.agent.call("pid") == "ok " + std::to_string(scene.agent.pid()));
}

TEST_CASE("frozen, seized, thawed: the replay barrier's order, and a pending signal arrives once") {
    AgentScene scene(true);

    scene.cgroup->freeze();
    StoppedProcess process = StoppedProcess::seizeAndInterrupt(scene.agent.pid());
    REQUIRE(kill(scene.agent.pid(), SIGUSR1) == 0);  // pending while frozen and stopped
    scene.cgroup->thaw();
    process.waitUntilStopped(kStopTimeout);
    CHECK(injectLockCalls(process, {{scene.fd, F_WRLCK, 0, 0}}).applied == 1);
    CHECK(posixHolder(scene.path, F_RDLCK, 0, 1) == scene.agent.pid());
    process.detach();

    CHECK(scene.agent.call("sigcount USR1") == "ok 1");
    CHECK(posixHolder(scene.path, F_RDLCK, 0, 1) == scene.agent.pid());
}

TEST_CASE("a process that does not stop in time: waitUntilStopped gives up, and can be called again") {
    AgentScene scene(true);

    scene.cgroup->freeze();
    StoppedProcess process = StoppedProcess::seizeAndInterrupt(scene.agent.pid());
    // Gives up, with ETIMEDOUT: waited for with a bound (not timed: load makes any figure flaky).
    // Past the bound, the thaw lets the stop come so that the wait ends and the test can go on.
    auto giveUp = std::async(std::launch::async, [&] {
        try {
            process.waitUntilStopped(std::chrono::milliseconds(200));
            return 0;
        } catch (const Error& error) {
            return error.errnoValue();
        }
    });
    bool gaveUp = giveUp.wait_for(kGiveUpBound) == std::future_status::ready;
    CHECK_MESSAGE(gaveUp, "waitUntilStopped(200 ms) still waits after the bound");
    scene.cgroup->thaw();
    CHECK_MESSAGE(giveUp.get() == ETIMEDOUT, "a frozen process reported a ptrace stop (or another error)");
    process.waitUntilStopped(kStopTimeout);
    CHECK(injectLockCalls(process, {{scene.fd, F_RDLCK, 0, 0}}).applied == 1);
    process.detach();
    CHECK(posixHolder(scene.path, F_WRLCK, 0, 1) == scene.agent.pid());
    CHECK(scene.agent.call("pid") == "ok " + std::to_string(scene.agent.pid()));
}

TEST_CASE(
    "a process stopped by SIGSTOP in a frozen cgroup: refused (EAGAIN) instead of blocking; "
    "after the thaw it is seized, injected and left stopped") {
    AgentScene scene(true);
    auto state = [&] {
        std::ifstream status("/proc/" + std::to_string(scene.agent.pid()) + "/status");
        for (std::string line; std::getline(status, line);)
            if (line.rfind("State:", 0) == 0) return line.substr(line.find_first_not_of(" \t", 6), 1);
        return std::string();
    };
    REQUIRE(kill(scene.agent.pid(), SIGSTOP) == 0);
    REQUIRE(waitUntil([&] { return state() == "T"; }));
    scene.cgroup->freeze();

    // Refused instead of blocking: waited for with a bound, past which the thaw unblocks it.
    auto refusal = std::async(std::launch::async, [&] {
        try {
            StoppedProcess::seizeAndInterrupt(scene.agent.pid());
            return 0;
        } catch (const Error& error) {
            return error.errnoValue();
        }
    });
    bool refused = refusal.wait_for(kGiveUpBound) == std::future_status::ready;
    CHECK_MESSAGE(refused, "seizeAndInterrupt of a stopped task in a frozen cgroup blocks");
    if (!refused) scene.cgroup->thaw();
    CHECK_MESSAGE(refusal.get() == EAGAIN, "seized a stopped task in a frozen cgroup (or another error)");
    scene.cgroup->thaw();
    CHECK(state() == "T");

    {
        StoppedProcess process = stopProcess(scene.agent.pid());
        CHECK(injectLockCalls(process, {{scene.fd, F_WRLCK, 0, 0}}).applied == 1);
    }
    CHECK(posixHolder(scene.path, F_RDLCK, 0, 1) == scene.agent.pid());
    CHECK(waitUntil([&] { return state() == "T"; }));  // the group stop holds after detach
    CHECK_FALSE(scene.agent.reply(100).has_value());
    REQUIRE(kill(scene.agent.pid(), SIGCONT) == 0);
    CHECK(scene.agent.call("pid") == "ok " + std::to_string(scene.agent.pid()));
}

volatile sig_atomic_t realtimeSignals = 0;

TEST_CASE("signals sent while processes are seized are delivered exactly once") {
    // Real-time signals queue instead of merging, so the handler count must equal the number sent,
    // whether a signal waited in the queue, was caught in a signal-delivery-stop by the seize and
    // handed back at detach, or arrived during the injection.
    TempDirectory directory;
    std::string path = directory.file("data");
    { std::ofstream(path) << "x"; }
    Child child([path](int report, int) {
        int fd = open(path.c_str(), O_RDWR);
        struct sigaction counting {};
        counting.sa_handler = [](int) { realtimeSignals = realtimeSignals + 1; };
        counting.sa_flags = SA_RESTART;
        sigaction(SIGRTMIN + 1, &counting, nullptr);
        struct sigaction stopping {};
        stopping.sa_handler = [](int) { stopSpinning = 1; };
        sigaction(SIGUSR1, &stopping, nullptr);
        if (write(report, &fd, sizeof fd) != sizeof fd) _exit(1);
        while (!stopSpinning) {}
        int count = realtimeSignals;
        if (write(report, &count, sizeof count) != sizeof count) _exit(1);
    });
    int fd = -1;
    REQUIRE(child.read(fd));
    constexpr int kRounds = 200;
    for (int round = 0; round < kRounds; ++round) {
        REQUIRE(kill(child.pid(), SIGRTMIN + 1) == 0);
        StoppedProcess process = StoppedProcess::seizeAndInterrupt(child.pid());
        process.waitUntilStopped(kStopTimeout);
        short type = round % 2 ? F_UNLCK : F_WRLCK;
        REQUIRE(injectLockCalls(process, {{fd, type, 0, 0}}).applied == 1);
        process.detach();
    }
    CHECK(posixHolder(path, F_WRLCK, 0, 1) == 0);  // the last round unlocked
    REQUIRE(waitUntil([&] {
        std::ifstream status("/proc/" + std::to_string(child.pid()) + "/status");
        for (std::string line; std::getline(status, line);)
            if (line.rfind("ShdPnd:", 0) == 0 || line.rfind("SigPnd:", 0) == 0)
                if (line.find_first_not_of("0", line.find_first_not_of(" \t", 7)) != std::string::npos) return false;
        return true;
    }));
    REQUIRE(kill(child.pid(), SIGUSR1) == 0);
    int delivered = 0;
    REQUIRE(child.read(delivered));
    CHECK(delivered == kRounds);
}

TEST_CASE("seccomp refusing mmap: the injection fails, the target is left as it was") {
    TempDirectory directory;
    std::string path = directory.file("data");
    { std::ofstream(path) << "x"; }

    SUBCASE("SECCOMP_RET_ERRNO") {
        Child child(sleeper(path, static_cast<int>(SECCOMP_RET_ERRNO | EPERM)));
        int fd = startSleeping(child);
        {
            StoppedProcess process = stopProcess(child.pid());
            try {
                injectLockCalls(process, {{fd, F_WRLCK, 0, 1}});
                FAIL("the injection succeeded through a filter that refuses mmap");
            } catch (const Error& error) {
                CHECK(error.errnoValue() == EPERM);
                MESSAGE(std::string(error.what()));
            }
        }
        CHECK(posixHolder(path, F_WRLCK, 0, 1) == 0);
        checkSleptThrough(child);
    }
    SUBCASE("SECCOMP_RET_TRAP: the SIGSYS it raises never reaches the process") {
        Child child(sleeper(path, static_cast<int>(SECCOMP_RET_TRAP)));
        int fd = startSleeping(child);
        {
            StoppedProcess process = stopProcess(child.pid());
            CHECK_THROWS_AS(injectLockCalls(process, {{fd, F_WRLCK, 0, 1}}), Error);
        }
        CHECK(posixHolder(path, F_WRLCK, 0, 1) == 0);
        checkSleptThrough(child);
    }
}

TEST_CASE("a process already traced cannot be seized (as while CRIU holds it): EPERM, tracer named") {
    Agent agent = Agent::spawn(agentBinary);
    StoppedProcess first = StoppedProcess::seizeAndInterrupt(agent.pid());
    try {
        StoppedProcess::seizeAndInterrupt(agent.pid());
        FAIL("seized twice");
    } catch (const Error& error) {
        CHECK(error.errnoValue() == EPERM);
        CHECK(std::string(error.what()).find("traced by pid " + std::to_string(getpid())) != std::string::npos);
    }
    first.waitUntilStopped(kStopTimeout);
    first.detach();
    CHECK(agent.call("pid") == "ok " + std::to_string(agent.pid()));
}

TEST_CASE("seizing a process that does not exist fails with ESRCH") {
    Child child([](int, int) {});
    int status = 0;
    REQUIRE(waitpid(child.pid(), &status, 0) == child.pid());
    try {
        StoppedProcess::seizeAndInterrupt(child.pid());
        FAIL("seized a reaped process");
    } catch (const Error& error) {
        CHECK(error.errnoValue() == ESRCH);
    }
}

// An injection that fails inside the lock loop, after some calls took effect, tells the caller
// how many may have (FailedAfterLoop): replay rolls back only what it is told of.
TEST_CASE("a lock call trapped by seccomp mid-loop leaves no unreported lock behind") {
    TempDirectory directory;
    std::string path = directory.file("data");
    { std::ofstream(path) << "x"; }
    int ready[2];
    REQUIRE(pipe(ready) == 0);
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        int fd = open(path.c_str(), O_RDWR);
        sock_filter filter[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_flock, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0)
            fd = -1;
        if (write(ready[1], &fd, sizeof fd) != sizeof fd) _exit(1);
        for (;;) pause();
    }
    close(ready[1]);
    int fd = -1;
    REQUIRE(read(ready[0], &fd, sizeof fd) == sizeof fd);
    close(ready[0]);
    REQUIRE(fd >= 0);
    REQUIRE(waitUntil(
        [&] {
            std::ifstream file("/proc/" + std::to_string(child) + "/syscall");
            long number = -1;
            file >> number;
            return number == SYS_pause;
        },
        5000));

    bool reported = false;  // the POSIX call counted as (possibly) applied
    {
        StoppedProcess process = StoppedProcess::seizeAndInterrupt(child);
        process.waitUntilStopped(std::chrono::milliseconds(5000));
        std::vector<LockCall> calls{{fd, F_WRLCK, 0, 1, LockKind::posix}, {fd, F_WRLCK, 0, 0, LockKind::flock}};
        try {
            InjectionResult result = injectLockCalls(process, calls);
            reported = result.applied >= 1;
        } catch (const FailedAfterLoop& failure) {
            reported = failure.applied() >= 1;
        } catch (const Error& error) {
            MESSAGE("plain Error: " << error.what());
        }
    }
    pid_t holder = posixHolder(path, F_WRLCK, 0, 1);
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    // Either the caller was told the POSIX call took effect, or it did not take effect.
    CHECK_MESSAGE((reported || holder == 0),
                  "POSIX lock held by " << holder << " but injectLockCalls reported nothing applied");
}

TEST_CASE("injections together: every loop runs, a failure stays with its process, each says what it set") {
    TempDirectory directory;
    std::vector<Agent> agents;
    std::vector<std::string> paths;
    std::vector<int> fds;
    for (int i = 0; i < 3; ++i) {
        agents.push_back(Agent::spawn(agentBinary));
        paths.push_back(directory.file("data" + std::to_string(i)));
        fds.push_back(openIn(agents.back(), paths.back()));
    }
    LockHolder holder(paths[1], "50 10");  // the second process meets a conflict at its third call
    std::vector<StoppedProcess> processes;
    for (const Agent& agent : agents) processes.push_back(stopProcess(agent.pid()));
    std::vector<InjectionJob> jobs(3);
    for (size_t i = 0; i < 3; ++i) {
        jobs[i].process = &processes[i];
        for (uint64_t n = 0; n < 500; ++n) jobs[i].calls.push_back({fds[i], F_WRLCK, 100 + 2 * n, 1});
    }
    jobs[1].calls.insert(jobs[1].calls.begin(),
                         {{fds[1], F_WRLCK, 0, 10}, {fds[1], F_RDLCK, 20, 10}, {fds[1], F_WRLCK, 50, 10}});

    injectLockCallsTogether(jobs);
    for (StoppedProcess& process : processes) process.detach();

    for (size_t i : {0, 2}) {
        CHECK(jobs[i].started);
        CHECK_FALSE(jobs[i].failure);
        CHECK(jobs[i].result.applied == 500);
        CHECK(jobs[i].result.firstError == 0);
        CHECK(fdinfoLocks(agents[i].pid(), fds[i]) == 500);
        CHECK(procLocksShows(inodeOf(paths[i]), agents[i].pid(), 500));
    }
    CHECK(jobs[1].result.applied == 2);
    CHECK(jobs[1].result.firstError == EAGAIN);
    CHECK(procLocksShows(inodeOf(paths[1]), agents[1].pid(), 2));
    CHECK(posixHolder(paths[1], F_RDLCK, 0, 10) == agents[1].pid());
    CHECK(posixHolder(paths[1], F_RDLCK, 50, 10) == holder.agent.pid());
    for (Agent& agent : agents) CHECK(agent.call("pid") == "ok " + std::to_string(agent.pid()));
}

TEST_CASE("injections together: a process that refuses the injection stops the later ones; the earlier one completes") {
    TempDirectory directory;
    std::string path = directory.file("data"), refusing = directory.file("refusing"), later = directory.file("later");
    { std::ofstream(refusing) << "x"; }
    Agent first = Agent::spawn(agentBinary), last = Agent::spawn(agentBinary);
    int firstFd = openIn(first, path), lastFd = openIn(last, later);
    Child child(sleeper(refusing, static_cast<int>(SECCOMP_RET_ERRNO | EPERM)));
    int childFd = startSleeping(child);
    std::vector<StoppedProcess> processes;
    processes.push_back(stopProcess(first.pid()));
    processes.push_back(stopProcess(child.pid()));
    processes.push_back(stopProcess(last.pid()));
    std::vector<InjectionJob> jobs(3);
    jobs[0] = {&processes[0], {{firstFd, F_WRLCK, 0, 1}, {firstFd, F_RDLCK, 10, 1}}};
    jobs[1] = {&processes[1], {{childFd, F_WRLCK, 0, 1}}};
    jobs[2] = {&processes[2], {{lastFd, F_WRLCK, 0, 1}}};

    injectLockCallsTogether(jobs);
    for (StoppedProcess& process : processes) process.detach();

    CHECK(jobs[0].started);
    CHECK_FALSE(jobs[0].failure);
    CHECK(jobs[0].result.applied == 2);
    CHECK(procLocksShows(inodeOf(path), first.pid(), 2));
    REQUIRE(jobs[1].failure);
    try {
        std::rethrow_exception(jobs[1].failure);
    } catch (const FailedAfterLoop&) {
        FAIL("mmap was refused: no call can have been made");
    } catch (const Error& error) {
        CHECK(error.errnoValue() == EPERM);
    }
    CHECK(posixHolder(refusing, F_WRLCK, 0, 1) == 0);
    checkSleptThrough(child);
    CHECK_FALSE(jobs[2].started);
    CHECK(posixHolder(later, F_WRLCK, 0, 1) == 0);
    CHECK(first.call("pid") == "ok " + std::to_string(first.pid()));
    CHECK(last.call("pid") == "ok " + std::to_string(last.pid()));
}
