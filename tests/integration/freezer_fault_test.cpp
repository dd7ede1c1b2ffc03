// When the container cannot be frozen: a task stuck in uninterruptible sleep (D) that the freezer
// never gets, and a container whose freezer is gone. lockcr must give up within its bound, say in
// one line which task or which file, and leave nothing frozen and no lock set. The D task is real:
// a FUSE mount of the test's own that never answers (FUSE_INIT unread) hangs one process in the
// lookup with its directory's inode lock held, and a second, a mkdir in that directory, waits for
// that lock in plain TASK_UNINTERRUPTIBLE, which the freezer cannot freeze (kernel truth: state D
// in /proc/PID/stat, FREEZING in freezer.state).
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

#include "agent.h"
#include "kernel_truth.h"
#include "run_lockcr.h"
#include "scene.h"
#include "temp_directory.h"
#include "wait_until.h"

using namespace lockcr::test;

namespace {

std::string text(long long number) { return std::to_string(number); }

// The state letter of /proc/PID/stat (after the command's closing parenthesis); 0 if gone.
char stateOf(pid_t pid) {
    std::string stat = readWholeFile("/proc/" + text(pid) + "/stat");
    size_t close = stat.rfind(')');
    return close == std::string::npos || close + 2 >= stat.size() ? 0 : stat[close + 2];
}

// A FUSE mount whose daemon (this test) never reads /dev/fuse. blockedProcess() returns a child of
// the test in D state. The destructor closes /dev/fuse, which aborts the connection: the blocked
// requests fail with ENOTCONN, the children exit and are reaped, the mount goes.
class HungFuse {
public:
    HungFuse() {
        fuse_ = open("/dev/fuse", O_RDWR | O_CLOEXEC);
        REQUIRE_MESSAGE(fuse_ >= 0, "open /dev/fuse: ", std::strerror(errno));
        std::string options = "fd=" + text(fuse_) + ",rootmode=40000,user_id=0,group_id=0";
        REQUIRE_MESSAGE(
            ::mount("lockcr-test", directory_.path().c_str(), "fuse", MS_NOSUID | MS_NODEV, options.c_str()) == 0,
            "mount fuse: ", std::strerror(errno));
        mounted_ = true;
        // The lookup holds the mount root's inode lock while it waits for the daemon to answer INIT.
        holder_ = childDoing([this] {
            struct stat info;
            stat(directory_.file("x").c_str(), &info);
        });
        REQUIRE(waitUntil([&] { return stateOf(holder_) == 'D'; }));
    }
    HungFuse(const HungFuse&) = delete;
    HungFuse& operator=(const HungFuse&) = delete;
    ~HungFuse() {
        if (fuse_ >= 0) close(fuse_);
        for (pid_t child : children_) {
            kill(child, SIGKILL);
            while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {}
        }
        if (mounted_) ::umount2(directory_.path().c_str(), MNT_DETACH);
    }

    // A child that waits, uninterruptibly and unfreezably, for the inode lock the holder has.
    pid_t blockedProcess() {
        pid_t child = childDoing([this] { mkdir(directory_.file("y").c_str(), 0700); });
        REQUIRE(waitUntil([&] { return stateOf(child) == 'D'; }));
        return child;
    }

private:
    template <typename Body>
    pid_t childDoing(Body body) {
        pid_t child = fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            close(fuse_);  // only the test may hold the daemon's end, or closing it aborts nothing
            body();
            _exit(0);
        }
        children_.push_back(child);
        return child;
    }

    TempDirectory directory_;
    int fuse_ = -1;
    bool mounted_ = false;
    pid_t holder_ = -1;
    std::vector<pid_t> children_;
};

// A container of one agent holding a POSIX write lock, and its image.
struct LockedScene : Scene {
    Agent& agent = spawn();
    std::string file = directory.file("data");
    int fd = openIn(agent, file);
    std::string image = directory.file("image.json");

    void lock() { REQUIRE(agent.call("posix " + text(fd) + " w 0 0") == "ok"); }
    void dumpThenLoseLock() {
        lock();
        CommandResult dumped = runLockcr({"dump", "--pid", pid(), "-o", image});
        REQUIRE_MESSAGE(dumped.status == 0, dumped.err);
        REQUIRE(agent.call("posix " + text(fd) + " u 0 0") == "ok");
    }
};

}  // namespace

TEST_CASE("dump: a task in uninterruptible sleep keeps the freeze from completing: bounded, names it, thawed") {
    LockedScene scene;
    scene.lock();
    HungFuse fuse;  // after the scene: gone first, so the cgroup can empty
    pid_t stuck = fuse.blockedProcess();
    scene.cgroup.add(stuck);
    CommandResult result = runLockcr({"dump", "--pid", scene.pid(), "-o", scene.image});
    expectOneLineError(result, 1, "pid " + text(stuck) + " \"integration_tes\"");
    CHECK_MESSAGE(result.err.find("is in uninterruptible sleep (D") != std::string::npos, result.err);
    CHECK_MESSAGE(result.err.find("not frozen after 10000 ms") != std::string::npos, result.err);
    CHECK(access(scene.image.c_str(), F_OK) != 0);  // no image
    CHECK(scene.cgroup.state() == "THAWED");        // nothing left frozen or FREEZING
    CHECK(stateOf(stuck) == 'D');                   // still stuck: lockcr did not touch it
    CHECK(scene.agent.call("pid") == "ok " + scene.pid());
    CHECK(posixHolder(scene.file, F_WRLCK, 0, 1) == scene.agent.pid());
}

TEST_CASE("replay: a task in uninterruptible sleep keeps the barrier from holding: bounded, nothing set, thawed") {
    LockedScene scene;
    scene.dumpThenLoseLock();
    HungFuse fuse;
    pid_t stuck = fuse.blockedProcess();
    scene.cgroup.add(stuck);
    CommandResult result = runLockcr({"replay", scene.image, "--pid", scene.pid(), "--on-failure", "freeze"});
    expectOneLineError(result, 1, "pid " + text(stuck) + " \"integration_tes\"");
    CHECK_MESSAGE(result.err.find("is in uninterruptible sleep (D") != std::string::npos, result.err);
    CHECK(scene.cgroup.state() == "THAWED");
    CHECK(posixHolder(scene.file, F_WRLCK, 0, 1) == 0);
    CHECK(scene.agent.call("pid") == "ok " + scene.pid());
}

TEST_CASE("replay: the container's freezer cgroup is gone when the barrier comes: one line naming it, nothing set") {
    LockedScene scene;
    scene.dumpThenLoseLock();
    LockcrProcess replay({"replay", scene.image, "--pid", scene.pid(), "--on-failure", "freeze"},
                         {.env = {"LOCKCR_FAULT=barrier-holding:stop"}});
    REQUIRE(replay.waitUntilStopped());
    // The runtime moved the container and removed its cgroup (as a cgroup manager may).
    TestCgroup elsewhere;
    elsewhere.add(scene.agent.pid());
    REQUIRE(rmdir(scene.cgroup.path().c_str()) == 0);
    replay.resume();
    CommandResult result = replay.finish();
    expectOneLineError(result, 1, "no cgroup freezer for the container: " + scene.cgroup.path() + "/freezer.state");
    CHECK_MESSAGE(result.err.find("No such file or directory") != std::string::npos, result.err);
    CHECK(elsewhere.state() == "THAWED");
    CHECK(posixHolder(scene.file, F_WRLCK, 0, 1) == 0);
    CHECK(scene.agent.call("pid") == "ok " + scene.pid());
}
