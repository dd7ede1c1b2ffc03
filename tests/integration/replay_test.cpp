// Replay against real processes: a lock is recorded, lost, and put back by `lockcr replay`; every
// check is kernel truth (F_GETLK, F_OFD_GETLK, flock probes, /proc/locks, the waiter's own result).
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <chrono>
#include <thread>

#include "agent.h"
#include "kernel_truth.h"
#include "run_lockcr.h"
#include "scene.h"
#include "wait_until.h"

using namespace lockcr::test;

namespace {

// A scene with a lock image and the lockcr commands that use it.
struct ReplayScene : Scene {
    std::string image = directory.file("image.json");

    void dump() {
        CommandResult result = runLockcr({"dump", "--pid", pid(), "-o", image});
        REQUIRE_MESSAGE(result.status == 0, result.err);
    }
    CommandResult replay(std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"replay", image, "--pid", pid()};
        args.insert(args.end(), extra.begin(), extra.end());
        return runLockcr(args);
    }
    CommandResult verify() { return runLockcr({"verify", image, "--pid", pid()}); }
};

std::string fdText(int fd) { return std::to_string(fd); }

bool hasWaiterLine(const std::string& file, pid_t pid) {
    for (const std::string& line : procLocksLinesForInode(inodeOf(file)))
        if (line.find("->") != std::string::npos &&
            (pid == 0 || line.find(" " + std::to_string(pid) + " ") != std::string::npos))
            return true;
    return false;
}

}  // namespace

TEST_CASE("replay: a lost POSIX lock comes back owned by its process") {
    ReplayScene scene;
    Agent& agent = scene.spawn();
    std::string file = scene.directory.file("posix");
    int fd = openIn(agent, file);
    REQUIRE(agent.call("posix " + fdText(fd) + " w 10 20") == "ok");
    REQUIRE(agent.call("posix " + fdText(fd) + " r 100 0") == "ok");
    scene.dump();
    REQUIRE(agent.call("posix " + fdText(fd) + " u 0 0") == "ok");
    REQUIRE(posixHolder(file, F_WRLCK, 0, 0) == 0);
    CHECK(scene.verify().status == 1);

    CommandResult result = scene.replay();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    CHECK(posixHolder(file, F_RDLCK, 10, 20) == agent.pid());
    CHECK(posixHolder(file, F_RDLCK, 30, 70) == 0);
    CHECK(posixHolder(file, F_WRLCK, 100, 1) == agent.pid());
    CHECK(posixHolder(file, F_RDLCK, 100, 1) == 0);  // a read lock there: readers are welcome
    CHECK(procLocksLinesForInode(inodeOf(file)).size() == 2);
    CHECK(scene.verify().status == 0);
    CHECK(agent.call("pid").rfind("ok", 0) == 0);  // it runs again
}

TEST_CASE("replay: flock, OFD lock and lease come back on the process's own description") {
    ReplayScene scene;
    Agent& agent = scene.spawn();
    std::string flockFile = scene.directory.file("flock"), ofdFile = scene.directory.file("ofd"),
                leaseFile = scene.directory.file("lease");
    int flockFd = openIn(agent, flockFile), ofdFd = openIn(agent, ofdFile);
    int creator = openIn(agent, leaseFile, "w");
    REQUIRE(agent.call("close " + fdText(creator)) == "ok");
    int leaseFd = openIn(agent, leaseFile, "r");
    REQUIRE(agent.call("flock " + fdText(flockFd) + " ex") == "ok");
    REQUIRE(agent.call("ofd " + fdText(ofdFd) + " w 5 10") == "ok");
    REQUIRE(agent.call("setown " + fdText(leaseFd) + " " + std::to_string(agent.pid())) == "ok");
    REQUIRE(agent.call("setsig " + fdText(leaseFd) + " USR2") == "ok");
    REQUIRE(agent.call("lease " + fdText(leaseFd) + " r") == "ok");
    scene.dump();
    REQUIRE(agent.call("flock " + fdText(flockFd) + " un") == "ok");
    REQUIRE(agent.call("ofd " + fdText(ofdFd) + " u 0 0") == "ok");
    REQUIRE(agent.call("lease " + fdText(leaseFd) + " u") == "ok");
    REQUIRE(agent.call("setsig " + fdText(leaseFd) + " 0") == "ok");
    REQUIRE_FALSE(flockWouldBlock(flockFile, LOCK_SH));

    CommandResult result = scene.replay();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    CHECK(flockWouldBlock(flockFile, LOCK_SH));
    CHECK(ofdConflict(ofdFile, F_RDLCK, 5, 1) == -1);
    CHECK(ofdConflict(ofdFile, F_RDLCK, 15, 1) == 0);
    CHECK(agent.call("getlease " + fdText(leaseFd)) == "ok r");
    CHECK(agent.call("getsig " + fdText(leaseFd)) == "ok " + std::to_string(SIGUSR2));
    // Set from inside the agent, the flock and the lease show its pid, as they did (what zdtm's
    // file_locks01 checks), not lockcr's.
    std::string agentPid = " " + std::to_string(agent.pid()) + " ";
    CHECK(procLocksLinesForInode(inodeOf(flockFile)).at(0).find("FLOCK  ADVISORY  WRITE" + agentPid) !=
          std::string::npos);
    CHECK(procLocksLinesForInode(inodeOf(leaseFile)).at(0).find("LEASE  ACTIVE    READ" + agentPid) !=
          std::string::npos);
    // The locks are the agent's: it can drop them itself through its own fds.
    REQUIRE(agent.call("flock " + fdText(flockFd) + " un") == "ok");
    CHECK_FALSE(flockWouldBlock(flockFile, LOCK_SH));
    REQUIRE(agent.call("ofd " + fdText(ofdFd) + " u 0 0") == "ok");
    CHECK(ofdConflict(ofdFile, F_WRLCK, 0, 0) == 0);
}

