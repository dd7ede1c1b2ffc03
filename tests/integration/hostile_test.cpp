// A hostile container (issue 15, item 4): its root plants symlinks out of itself, FIFOs and device
// nodes where lockcr looks (paths in a lock image, snapshot files, checkpoint files), and its
// processes race lockcr (rename files, swap them for device nodes, dup2 other files onto locked
// fds, unshare their fd tables, fork). What is asserted is kernel truth: inotify says whether a
// planted node or a host file was opened or read, /proc/locks and F_GETLK whether a host file got
// a lock. Every lockcr run is bounded (runLockcr kills it after kLockcrBound, a library call runs
// in a child with an alarm): a hang is a failure, not a stuck test.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "agent.h"
#include "criu/checkpoint_files.h"
#include "image/json.h"
#include "kernel_truth.h"
#include "run_lockcr.h"
#include "scene.h"
#include "snapshot/manifest.h"
#include "snapshot/record.h"
#include "snapshot/snapshot.h"
#include "snapshot/store.h"
#include "snapshot/verify.h"
#include "snapshot_scene.h"
#include "test_cgroup.h"
#include "util/error.h"

using namespace lockcr;
using namespace lockcr::test;

namespace {

// A container root and a host directory beside it: /tmp/lockcr-test-PID-hostile-XXXXXX/{root,host}
// (tests/container/sweep.sh removes it if the test is killed).
class HostileRoot {
public:
    HostileRoot() {
        std::string nameTemplate = "/tmp/lockcr-test-" + std::to_string(getpid()) + "-hostile-XXXXXX";
        std::vector<char> name(nameTemplate.begin(), nameTemplate.end());
        name.push_back('\0');
        if (!mkdtemp(name.data())) throw std::runtime_error("hostile root: mkdtemp failed");
        top_ = name.data();
        for (const char* sub : {"root", "root/data", "host", "copies"})
            if (mkdir((top_ + "/" + sub).c_str(), 0755) != 0) throw std::runtime_error("hostile root: mkdir");
    }
    HostileRoot(const HostileRoot&) = delete;
    HostileRoot& operator=(const HostileRoot&) = delete;
    ~HostileRoot() { (void)std::system(("rm -rf --one-file-system " + top_).c_str()); }

    std::string root() const { return top_ + "/root"; }
    std::string inRoot(const std::string& containerPath) const { return top_ + "/root" + containerPath; }
    std::string host(const std::string& name) const { return top_ + "/host/" + name; }
    std::string path(const std::string& name) const { return top_ + "/" + name; }

private:
    std::string top_;
};

void writeText(const std::string& path, const std::string& text) {
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    REQUIRE(fd.valid());
    REQUIRE(write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()));
}

// A character device node like /dev/zero (1:5): reading it never ends.
void makeZeroDevice(const std::string& path) { REQUIRE(mknod(path.c_str(), S_IFCHR | 0666, makedev(1, 5)) == 0); }

// Kernel truth on whether anyone opened or read some inodes: inotify reports IN_OPEN for every
// successful open but O_PATH, and IN_ACCESS for every read, of whatever kind the inode is.
class OpenWatch {
public:
    OpenWatch() : fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) { REQUIRE(fd_.valid()); }
    void watch(const std::string& path) {
        REQUIRE_MESSAGE(inotify_add_watch(fd_.get(), path.c_str(), IN_OPEN | IN_ACCESS | IN_DONT_FOLLOW) >= 0, path);
    }
    // How many opens and reads (of MASK) happened since the last call (not IN_IGNORED: a watched
    // inode that a rollback unlinked and that went away).
    int events(uint32_t mask = IN_OPEN | IN_ACCESS) {
        int count = 0;
        alignas(inotify_event) char buffer[4096];
        for (ssize_t n; (n = read(fd_.get(), buffer, sizeof buffer)) > 0;) {
            for (char* at = buffer; at < buffer + n;) {
                const auto* event = reinterpret_cast<const inotify_event*>(at);
                if (event->mask & mask) count++;
                at += sizeof(inotify_event) + event->len;
            }
        }
        return count;
    }

