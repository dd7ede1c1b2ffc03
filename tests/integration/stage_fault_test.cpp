// A target process that exits, forks or execs at a precise stage of a dump or a replay. lockcr runs
// with LOCKCR_FAULT=POINT:stop (hook/util/fault.h): it stops itself at POINT, the test changes the
// container there and lets it go on. What must follow: a dump records what the kernel has or fails
// in one line (never an image silently missing a process's locks); a replay sets every lock of the
// image and verifies it, or fails closed (its --on-failure policy) with nothing set. Checked on
// kernel truth: F_GETLK, /proc/locks, cgroup state, the image file itself.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "agent.h"
#include "kernel_truth.h"
#include "run_lockcr.h"
#include "scene.h"
#include "wait_until.h"

using namespace lockcr::test;

namespace {

std::string text(long long number) { return std::to_string(number); }

// lockcr ARGS, stopped at POINT; the test REQUIREs that it got there.
struct StoppedLockcr {
    LockcrProcess process;
    StoppedLockcr(const std::string& point, const std::vector<std::string>& args)
            : process(args, {.env = {"LOCKCR_FAULT=" + point + ":stop"}}) {
        bool stopped = process.waitUntilStopped();
        REQUIRE_MESSAGE(stopped, "lockcr never reached ", point, ": ", process.finish().err);
    }
    CommandResult resumeAndFinish() {
        process.resume();
        return process.finish();
    }
};

bool exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// The process is gone (or a zombie): its locks are released.
bool gone(pid_t pid) {
    std::string stat = readWholeFile("/proc/" + text(pid) + "/stat");
    size_t close = stat.rfind(')');
    return stat.empty() || (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z');
}

// Two processes of one container, each holding a POSIX write lock on a file of its own: the init
// (first) and a second one, the target of the fault.
struct TwoHolders : Scene {
    explicit TwoHolders(TestCgroup::Version version = TestCgroup::Version::v1) : Scene(version) {}
    Agent& init = spawn();
    Agent& target = spawn();
    std::string initFile = directory.file("init"), targetFile = directory.file("target");
    int initFd = openIn(init, initFile), targetFd = openIn(target, targetFile);
    std::string image = directory.file("image.json");

    void lockBoth() {
        REQUIRE(init.call("posix " + text(initFd) + " w 0 10") == "ok");
        REQUIRE(target.call("posix " + text(targetFd) + " w 0 10") == "ok");
    }
    void unlockBoth() {
        REQUIRE(init.call("posix " + text(initFd) + " u 0 0") == "ok");
        REQUIRE(target.call("posix " + text(targetFd) + " u 0 0") == "ok");
    }
    std::vector<std::string> dumpArgs(std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"dump", "--pid", pid(), "-o", image};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }
    // The image of both locks, then both locks lost: what a replay has to put back.
    void dumpThenLoseLocks() {
        lockBoth();
        CommandResult dumped = runLockcr(dumpArgs());
        REQUIRE_MESSAGE(dumped.status == 0, dumped.err);
        unlockBoth();
    }
    std::vector<std::string> replayArgs(std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"replay", image, "--pid", pid()};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }
    // All or nothing: no lock of the image is held by anyone.
    void expectNothingSet() {
        CHECK(posixHolder(initFile, F_WRLCK, 0, 1) == 0);
        CHECK(posixHolder(targetFile, F_WRLCK, 0, 1) == 0);
    }
};

// The POSIX locks the image records for host pid PID (agents share the test's pid namespace).
size_t imageLocksOf(const std::string& image, pid_t pid) {
    nlohmann::json document = nlohmann::json::parse(readWholeFile(image));
    size_t count = 0;
    for (const auto& process : document["processes"])
        if (process["pid"] == pid)
            for (const auto& fd : process["fds"])
                for (const auto& lock : fd["locks"]) count += lock["kind"] == "posix";
    return count;
}

}  // namespace

// ---- Mid-dump ----------------------------------------------------------------------------------