TEST_CASE("replay: a breaking lease comes back breaking, owned as before, with no second signal") {
    ReplayScene scene;
    Agent& agent = scene.spawn();
    std::string file = scene.directory.file("breaking");
    int creator = openIn(agent, file, "w");
    REQUIRE(agent.call("close " + fdText(creator)) == "ok");
    int fd = openIn(agent, file, "r");
    REQUIRE(agent.call("setown " + fdText(fd) + " " + std::to_string(agent.pid())) == "ok");
    REQUIRE(agent.call("setsig " + fdText(fd) + " USR1") == "ok");
    REQUIRE(agent.call("lease " + fdText(fd) + " r") == "ok");
    {
        lockcr::UniqueFd breaker(open(file.c_str(), O_WRONLY | O_NONBLOCK));  // starts the break
        REQUIRE_FALSE(breaker.valid());
        REQUIRE(errno == EWOULDBLOCK);
    }
    REQUIRE(procLocksLinesForInode(inodeOf(file)).at(0).find("BREAKING") != std::string::npos);
    scene.dump();
    REQUIRE(agent.call("lease " + fdText(fd) + " u") == "ok");
    REQUIRE(procLocksLinesForInode(inodeOf(file)).empty());
    long before = agent.callForNumber("sigcount USR1");

    CommandResult result = scene.replay();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    std::vector<std::string> lines = procLocksLinesForInode(inodeOf(file));
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("LEASE  BREAKING  UNLCK " + std::to_string(agent.pid()) + " ") != std::string::npos);
    CHECK(agent.call("getown " + fdText(fd)) == "ok pid " + std::to_string(agent.pid()));
    CHECK(agent.call("getsig " + fdText(fd)) == "ok " + std::to_string(SIGUSR1));
    // The agent had its signal when the lease first broke; the break replay starts again must not
    // signal it a second time (zdtm's file_lease tests call that a ghost signal).
    usleep(200 * 1000);
    CHECK(agent.callForNumber("sigcount USR1") == before);
}

TEST_CASE("replay: a description shared by two processes gets its lock once, seen through both") {
    ReplayScene scene;
    Agent& parent = scene.spawn();
    std::string file = scene.directory.file("shared");
    int fd = openIn(parent, file);
    REQUIRE(parent.call("flock " + fdText(fd) + " ex") == "ok");
    Agent child = parent.forkAgent();
    scene.dump();
    REQUIRE(child.call("flock " + fdText(fd) + " un") == "ok");  // drops it for the shared description
    REQUIRE_FALSE(flockWouldBlock(file, LOCK_SH));

    CommandResult result = scene.replay();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    CHECK(flockWouldBlock(file, LOCK_SH));
    CHECK(procLocksLinesForInode(inodeOf(file)).size() == 1);
    CHECK(fdinfoLockLines(parent.pid(), fd).size() == 1);
    CHECK(fdinfoLockLines(child.pid(), fd).size() == 1);
}

TEST_CASE("replay: a child's POSIX lock on an inherited fd goes back to the child") {
    ReplayScene scene;
    Agent& parent = scene.spawn();
    std::string file = scene.directory.file("inherited");
    int fd = openIn(parent, file);
    Agent child = parent.forkAgent();
    REQUIRE(child.call("posix " + fdText(fd) + " w 0 10") == "ok");
    scene.dump();
    REQUIRE(child.call("posix " + fdText(fd) + " u 0 0") == "ok");

    CommandResult result = scene.replay();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    CHECK(posixHolder(file, F_WRLCK, 0, 1) == child.pid());
    CHECK(fdinfoLockLines(parent.pid(), fd).empty());
}

TEST_CASE("replay: a multi-threaded owner gets its POSIX lock and all its threads run on") {
    ReplayScene scene;
    Agent& agent = scene.spawn();
    REQUIRE(agent.call("threads 4") == "ok");
    std::string file = scene.directory.file("threads");
    int fd = openIn(agent, file);
    REQUIRE(agent.call("posix " + fdText(fd) + " w 0 0") == "ok");
    scene.dump();
    REQUIRE(agent.call("posix " + fdText(fd) + " u 0 0") == "ok");

    CommandResult result = scene.replay();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    CHECK(posixHolder(file, F_WRLCK, 0, 1) == agent.pid());
    CHECK(agent.call("pid").rfind("ok", 0) == 0);
}