private:
    UniqueFd fd_;
};

// A lock image of one POSIX write lock on [0, 9] of a file in ROOT, recorded by `lockcr dump` from
// an agent that then lets the lock go, with every path in it replaced by PATH_IN_IMAGE (what a
// hostile checkpoint, or a container that moved things, puts there).
void writeImageNaming(const HostileRoot& root, const std::string& imagePath, const std::string& pathInImage) {
    Scene scene;
    Agent& agent = scene.spawn();
    std::string real = root.inRoot("/data/real");
    int fd = openIn(agent, real);
    REQUIRE(agent.call("posix " + std::to_string(fd) + " w 0 9") == "ok");
    CommandResult dumped = runLockcr({"dump", "--pid", scene.pid(), "-o", imagePath});
    REQUIRE_MESSAGE(dumped.status == 0, dumped.err);
    LockImage image = readLockImage(imagePath);
    for (Process& process : image.processes)
        for (ProcessFd& processFd : process.fds) processFd.file.path = pathInImage;
    for (OpenFileDescription& description : image.descriptions) description.file.path = pathInImage;
    writeLockImage(imagePath, image);
}

// An agent outside every container holding a POSIX write lock on all of PATH.
Agent outsideHolderOf(const std::string& path) {
    Agent outsider = Agent::spawn(agentBinary);
    int fd = openIn(outsider, path);
    REQUIRE(outsider.call("posix " + std::to_string(fd) + " w 0 0") == "ok");
    return outsider;
}

bool oneLine(const std::string& text) { return !text.empty() && text.find('\n') == text.size() - 1; }