TEST_CASE("mid-dump, v1 freezer: a process SIGKILLed after the freeze holds its locks until the thaw: recorded") {
    TwoHolders scene;
    scene.lockBoth();
    StoppedLockcr dump("collect-listed", scene.dumpArgs());
    REQUIRE(scene.cgroup.state() == "FROZEN");
    REQUIRE(kill(scene.target.pid(), SIGKILL) == 0);
    // A v1-frozen task does not die before the thaw: the kernel still has its lock.
    CHECK(lockLinesOf(inodeOf(scene.targetFile), scene.target.pid()) == 1);
    CommandResult result = dump.resumeAndFinish();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    CHECK(imageLocksOf(scene.image, scene.target.pid()) == 1);  // as the frozen container had it
    CHECK(imageLocksOf(scene.image, scene.init.pid()) == 1);
    CHECK(scene.cgroup.state() == "THAWED");
    CHECK(waitUntil([&] { return gone(scene.target.pid()); }));  // and then it died
}

TEST_CASE("mid-dump, v2 freezer: a process SIGKILLed after the freeze dies: one line naming it, no image, thawed") {
    TwoHolders scene(TestCgroup::Version::v2);
    scene.lockBoth();
    StoppedLockcr dump("collect-listed", scene.dumpArgs());
    REQUIRE(scene.cgroup.state() == "FROZEN");
    REQUIRE(kill(scene.target.pid(), SIGKILL) == 0);
    REQUIRE(waitUntil([&] { return gone(scene.target.pid()); }));  // v2 kills frozen tasks
    CommandResult result = dump.resumeAndFinish();
    expectOneLineError(result, 1, "pid " + text(scene.target.pid()) + " (lockagent) exited while the locks were read");
    CHECK_FALSE(exists(scene.image));
    CHECK(scene.cgroup.state() == "THAWED");
    CHECK(scene.init.call("pid") == "ok " + text(scene.init.pid()));
}

// --no-freeze: the caller holds the container still, as CRIU holds its tasks at post-dump. A task
// that dies there is still in CRIU's checkpoint: an image without its locks would restore it
// without them.
TEST_CASE("mid-dump, held by the caller: a process that exits fails the dump in one line, no image") {
    TwoHolders scene;
    scene.lockBoth();
    StoppedLockcr dump("collect-listed", scene.dumpArgs({"--no-freeze"}));
    REQUIRE(kill(scene.target.pid(), SIGKILL) == 0);
    REQUIRE(waitUntil([&] { return gone(scene.target.pid()); }));
    CommandResult result = dump.resumeAndFinish();
    expectOneLineError(result, 1, "pid " + text(scene.target.pid()) + " (lockagent) exited while the locks were read");
    CHECK_FALSE(exists(scene.image));
    CHECK(posixHolder(scene.initFile, F_WRLCK, 0, 1) == scene.init.pid());  // the dump changed nothing
}

TEST_CASE("mid-dump, held by the caller: a process forked mid-collection fails the dump in one line, no image") {
    TwoHolders scene;
    scene.lockBoth();
    StoppedLockcr dump("collect-listed", scene.dumpArgs({"--no-freeze"}));
    pid_t child = static_cast<pid_t>(
        scene.target.callForNumber("spawn-child-posix " + text(scene.targetFd) + " r 100 1"));
    REQUIRE(lockLinesOf(inodeOf(scene.targetFile), child) == 1);  // a lock the listing never saw
    CommandResult result = dump.resumeAndFinish();
    expectOneLineError(result, 1, "pid " + text(child) + " (lockagent) appeared while the locks were read");
    CHECK_FALSE(exists(scene.image));
}

TEST_CASE("mid-dump, held by the caller: a process that execs mid-collection is recorded as the kernel has it after") {
    TwoHolders scene;
    scene.lockBoth();
    std::string dropped = scene.directory.file("dropped");
    int droppedFd = openIn(scene.target, dropped);
    REQUIRE(scene.target.call("posix " + text(droppedFd) + " w 0 0") == "ok");
    REQUIRE(scene.target.call("cloexec " + text(droppedFd)) == "ok");
    StoppedLockcr dump("collect-listed", scene.dumpArgs({"--no-freeze"}));
    REQUIRE(scene.target.call("exec") == "ok");
    REQUIRE(scene.target.call("pid") == "ok " + text(scene.target.pid()));  // the new program answers
    // The exec closed the close-on-exec fd and its lock; the other fd and its lock stay.
    REQUIRE(posixHolder(dropped, F_WRLCK, 0, 1) == 0);
    REQUIRE(posixHolder(scene.targetFile, F_WRLCK, 0, 1) == scene.target.pid());
    CommandResult result = dump.resumeAndFinish();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    CHECK(imageLocksOf(scene.image, scene.target.pid()) == 1);
    nlohmann::json document = nlohmann::json::parse(readWholeFile(scene.image));
    CHECK(document.dump().find(dropped) == std::string::npos);  // no fd, no lock of the closed file
}