// The seed's scenario: P2 waits in F_SETLKW for L1 held by P1; P1's lock is lost while P2 is held
// out of the wait (SIGSTOP: the wait returns -ERESTARTSYS, as a freeze or checkpoint does); replay
// puts L1 back owned by P1; P2, let go, waits again; when P1 releases, P2's call returns 0.
static void seedScenario(const std::string& kind) {
    ReplayScene scene;
    Agent& p1 = scene.spawn();
    Agent& p2 = scene.spawn();
    std::string file = scene.directory.file("seed-" + kind);
    int fd1 = openIn(p1, file), fd2 = openIn(p2, file);
    std::string take = kind == "flock" ? "flock " + fdText(fd1) + " ex" : kind + " " + fdText(fd1) + " w 0 100";
    std::string wait = kind == "flock" ? "flock " + fdText(fd2) + " ex wait"
                                       : kind + " " + fdText(fd2) + " w 50 10 wait";
    std::string release = kind == "flock" ? "flock " + fdText(fd1) + " un" : kind + " " + fdText(fd1) + " u 0 0";
    REQUIRE(p1.call(take) == "ok");
    p2.send(wait);
    REQUIRE(waitUntil([&] { return hasWaiterLine(file, 0); }));
    scene.dump();

    kill(p2.pid(), SIGSTOP);
    REQUIRE(waitUntil([&] { return !hasWaiterLine(file, 0); }));
    REQUIRE(p1.call(release) == "ok");  // L1 is lost
    CHECK(procLocksLinesForInode(inodeOf(file)).empty());

    CommandResult result = scene.replay();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    CHECK(procLocksLinesForInode(inodeOf(file)).size() == 1);
    if (kind == "posix") CHECK(posixHolder(file, F_WRLCK, 0, 1) == p1.pid());

    kill(p2.pid(), SIGCONT);
    REQUIRE(waitUntil([&] { return hasWaiterLine(file, 0); }));  // waiting again, for P1's lock
    CHECK_FALSE(p2.reply(100).has_value());
    REQUIRE(p1.call(release) == "ok");
    std::optional<std::string> answer = p2.reply(5000);
    REQUIRE(answer.has_value());
    CHECK(*answer == "ok");  // 0, not EINTR
}

TEST_CASE("replay: seed scenario, POSIX waiter") { seedScenario("posix"); }
TEST_CASE("replay: seed scenario, flock waiter") { seedScenario("flock"); }
TEST_CASE("replay: seed scenario, OFD waiter") { seedScenario("ofd"); }

TEST_CASE("replay: a waiter frozen in F_SETLKW when replay starts keeps waiting and later gets 0") {
    ReplayScene scene;
    Agent& p1 = scene.spawn();
    Agent& p2 = scene.spawn();
    std::string file = scene.directory.file("frozen-waiter");
    int fd1 = openIn(p1, file), fd2 = openIn(p2, file);
    REQUIRE(p1.call("posix " + fdText(fd1) + " w 0 0") == "ok");
    p2.send("posix " + fdText(fd2) + " w 0 0 wait");
    REQUIRE(waitUntil([&] { return hasWaiterLine(file, p2.pid()); }));
    std::string other = scene.directory.file("other");
    int otherFd = openIn(p1, other);
    REQUIRE(p1.call("posix " + fdText(otherFd) + " w 0 0") == "ok");
    scene.dump();
    REQUIRE(p1.call("posix " + fdText(otherFd) + " u 0 0") == "ok");

    CommandResult result = scene.replay();  // injects into P1 while P2 sits in the barrier
    REQUIRE_MESSAGE(result.status == 0, result.err);
    CHECK(posixHolder(other, F_WRLCK, 0, 1) == p1.pid());
    REQUIRE(waitUntil([&] { return hasWaiterLine(file, p2.pid()); }));
    REQUIRE(p1.call("posix " + fdText(fd1) + " u 0 0") == "ok");
    std::optional<std::string> answer = p2.reply(5000);
    REQUIRE(answer.has_value());
    CHECK(*answer == "ok");
}

TEST_CASE("replay: an outside holder fails the replay at once, naming the holder; nothing is set") {
    ReplayScene scene;
    Agent& agent = scene.spawn();
    std::string free = scene.directory.file("free"), taken = scene.directory.file("taken");
    int freeFd = openIn(agent, free), takenFd = openIn(agent, taken);
    REQUIRE(agent.call("posix " + fdText(freeFd) + " w 0 0") == "ok");
    REQUIRE(agent.call("flock " + fdText(takenFd) + " ex") == "ok");
    scene.dump();
    REQUIRE(agent.call("posix " + fdText(freeFd) + " u 0 0") == "ok");
    REQUIRE(agent.call("flock " + fdText(takenFd) + " un") == "ok");
    Agent outsider = Agent::spawn(agentBinary);  // not in the cgroup: outside the container
    int outsideFd = openIn(outsider, taken);
    REQUIRE(outsider.call("flock " + fdText(outsideFd) + " sh") == "ok");

    CommandResult result = scene.replay();
    CHECK_FALSE(result.timedOut);  // fails, never hangs (runLockcr's bound)
    CHECK(result.status == 1);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK_MESSAGE(result.err.find(taken) != std::string::npos, result.err);
    CHECK_MESSAGE(result.err.find("pid " + std::to_string(outsider.pid()) + " (lockagent, outside the container)") !=
                      std::string::npos,
                  result.err);
    CHECK(posixHolder(free, F_WRLCK, 0, 1) == 0);  // all or nothing
    CHECK(agent.call("pid").rfind("ok", 0) == 0);
}