// Runs BODY in a child process that is killed after BOUND_SECONDS (SIGALRM's default action):
// true if it returned normally. The bound turns a hang into a failure.
bool finishesWithin(unsigned boundSeconds, const std::function<void()>& body) {
    std::fflush(nullptr);
    pid_t child = fork();
    if (child == 0) {
        alarm(boundSeconds);
        try {
            body();
        } catch (const std::exception& error) {
            std::fprintf(stderr, "bounded body threw: %s\n", error.what());
            _exit(1);
        }
        _exit(0);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    if (WIFSIGNALED(status)) std::fprintf(stderr, "bounded body killed by signal %d\n", WTERMSIG(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// A forked process that runs STEP until it is killed; killed and reaped by the destructor.
class Racer {
public:
    explicit Racer(
        const std::function<void()>& step, const std::function<void()>& setup = [] {}) {
        std::fflush(nullptr);
        pid_ = fork();
        if (pid_ == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            setup();
            for (;;) step();
        }
        REQUIRE(pid_ > 0);
    }
    pid_t pid() const { return pid_; }
    Racer(const Racer&) = delete;
    Racer& operator=(const Racer&) = delete;
    ~Racer() {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }

private:
    pid_t pid_ = -1;
};

}  // namespace

TEST_CASE("hostile precheck: a symlink or .. out of the root never reaches the host file it names") {
    HostileRoot root;
    std::string secret = root.host("secret");
    writeText(secret, "host file");
    Agent outsider = outsideHolderOf(secret);  // a conflict precheck would report if it got there
    REQUIRE(symlink(secret.c_str(), root.inRoot("/data/absolute").c_str()) == 0);
    REQUIRE(symlink("../../../../../../../../host/secret", root.inRoot("/data/relative").c_str()) == 0);
    OpenWatch watch;
    watch.watch(secret);
    for (std::string pathInImage :
         {std::string("/data/absolute"), std::string("/data/relative"), "/../../../../.." + secret, secret}) {
        CAPTURE(pathInImage);
        std::string image = root.path("image.json");
        writeImageNaming(root, image, pathInImage);
        watch.events();  // the dump opened nothing there; start counting now
        CommandResult result = runLockcr({"precheck", image, "--root", root.root()});
        CHECK_FALSE(result.timedOut);
        CHECK(watch.events() == 0);  // the host file was neither opened nor read
        CHECK(result.status == 1);   // the file is not in the container: not checked, and said so
        CHECK_MESSAGE(oneLine(result.err), result.err);
        CHECK(result.out.find("held by pid " + std::to_string(outsider.pid())) == std::string::npos);
    }
}

TEST_CASE("hostile precheck: a FIFO or a device node at an image path is never opened") {
    HostileRoot root;
    REQUIRE(mkfifo(root.inRoot("/data/fifo").c_str(), 0666) == 0);
    makeZeroDevice(root.inRoot("/data/zero"));
    OpenWatch watch;
    watch.watch(root.inRoot("/data/fifo"));
    watch.watch(root.inRoot("/data/zero"));
    for (const char* pathInImage : {"/data/fifo", "/data/zero"}) {
        CAPTURE(pathInImage);
        std::string image = root.path("image.json");
        writeImageNaming(root, image, pathInImage);
        CommandResult result = runLockcr({"precheck", image, "--root", root.root()});
        CHECK_FALSE(result.timedOut);
        CHECK(watch.events() == 0);
        CHECK_MESSAGE(result.status == 0, result.err);  // /proc/locks shows no holder of that inode
    }
}

namespace {

// A snapshot record of FILES (paths inside ROOT) on one manifest part mounted at "/", with a copy of
// each one's bytes in ROOT's "copies" directory, as a snapshot taken now would have them.
SnapshotRecord recordOf(const HostileRoot& root, const std::vector<std::string>& files) {
    SnapshotRecord record;
    record.checkpointId = "hostile";
    SnapshotPart part;
    part.mountPoint = "/";
    part.data = root.path("copies");
    for (const std::string& file : files) {
        UniqueFd fd(open(root.inRoot(file).c_str(), O_RDONLY | O_CLOEXEC));
        REQUIRE(fd.valid());
        part.files.push_back(describeFile(fd.get(), file));
        part.files.back().copy = std::to_string(part.files.size());
        std::string copy = part.data + "/" + part.files.back().copy;
        REQUIRE(std::system(("cp " + root.inRoot(file) + " " + copy).c_str()) == 0);
    }
    record.parts.push_back(part);
    return record;
}

ino_t inodeNumberOf(const std::string& path) {
    struct stat status {};
    return lstat(path.c_str(), &status) == 0 ? status.st_ino : 0;
}

// The racer's step: swaps the names FILE and NODE (RENAME_EXCHANGE, atomic), after linking the
// device node KEEP at NODE again when neither name is it (a rollback removed it from FILE's name
// and wrote a new file there; NODE's regular file goes to ASIDE).
void swapDeviceOver(const std::string& file, const std::string& node, const std::string& keep, const std::string& aside,
                    ino_t device) {
    if (inodeNumberOf(file) != device && inodeNumberOf(node) != device) {
        (void)rename(node.c_str(), aside.c_str());
        (void)link(keep.c_str(), node.c_str());
    }
    (void)renameat2(AT_FDCWD, file.c_str(), AT_FDCWD, node.c_str(), RENAME_EXCHANGE);
}

}  // namespace

TEST_CASE("hostile verify and rollback: a device node swapped again and again over a recorded file is never opened") {
    HostileRoot root;
    std::string file = root.inRoot("/data/f"), node = root.inRoot("/data/zero"), keep = root.path("keep-zero"),
                aside = root.inRoot("/data/aside");
    writeText(file, std::string(64 << 10, 'v'));
    SnapshotRecord record = recordOf(root, {"/data/f"});
    makeZeroDevice(keep);
    REQUIRE(link(keep.c_str(), node.c_str()) == 0);
    ino_t device = inodeNumberOf(keep);
    OpenWatch watch;
    watch.watch(keep);

    SUBCASE("verify (strict)") {
        Racer racer([&] { swapDeviceOver(file, node, keep, aside, device); });
        CHECK(finishesWithin(120, [&] {
            for (int round = 0; round < 20000; ++round) findSnapshotChanges(record, root.root());
        }));
    }
    SUBCASE("rollback") {
        writeText(file, std::string(64 << 10, 'c'));  // changed: every rollback that sees it writes it back
        Racer racer([&] { swapDeviceOver(file, node, keep, aside, device); });
        CHECK(finishesWithin(120, [&] {
            for (int round = 0; round < 5000; ++round) {
                try {
                    rollBackSnapshot(record, root.root());
                } catch (const Error&) {
                    // "still differs after the rollback" or EEXIST: the racer won that round
                }
            }
        }));
    }
    CHECK(watch.events() == 0);  // the device was neither opened nor read (nor written)
    CHECK(inodeNumberOf(keep) == device);
}

TEST_CASE("hostile replay: a symlink to a host file planted where the locked file was gets no lock") {
    HostileRoot root;
    std::string secret = root.host("secret");
    writeText(secret, "host file");
    Scene scene;
    Agent& agent = scene.spawn();
    std::string locked = root.inRoot("/data/locked"), image = root.path("image.json");
    int fd = openIn(agent, locked);
    REQUIRE(agent.call("posix " + std::to_string(fd) + " w 0 9") == "ok");
    CommandResult dumped = runLockcr({"dump", "--pid", scene.pid(), "-o", image});
    REQUIRE_MESSAGE(dumped.status == 0, dumped.err);
    // The container drops its lock and file, plants a symlink to the host file at the same name,
    // and opens it: the same fd number now refers to the host file.
    REQUIRE(agent.call("close " + std::to_string(fd)) == "ok");
    REQUIRE(unlink(locked.c_str()) == 0);
    REQUIRE(symlink(secret.c_str(), locked.c_str()) == 0);
    REQUIRE(openIn(agent, locked, "r") == fd);

    CommandResult replayed = runLockcr({"replay", image, "--pid", scene.pid()});
    CHECK_FALSE(replayed.timedOut);
    CHECK(replayed.status == 1);
    CHECK_MESSAGE(oneLine(replayed.err), replayed.err);
    CHECK(procLocksLinesForInode(inodeOf(secret)).empty());
    CHECK(posixHolder(secret, F_WRLCK, 0, 0) == 0);
    CHECK(agent.call("pid").rfind("ok", 0) == 0);  // it runs on
}

namespace {

constexpr int kLockedFd = 40, kSwappedFd = 41;

// The racer's lock: a POSIX write lock on [0, 9] of FILE through fd kLockedFd; tells READY_FD.
void lockThenTell(const std::string& file, int readyFd) {
    signal(SIGCHLD, SIG_IGN);  // its children never linger as zombies
    int fd = open(file.c_str(), O_RDWR);
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_len = 10;
    if (fd < 0 || dup2(fd, kLockedFd) != kLockedFd || close(fd) != 0 || fcntl(kLockedFd, F_SETLK, &lock) != 0) _exit(3);
    (void)!write(readyFd, "r", 1);
}

// One round of a container process that changes everything lockcr reads while keeping its lock
// (closing any fd of the locked file would drop it: POSIX semantics): another file dup2'ed onto
// kSwappedFd, the locked file renamed away and back, a child forked (and gone), a thread that
// unshares its fd table and exits.
void raceRound(const std::string& file, const std::string& renamed) {
    static int round = 0;
    int other = open(++round % 2 ? "/dev/null" : renamed.c_str(), O_RDONLY | O_CREAT, 0600);
    if (other >= 0) {
        dup2(other, kSwappedFd);
        close(other);
    }
    rename(file.c_str(), renamed.c_str());
    rename(renamed.c_str(), file.c_str());
    if (fork() == 0) _exit(0);
    std::thread([] { (void)unshare(CLONE_FILES); }).join();
}

// Whether IMAGE records PID's POSIX write lock on [0, 9] through fd kLockedFd.
bool recordsTheLock(const LockImage& image, pid_t pid) {
    for (const Process& process : image.processes)
        if (process.hostPid == pid)
            for (const ProcessFd& fd : process.fds)
                for (const Lock& lock : fd.posixLocks)
                    if (fd.fd == kLockedFd && lock.type == LockType::write && lock.range.start == 0 &&
                        lock.range.end == 9)
                        return true;
    return false;
}

}  // namespace

TEST_CASE(
    "hostile dump and inspect: a process renaming, dup2-ing, forking and unsharing meanwhile never loses its lock") {
    HostileRoot root;
    std::string file = root.inRoot("/data/a"), renamed = root.inRoot("/data/b");
    writeText(file, "locked");
    uint64_t inode = inodeOf(file);
    int ready[2];
    REQUIRE(pipe(ready) == 0);
    TestCgroup cgroup;
    Racer racer([&] { raceRound(file, renamed); }, [&] { lockThenTell(file, ready[1]); });
    char byte = 0;
    REQUIRE(read(ready[0], &byte, 1) == 1);
    close(ready[0]);
    close(ready[1]);
    cgroup.add(racer.pid());
    std::string pid = std::to_string(racer.pid()), image = root.path("image.json");

    // Rounds of dump, inspect, then verify and replay of the last image dumped (which hold the
    // container frozen, or its processes seized, while they read and compare).
    int recorded = 0, dumped = 0, failed = 0;
    for (int round = 0; round < 24; ++round) {
        CAPTURE(round);
        const char* command = round % 4 == 0   ? "dump"
                              : round % 4 == 1 ? "inspect"
                              : round % 4 == 2 ? "verify"
                                               : "replay";
        if (!dumped && round % 4 >= 2) continue;
        std::vector<std::string> arguments = {command, "--pid", pid};
        if (round % 4 == 0) arguments.insert(arguments.end(), {"-o", image});
        if (round % 4 == 1) arguments.push_back("--json");
        if (round % 4 >= 2) arguments.insert(arguments.begin() + 1, image);
        CommandResult result = runLockcr(arguments);
        REQUIRE_FALSE(result.timedOut);
        if (result.status != 0) {
            CHECK_MESSAGE(oneLine(result.err), result.err);  // failed, and said why in one line
            failed++;
        } else if (round % 4 < 2) {
            // Recorded: then the lock is in what it recorded.
            LockImage recordedImage = round % 4 == 0 ? readLockImage(image) : lockImageFromText(result.out);
            CHECK(recordsTheLock(recordedImage, racer.pid()));
            recorded++;
            if (round % 4 == 0) dumped++;
        }
        CHECK(lockLinesOf(inode, racer.pid()) == 1);  // never lost, never doubled (replay adds none)
    }
    MESSAGE("recorded " << recorded << ", failed with one line " << failed << " of 24 rounds");
    CHECK(recorded > 0);
    CHECK(lockLinesOf(inode, racer.pid()) == 1);  // the racer still holds it: dump's freeze and thaw lost nothing
}

TEST_CASE("hostile verify and rollback: a FIFO and a device node where snapshot files were are named, never opened") {
    HostileRoot root;
    writeText(root.inRoot("/data/fifo"), "was a file");
    writeText(root.inRoot("/data/zero"), "was a file too");
    SnapshotRecord record = recordOf(root, {"/data/fifo", "/data/zero"});
    REQUIRE(unlink(root.inRoot("/data/fifo").c_str()) == 0);
    REQUIRE(unlink(root.inRoot("/data/zero").c_str()) == 0);
    REQUIRE(mkfifo(root.inRoot("/data/fifo").c_str(), 0666) == 0);
    makeZeroDevice(root.inRoot("/data/zero"));
    // A writer keeps the FIFO open: a read of it would wait for data that never comes.
    UniqueFd writer(open(root.inRoot("/data/fifo").c_str(), O_RDWR | O_CLOEXEC));
    REQUIRE(writer.valid());
    OpenWatch watch;
    watch.watch(root.inRoot("/data/fifo"));
    watch.watch(root.inRoot("/data/zero"));

    REQUIRE(finishesWithin(60, [&] {
        std::vector<std::string> changes = findSnapshotChanges(record, root.root());
        if (changes != std::vector<std::string>{"/data/fifo: replaced by a fifo", "/data/zero: replaced by a device"})
            throw std::runtime_error("unexpected changes");
    }));
    CHECK(watch.events() == 0);
    REQUIRE(finishesWithin(60, [&] { rollBackSnapshot(record, root.root()); }));
    CHECK(watch.events() == 0);
    CHECK(readWholeFile(root.inRoot("/data/fifo")) == "was a file");
    CHECK(readWholeFile(root.inRoot("/data/zero")) == "was a file too");
}

// A checkpoint imported from elsewhere (podman --import, a CRI-O archive) is a tar the container's
// side may have written: its lockcr files may be FIFOs or device nodes.
// Whether READ throws lockcr's "not a regular file" refusal (in a bounded child: a hang fails).
bool refusedAsNotRegular(const std::function<void()>& read) {
    return finishesWithin(60, [&] {
        try {
            read();
        } catch (const Error& error) {
            if (std::string(error.what()).find("not a regular file") == std::string::npos) throw;
            return;
        }
        throw std::runtime_error("accepted");
    });
}

TEST_CASE(
    "hostile checkpoint: a FIFO or a device node as lockcr's record or snapshot record is refused, never waited on") {
    HostileRoot root;
    std::string images = root.path("copies"), record = images + "/" + kCheckpointRecordFileName,
                snapshotRecord = images + "/" + kSnapshotRecordFileName;
    REQUIRE(mkfifo(record.c_str(), 0600) == 0);
    REQUIRE(mkfifo(snapshotRecord.c_str(), 0600) == 0);
    CHECK(refusedAsNotRegular([&] { readCheckpointRecord(images); }));
    CHECK(refusedAsNotRegular([&] { readSnapshotRecord(snapshotRecord); }));
    REQUIRE(unlink(record.c_str()) == 0);
    makeZeroDevice(record);
    OpenWatch watch;
    watch.watch(record);
    CHECK(refusedAsNotRegular([&] { readCheckpointRecord(images); }));
    CHECK(watch.events(IN_ACCESS) == 0);  // told apart by fstat, never read
}

TEST_CASE("hostile snapshot: a device node swapped again and again over a locked volume file is never opened") {
    SnapshotScene scene;
    std::string file = scene.path("vol/b"), node = scene.path("vol/zero"), keep = scene.path("vol/keep-zero"),
                aside = scene.path("vol/aside");
    writeText(file, std::string(64 << 10, 'b'));
    pid_t holder = scene.startHolder({"/vol/b"});
    makeZeroDevice(keep);
    REQUIRE(link(keep.c_str(), node.c_str()) == 0);
    ino_t device = inodeNumberOf(keep);
    OpenWatch watch;
    watch.watch(keep);
    Racer racer([&] { swapDeviceOver(file, node, keep, aside, device); });
    std::string store = scene.path("btrfsmnt/store"), record = scene.path("images/") + kSnapshotRecordFileName;
    CHECK(finishesWithin(120, [&] {
        for (int round = 0; round < 300; ++round) {
            SnapshotOptions options;
            options.checkpointId = "race" + std::to_string(round);
            options.store = store;
            try {
                takeSnapshot({holder, {holder}}, options, scene.path("images"));
                deleteSnapshot(store, options.checkpointId);
            } catch (const Error&) {
                // "/vol/...: not a regular file": the racer won that round
            }
            unlink(record.c_str());
        }
    }));
    CHECK(watch.events() == 0);  // the device was neither opened nor read
}