// ---- Mid-replay --------------------------------------------------------------------------------

// v1 frozen (barrier-held): the killed task dies when the barrier thaws the container for the
// injection; in a ptrace stop (barrier-thawed) it dies at once. Either way the image's locks cannot
// all be set: the replay fails closed.
TEST_CASE("mid-replay: a process SIGKILLed in the barrier: fails closed, nothing set, left frozen") {
    std::string point;
    SUBCASE("frozen") { point = "barrier-held"; }
    SUBCASE("in its ptrace stop, before its injection") { point = "barrier-thawed"; }
    TwoHolders scene;
    scene.dumpThenLoseLocks();
    StoppedLockcr replay(point, scene.replayArgs({"--on-failure", "freeze"}));
    REQUIRE(kill(scene.target.pid(), SIGKILL) == 0);
    CommandResult result = replay.resumeAndFinish();
    expectOneLineError(result, 1, "pid " + text(scene.target.pid()) + " (lockagent) exited while the barrier held it");
    CHECK_MESSAGE(result.err.find("the container is left frozen") != std::string::npos, result.err);
    CHECK(scene.cgroup.state() == "FROZEN");
    scene.expectNothingSet();
    scene.cgroup.thaw();
    CHECK(waitUntil([&] { return gone(scene.target.pid()); }));
    CHECK(scene.init.call("pid") == "ok " + text(scene.init.pid()));
}

TEST_CASE("mid-replay: a process forked just before the barrier is held with the rest: its lock fails it closed") {
    TwoHolders scene;
    scene.dumpThenLoseLocks();
    StoppedLockcr replay("barrier-holding", scene.replayArgs({"--on-failure", "freeze"}));
    pid_t child = static_cast<pid_t>(scene.init.callForNumber("spawn-child-posix " + text(scene.initFd) + " r 100 1"));
    CommandResult result = replay.resumeAndFinish();
    // The live table must be the image: a lock the image does not have is a difference.
    expectOneLineError(result, 1, "pid " + text(child) + " (lockagent) fd " + text(scene.initFd));
    CHECK_MESSAGE(result.err.find("not in the image; the container is left frozen") != std::string::npos, result.err);
    CHECK(scene.cgroup.state() == "FROZEN");
    scene.expectNothingSet();
    CHECK(lockLinesOf(inodeOf(scene.initFile), child) == 1);  // its own lock untouched
}

TEST_CASE("mid-replay: a process that execs just before the barrier gets its lock in the new program") {
    TwoHolders scene;
    scene.dumpThenLoseLocks();
    StoppedLockcr replay("barrier-holding", scene.replayArgs({"--on-failure", "freeze"}));
    REQUIRE(scene.target.call("exec") == "ok");
    REQUIRE(scene.target.call("pid") == "ok " + text(scene.target.pid()));
    CommandResult result = replay.resumeAndFinish();
    REQUIRE_MESSAGE(result.status == 0, result.err);
    CHECK(posixHolder(scene.initFile, F_WRLCK, 0, 1) == scene.init.pid());
    CHECK(posixHolder(scene.targetFile, F_WRLCK, 0, 1) == scene.target.pid());
    CHECK(scene.cgroup.state() == "THAWED");
    CHECK(scene.target.call("pid") == "ok " + text(scene.target.pid()));  // runs on after the injection
}

TEST_CASE("mid-replay: an exec that closes the recorded fd just before the barrier: one line naming it, nothing set") {
    TwoHolders scene;
    scene.dumpThenLoseLocks();
    REQUIRE(scene.target.call("cloexec " + text(scene.targetFd)) == "ok");
    StoppedLockcr replay("barrier-holding", scene.replayArgs({"--on-failure", "freeze"}));
    REQUIRE(scene.target.call("exec") == "ok");
    REQUIRE(scene.target.call("pid") == "ok " + text(scene.target.pid()));
    CommandResult result = replay.resumeAndFinish();
    expectOneLineError(result, 1, "pid " + text(scene.target.pid()) + " fd " + text(scene.targetFd) + " is not open");
    CHECK_MESSAGE(result.err.find("the container is left frozen") != std::string::npos, result.err);
    CHECK(scene.cgroup.state() == "FROZEN");
    scene.expectNothingSet();
}