// A replay that must fail (a lock is held outside) with a recorded POSIX lock that would have been
// set: the scene for the --on-failure policies.
struct FailingReplayScene : ReplayScene {
    Agent& agent = spawn();
    std::string free = directory.file("free"), taken = directory.file("taken");
    Agent outsider = Agent::spawn(agentBinary);  // not in the cgroup: outside the container

    FailingReplayScene() {
        int freeFd = openIn(agent, free), takenFd = openIn(agent, taken);
        REQUIRE(agent.call("posix " + fdText(freeFd) + " w 0 0") == "ok");
        REQUIRE(agent.call("flock " + fdText(takenFd) + " ex") == "ok");
        dump();
        REQUIRE(agent.call("posix " + fdText(freeFd) + " u 0 0") == "ok");
        REQUIRE(agent.call("flock " + fdText(takenFd) + " un") == "ok");
        REQUIRE(outsider.call("flock " + fdText(openIn(outsider, taken)) + " sh") == "ok");
    }
};

// The line of /proc/PID/status that starts with KEY ("State:"); empty if the process is gone.
std::string statusLine(pid_t pid, const std::string& key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind(key, 0) == 0) return line;
    return "";
}

TEST_CASE("replay --on-failure freeze: the failed replay leaves the container frozen, nothing set") {
    FailingReplayScene scene;
    CommandResult result = scene.replay({"--on-failure", "freeze"});
    CHECK(result.status == 1);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK_MESSAGE(result.err.find(scene.taken) != std::string::npos, result.err);
    CHECK_MESSAGE(result.err.find("the container is left frozen") != std::string::npos, result.err);
    CHECK(scene.cgroup.state() == "FROZEN");
    CHECK(posixHolder(scene.free, F_WRLCK, 0, 1) == 0);                     // all or nothing
    CHECK(statusLine(scene.agent.pid(), "TracerPid:") == "TracerPid:\t0");  // frozen, not held by lockcr
    scene.cgroup.thaw();
    CHECK(scene.agent.call("pid") == "ok " + std::to_string(scene.agent.pid()));
}

TEST_CASE("replay --conflict wait --on-failure freeze: held frozen across attempts, left frozen at the end") {
    FailingReplayScene scene;
    CommandResult result = scene.replay({"--conflict", "wait", "--wait-timeout", "0.3", "--on-failure", "freeze"});
    CHECK(result.status == 1);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK_MESSAGE(result.err.find("still held after waiting 300 ms") != std::string::npos, result.err);
    CHECK_MESSAGE(result.err.find("the container is left frozen") != std::string::npos, result.err);
    CHECK(scene.cgroup.state() == "FROZEN");
    CHECK(posixHolder(scene.free, F_WRLCK, 0, 1) == 0);
    CHECK(statusLine(scene.agent.pid(), "TracerPid:") == "TracerPid:\t0");
    scene.cgroup.thaw();
    CHECK(scene.agent.call("pid") == "ok " + std::to_string(scene.agent.pid()));
}

TEST_CASE("replay --conflict wait --on-failure freeze: a holder that lets go meanwhile, and the container runs on") {
    FailingReplayScene scene;
    std::thread letGo([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        scene.outsider.stop();
    });
    CommandResult result = scene.replay({"--conflict", "wait", "--wait-timeout", "5", "--on-failure", "freeze"});
    letGo.join();
    CHECK_MESSAGE(result.status == 0, result.err);
    CHECK(scene.cgroup.state() == "THAWED");
    CHECK(posixHolder(scene.free, F_WRLCK, 0, 1) == scene.agent.pid());
    CHECK(scene.agent.call("pid") == "ok " + std::to_string(scene.agent.pid()));
}

TEST_CASE("replay --on-failure kill: the failed replay kills the container's processes") {
    FailingReplayScene scene;
    CommandResult result = scene.replay({"--on-failure", "kill"});
    CHECK(result.status == 1);
    CHECK_MESSAGE(result.err.find("its processes were killed") != std::string::npos, result.err);
    CHECK(waitUntil([&] {
        std::string state = statusLine(scene.agent.pid(), "State:");
        return state.empty() || state.find("Z (zombie)") != std::string::npos;
    }));
    CHECK(posixHolder(scene.free, F_WRLCK, 0, 1) == 0);
}

TEST_CASE("replay --on-failure freeze without the freezer is bad usage, and touches nothing") {
    FailingReplayScene scene;
    CommandResult result = scene.replay({"--on-failure", "freeze", "--no-freeze"});
    CHECK(result.status == 2);
    CHECK_MESSAGE(result.err.find("--on-failure freeze needs the container's cgroup freezer") != std::string::npos,
                  result.err);
    CHECK(scene.cgroup.state() == "THAWED");
    CHECK(scene.agent.call("pid") == "ok " + std::to_string(scene.agent.pid()));
    CHECK(runLockcr({"replay", scene.image, "--pid", scene.pid(), "--on-failure", "pause"}).status == 2);
}

TEST_CASE("replay: policy wait outlasts a holder that lets go, and gives up after its bound") {
    ReplayScene scene;
    Agent& agent = scene.spawn();
    std::string file = scene.directory.file("contended");
    int fd = openIn(agent, file);
    REQUIRE(agent.call("posix " + fdText(fd) + " w 0 0") == "ok");
    scene.dump();
    REQUIRE(agent.call("posix " + fdText(fd) + " u 0 0") == "ok");
    Agent outsider = Agent::spawn(agentBinary);
    int outsideFd = openIn(outsider, file);
    REQUIRE(outsider.call("posix " + fdText(outsideFd) + " r 0 1") == "ok");

    CommandResult bounded = scene.replay({"--conflict", "wait", "--wait-timeout", "0.3"});
    CHECK(bounded.status == 1);
    CHECK_MESSAGE(bounded.err.find("after waiting") != std::string::npos, bounded.err);
    CHECK(posixHolder(file, F_WRLCK, 5, 1) == 0);

    std::thread letGo([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        outsider.call("posix " + fdText(outsideFd) + " u 0 0");
    });
    CommandResult waited = scene.replay({"--conflict", "wait", "--wait-timeout", "10"});
    letGo.join();
    REQUIRE_MESSAGE(waited.status == 0, waited.err);
    CHECK(posixHolder(file, F_WRLCK, 0, 1) == agent.pid());
}

TEST_CASE("replay: when a later lock fails, the ones already set are released (rollback)") {
    ReplayScene scene;
    Agent& agent = scene.spawn();
    std::string a = scene.directory.file("a"), b = scene.directory.file("b"), c = scene.directory.file("c");
    int fa = openIn(agent, a), fb = openIn(agent, b), fc = openIn(agent, c);
    REQUIRE(agent.call("posix " + fdText(fa) + " w 0 0") == "ok");
    REQUIRE(agent.call("posix " + fdText(fb) + " w 0 0") == "ok");
    REQUIRE(agent.call("flock " + fdText(fc) + " ex") == "ok");
    scene.dump();
    for (auto command :
         {"posix " + fdText(fa) + " u 0 0", "posix " + fdText(fb) + " u 0 0", "flock " + fdText(fc) + " un"})
        REQUIRE(agent.call(command) == "ok");
    // Inside a process, replay makes its POSIX calls first and its flock and lease calls after them
    // (planCallsInside): with an outsider's flock on c, both POSIX locks on a and b are set before
    // the flock on c is refused, and the rollback must remove them.
    Agent outsider = Agent::spawn(agentBinary);
    int outsideFd = openIn(outsider, c);
    REQUIRE(outsider.call("flock " + fdText(outsideFd) + " sh") == "ok");

    CommandResult result = scene.replay();
    CHECK(result.status == 1);
    CHECK_MESSAGE(result.err.find(c) != std::string::npos, result.err);
    CHECK_MESSAGE(result.err.find("outside the container") != std::string::npos, result.err);
    // Kernel truth: the two POSIX locks that were set are gone again (F_GETLK and fdinfo), and c
    // has only the outsider's flock.
    CHECK(posixHolder(a, F_WRLCK, 0, 1) == 0);
    CHECK(posixHolder(b, F_WRLCK, 0, 1) == 0);
    CHECK(fdinfoLockLines(agent.pid(), fa).empty());
    CHECK(fdinfoLockLines(agent.pid(), fb).empty());
    CHECK(fdinfoLockLines(agent.pid(), fc).empty());
    CHECK(flockWouldBlock(c, LOCK_EX));
    CHECK(agent.call("pid").rfind("ok", 0) == 0);

    // Once the outsider lets go, the same image sets all three: the failed run's POSIX calls were
    // ones that succeed, so the first run did set them and took them back.
    REQUIRE(outsider.call("flock " + fdText(outsideFd) + " un") == "ok");
    CommandResult again = scene.replay();
    REQUIRE_MESSAGE(again.status == 0, again.err);
    CHECK(posixHolder(a, F_WRLCK, 0, 1) == agent.pid());
    CHECK(posixHolder(b, F_WRLCK, 0, 1) == agent.pid());
    CHECK(flockWouldBlock(c, LOCK_SH));
}

TEST_CASE("replay: a process failing among others whose locks were set at the same time: all are released") {
    ReplayScene scene;
    std::vector<Agent*> agents;
    std::vector<std::string> files;
    std::vector<int> fds;
    for (int i = 0; i < 3; ++i) {
        agents.push_back(&scene.spawn());
        files.push_back(scene.directory.file("f" + std::to_string(i)));
        fds.push_back(openIn(*agents.back(), files.back()));
        for (int n = 0; n < 50; ++n)
            REQUIRE(agents.back()->call("posix " + fdText(fds.back()) + " w " + std::to_string(2 * n) + " 1") == "ok");
    }
    scene.dump();
    for (int i = 0; i < 3; ++i) REQUIRE(agents[i]->call("posix " + fdText(fds[i]) + " u 0 0") == "ok");
    Agent outsider = Agent::spawn(agentBinary);
    int outsideFd = openIn(outsider, files[1]);
    REQUIRE(outsider.call("ofd " + fdText(outsideFd) + " r 60 1") == "ok");  // the middle process's last lock

    CommandResult result = scene.replay();
    CHECK(result.status == 1);
    CHECK_MESSAGE(result.err.find(files[1]) != std::string::npos, result.err);
    for (int i = 0; i < 3; ++i) {
        CHECK(fdinfoLockLines(agents[i]->pid(), fds[i]).empty());
        CHECK(posixHolder(files[i], F_WRLCK, 0, 1) == 0);
        CHECK(agents[i]->call("pid") == "ok " + std::to_string(agents[i]->pid()));
    }
}

TEST_CASE("replay: refuses to change a lock its owner already holds, and changes nothing") {
    ReplayScene scene;
    Agent& agent = scene.spawn();
    std::string posixFile = scene.directory.file("held-posix"), flockFile = scene.directory.file("held-flock");
    int posixFd = openIn(agent, posixFile), flockFd = openIn(agent, flockFile);
    REQUIRE(agent.call("posix " + fdText(posixFd) + " r 0 10") == "ok");
    REQUIRE(agent.call("flock " + fdText(flockFd) + " sh") == "ok");
    scene.dump();
    REQUIRE(agent.call("posix " + fdText(posixFd) + " w 0 100") == "ok");  // the process moved on: WRITE [0,99]
    CommandResult posix = scene.replay();
    CHECK(posix.status == 1);
    CHECK_MESSAGE(posix.err.find("refusing to change a lock its owner already holds") != std::string::npos, posix.err);
    CHECK(posixHolder(posixFile, F_RDLCK, 0, 1) == agent.pid());  // still WRITE over [0,99], not split
    CHECK(posixHolder(posixFile, F_RDLCK, 99, 1) == agent.pid());

    REQUIRE(agent.call("posix " + fdText(posixFd) + " r 0 10") == "ok");  // back as recorded ...
    REQUIRE(agent.call("posix " + fdText(posixFd) + " u 10 0") == "ok");
    REQUIRE(agent.call("flock " + fdText(flockFd) + " ex") == "ok");  // ... but the flock is now EX
    CommandResult flock = scene.replay();
    CHECK(flock.status == 1);
    CHECK(flockWouldBlock(flockFile, LOCK_SH));  // not silently downgraded to SH
}

TEST_CASE("replay: running it twice leaves the same locks and succeeds") {
    ReplayScene scene;
    Agent& agent = scene.spawn();
    std::string file = scene.directory.file("twice");
    int fd = openIn(agent, file);
    REQUIRE(agent.call("posix " + fdText(fd) + " w 0 9") == "ok");
    REQUIRE(agent.call("flock " + fdText(fd) + " sh") == "ok");
    scene.dump();
    REQUIRE(agent.call("posix " + fdText(fd) + " u 0 0") == "ok");
    REQUIRE(scene.replay().status == 0);
    std::vector<std::string> first = procLocksLinesForInode(inodeOf(file));
    CommandResult again = scene.replay();
    REQUIRE_MESSAGE(again.status == 0, again.err);
    CHECK(procLocksLinesForInode(inodeOf(file)) == first);
    CHECK(first.size() == 2);
}

TEST_CASE("verify: a missing or extra lock is a readable difference and exit 1") {
    ReplayScene scene;
    Agent& agent = scene.spawn();
    std::string file = scene.directory.file("verified");
    int fd = openIn(agent, file);
    REQUIRE(agent.call("posix " + fdText(fd) + " w 0 9") == "ok");
    scene.dump();
    CHECK(scene.verify().status == 0);
    REQUIRE(agent.call("posix " + fdText(fd) + " u 0 0") == "ok");
    REQUIRE(agent.call("posix " + fdText(fd) + " r 20 5") == "ok");
    CommandResult result = scene.verify();
    CHECK(result.status == 1);
    CHECK_MESSAGE(result.out.find("POSIX WRITE [0,8] missing") != std::string::npos, result.out);
    CHECK_MESSAGE(result.out.find("POSIX READ [20,24] held, not in the image") != std::string::npos, result.out);
}

TEST_CASE("precheck: reports an outside holder of an image lock before any restore") {
    ReplayScene scene;
    Agent& agent = scene.spawn();
    std::string file = scene.directory.file("prechecked");
    int fd = openIn(agent, file);
    REQUIRE(agent.call("posix " + fdText(fd) + " w 0 9") == "ok");
    scene.dump();
    REQUIRE(agent.call("posix " + fdText(fd) + " u 0 0") == "ok");
    CHECK(runLockcr({"precheck", scene.image, "--root", "/"}).status == 0);
    Agent outsider = Agent::spawn(agentBinary);
    int outsideFd = openIn(outsider, file);
    REQUIRE(outsider.call("posix " + fdText(outsideFd) + " r 5 1") == "ok");
    CommandResult result = runLockcr({"precheck", scene.image, "--root", "/"});
    CHECK(result.status == 1);
    CHECK_MESSAGE(result.out.find("held by pid " + std::to_string(outsider.pid())) != std::string::npos, result.out);
}

// F_SETLEASE makes its caller the description's signal owner (lease_setup); a lease recorded with
// none must come back with none, or a later break sends SIGIO (default action: terminate) to a
// process that never asked for it.
TEST_CASE("replay: a lease recorded with no signal owner comes back with none") {
    ReplayScene scene;
    Agent& agent = scene.spawn();
    std::string file = scene.directory.file("unowned");
    int creator = openIn(agent, file, "w");
    REQUIRE(agent.call("close " + fdText(creator)) == "ok");
    int fd = openIn(agent, file, "r");
    REQUIRE(agent.call("lease " + fdText(fd) + " r") == "ok");
    REQUIRE(agent.call("setown " + fdText(fd) + " 0") == "ok");
    scene.dump();
    REQUIRE(agent.call("lease " + fdText(fd) + " u") == "ok");

    CommandResult result = scene.replay();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    CHECK(agent.call("getlease " + fdText(fd)) == "ok r");
    CHECK(agent.call("getown " + fdText(fd)) == "ok pid 0");
}

// The kernel shows the pid of whoever set a flock; zdtm's file_locks tests check it. A child that
// took the flock on a description it shares with its parent gets it back as its own.
TEST_CASE("replay: a flock a child set on an inherited description shows the child's pid again") {
    ReplayScene scene;
    Agent& parent = scene.spawn();
    std::string file = scene.directory.file("childflock");
    int fd = openIn(parent, file);
    Agent child = parent.forkAgent();
    REQUIRE(child.call("flock " + fdText(fd) + " ex") == "ok");
    scene.dump();
    REQUIRE(child.call("flock " + fdText(fd) + " un") == "ok");

    CommandResult result = scene.replay();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    std::vector<std::string> lines = procLocksLinesForInode(inodeOf(file));
    REQUIRE(lines.size() == 1);
    CHECK_MESSAGE(lines[0].find("FLOCK  ADVISORY  WRITE " + std::to_string(child.pid()) + " ") != std::string::npos,
                  lines[0]);
}

// A process whose main thread exited (pthread_exit) while another thread runs on: the zombie
// leader shows no fds in /proc/PID/fd, yet the process holds every file and lock.
TEST_CASE("replay: a process whose main thread exited keeps its locks: recorded, replayed, verified") {
    ReplayScene scene;
    scene.spawn();  // the scene's pid
    Agent& agent = scene.spawn();
    std::string posix = scene.directory.file("posix"), flocked = scene.directory.file("flocked"),
                ofd = scene.directory.file("ofd");
    int posixFd = openIn(agent, posix), flockFd = openIn(agent, flocked), ofdFd = openIn(agent, ofd);
    REQUIRE(agent.call("posix " + fdText(posixFd) + " w 0 10") == "ok");
    REQUIRE(agent.call("flock " + fdText(flockFd) + " ex") == "ok");
    REQUIRE(agent.call("ofd " + fdText(ofdFd) + " w 0 5") == "ok");
    REQUIRE(agent.call("leader-exit") == "ok");
    std::string status = "/proc/" + std::to_string(agent.pid()) + "/status";
    REQUIRE(waitUntil([&] {
        std::ifstream in(status);
        return std::string(std::istreambuf_iterator<char>(in), {}).find("State:\tZ") != std::string::npos;
    }));
    scene.dump();
    REQUIRE(agent.call("posix " + fdText(posixFd) + " u 0 0") == "ok");
    REQUIRE(agent.call("flock " + fdText(flockFd) + " un") == "ok");
    REQUIRE(agent.call("ofd " + fdText(ofdFd) + " u 0 0") == "ok");
    REQUIRE(posixHolder(posix, F_WRLCK, 0, 1) == 0);

    CommandResult result = scene.replay();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    CHECK(posixHolder(posix, F_WRLCK, 0, 1) == agent.pid());
    CHECK(flockWouldBlock(flocked, LOCK_SH));
    CHECK(ofdConflict(ofd, F_RDLCK, 0, 1) == -1);
    CommandResult verified = scene.verify();
    CHECK_MESSAGE(verified.status == 0, verified.out << verified.err);
    CHECK(agent.call("pid") == "ok " + std::to_string(agent.pid()));
}

// A flock and a lease on one description, set by two processes that share it: each comes back
// set by its own setter, the pid the kernel shows for it.
TEST_CASE("replay: a flock and a lease set on one description by two processes each show their setter") {
    ReplayScene scene;
    Agent& parent = scene.spawn();
    std::string file = scene.directory.file("twosetters");
    int creator = openIn(parent, file, "w");
    REQUIRE(parent.call("close " + fdText(creator)) == "ok");
    int fd = openIn(parent, file, "r");
    Agent child = parent.forkAgent();
    REQUIRE(child.call("flock " + fdText(fd) + " sh") == "ok");
    REQUIRE(parent.call("lease " + fdText(fd) + " r") == "ok");
    scene.dump();
    REQUIRE(child.call("flock " + fdText(fd) + " un") == "ok");
    REQUIRE(parent.call("lease " + fdText(fd) + " u") == "ok");

    CommandResult result = scene.replay();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    std::vector<std::string> lines = procLocksLinesForInode(inodeOf(file));
    REQUIRE(lines.size() == 2);
    auto shows = [&](const std::string& kind, pid_t pid) {
        return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
            return line.find(kind) != std::string::npos &&
                   line.find(" " + std::to_string(pid) + " ") != std::string::npos;
        });
    };
    CHECK_MESSAGE(shows("FLOCK", child.pid()), lines[0] << " / " << lines[1]);
    CHECK_MESSAGE(shows("LEASE", parent.pid()), lines[0] << " / " << lines[1]);
}

// A lease whose break signals one thread (F_OWNER_TID): the owner is a thread id, not a process,
// and is found among the container's threads.
TEST_CASE("replay: a lease owned by one thread gets that thread back as its owner") {
    ReplayScene scene;
    Agent& agent = scene.spawn();
    REQUIRE(agent.call("threads 2") == "ok");
    pid_t thread = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(agent.pid()) + "/task"))
        if (pid_t tid = std::stoi(entry.path().filename()); tid != agent.pid()) thread = tid;
    REQUIRE(thread != 0);
    std::string file = scene.directory.file("threadowned");
    int creator = openIn(agent, file, "w");
    REQUIRE(agent.call("close " + fdText(creator)) == "ok");
    int fd = openIn(agent, file, "r");
    REQUIRE(agent.call("lease " + fdText(fd) + " r") == "ok");
    REQUIRE(agent.call("setown " + fdText(fd) + " " + std::to_string(thread) + " tid") == "ok");
    REQUIRE(agent.call("getown " + fdText(fd)) == "ok tid " + std::to_string(thread));
    scene.dump();
    REQUIRE(agent.call("lease " + fdText(fd) + " u") == "ok");

    CommandResult result = scene.replay();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    CHECK(agent.call("getlease " + fdText(fd)) == "ok r");
    CHECK(agent.call("getown " + fdText(fd)) == "ok tid " + std::to_string(thread));
}

// A lease whose breaks signal a process group (F_OWNER_PGRP) whose leader has exited: the group
// lives on in its other members, and is recorded and put back through them.
TEST_CASE("replay: a lease owned by a process group whose leader exited gets that group back") {
    ReplayScene scene;
    Agent& member = scene.spawn();  // the scene's pid: it stays
    Agent& leader = scene.spawn();
    REQUIRE(leader.call("setpgid") == "ok " + std::to_string(leader.pid()));
    pid_t group = leader.pid();
    REQUIRE(member.call("setpgid " + std::to_string(group)) == "ok " + std::to_string(group));
    std::string file = scene.directory.file("grouplease");
    int creator = openIn(member, file, "w");
    REQUIRE(member.call("close " + fdText(creator)) == "ok");
    int fd = openIn(member, file, "r");
    REQUIRE(member.call("lease " + fdText(fd) + " r") == "ok");
    REQUIRE(member.call("setown " + fdText(fd) + " " + std::to_string(group) + " pgrp") == "ok");
    leader.stop();  // killed and reaped: the member alone keeps the group
    REQUIRE(member.call("getown " + fdText(fd)) == "ok pgrp " + std::to_string(group));
    scene.dump();
    REQUIRE(member.call("lease " + fdText(fd) + " u") == "ok");

    CommandResult result = scene.replay();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    CHECK(member.call("getlease " + fdText(fd)) == "ok r");
    CHECK(member.call("getown " + fdText(fd)) == "ok pgrp " + std::to_string(group));
}

// Setting a lease makes its caller the description's signal owner, removing one clears it: a
// replay that fails after a lease was set leaves the owner and signal as they were before.
TEST_CASE("replay: a rolled-back lease leaves its description's signal owner as it found it") {
    ReplayScene scene;
    Agent& leaser = scene.spawn();
    Agent& locker = scene.spawn();
    REQUIRE(leaser.pid() < locker.pid());  // injected first: its lease is set before the failure
    std::string leased = scene.directory.file("leased"), taken = scene.directory.file("taken");
    int creator = openIn(leaser, leased, "w");
    REQUIRE(leaser.call("close " + fdText(creator)) == "ok");
    int leaseFd = openIn(leaser, leased, "r");
    REQUIRE(leaser.call("lease " + fdText(leaseFd) + " r") == "ok");
    REQUIRE(leaser.call("setsig " + fdText(leaseFd) + " USR2") == "ok");
    int takenFd = openIn(locker, taken);
    REQUIRE(locker.call("flock " + fdText(takenFd) + " ex") == "ok");
    scene.dump();
    REQUIRE(leaser.call("lease " + fdText(leaseFd) + " u") == "ok");
    REQUIRE(locker.call("flock " + fdText(takenFd) + " un") == "ok");
    // What a restore left: an owner and a signal, no lease.
    REQUIRE(leaser.call("setown " + fdText(leaseFd) + " " + std::to_string(leaser.pid())) == "ok");
    REQUIRE(leaser.call("setsig " + fdText(leaseFd) + " USR1") == "ok");
    Agent outsider = Agent::spawn(agentBinary);
    int outsideFd = openIn(outsider, taken);
    REQUIRE(outsider.call("flock " + fdText(outsideFd) + " sh") == "ok");

    CommandResult result = scene.replay();
    CHECK(result.status == 1);
    CHECK(leaser.call("getlease " + fdText(leaseFd)) == "ok u");
    CHECK(leaser.call("getown " + fdText(leaseFd)) == "ok pid " + std::to_string(leaser.pid()));
    CHECK(leaser.call("getsig " + fdText(leaseFd)) == "ok " + std::to_string(SIGUSR1));
}
