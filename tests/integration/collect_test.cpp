// Collection against real processes holding real locks: every case compares what lockcr records
// with what the kernel says (/proc/locks, fdinfo, F_GETLK), not with lockcr's own output.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "agent.h"
#include "collect/inventory.h"
#include "discover/container.h"
#include "image/json.h"
#include "image_printing.h"
#include "kernel_truth.h"
#include "run_lockcr.h"
#include "scene.h"
#include "wait_until.h"

using namespace lockcr;
using namespace lockcr::test;

namespace {

LockImage collect(Scene& scene) { return collectLocks(discoverContainerOfPid(scene.agents.front().pid())); }

const Process& processOf(const LockImage& image, pid_t hostPid) {
    for (const Process& process : image.processes)
        if (process.hostPid == hostPid) return process;
    FAIL("pid " << hostPid << " not in the image");
    throw;
}

const ProcessFd* fdOf(const Process& process, int fd) {
    for (const ProcessFd& entry : process.fds)
        if (entry.fd == fd) return &entry;
    return nullptr;
}

std::vector<const OpenFileDescription*> descriptionsOn(const LockImage& image, uint64_t inode) {
    std::vector<const OpenFileDescription*> found;
    for (const OpenFileDescription& description : image.descriptions)
        if (description.file.inode == inode) found.push_back(&description);
    return found;
}

}  // namespace

TEST_CASE("collect: a POSIX lock is recorded under its process and fd, as /proc/locks has it") {
    Scene scene;
    Agent& agent = scene.spawn();
    std::string file = scene.directory.file("posix.dat");
    int fd = openIn(agent, file);
    REQUIRE(agent.call("posix " + std::to_string(fd) + " w 10 20") == "ok");
    REQUIRE(agent.call("posix " + std::to_string(fd) + " r 100 0") == "ok");

    LockImage image = collect(scene);
    const ProcessFd* entry = fdOf(processOf(image, agent.pid()), fd);
    REQUIRE(entry);
    REQUIRE(entry->posixLocks.size() == procLocksLinesForInode(inodeOf(file)).size());
    CHECK(entry->posixLocks[0].type == LockType::write);
    CHECK(entry->posixLocks[0].range.start == 10);
    CHECK(entry->posixLocks[0].range.end == 29);
    CHECK(entry->posixLocks[1].type == LockType::read);
    CHECK(entry->posixLocks[1].range.start == 100);
    CHECK_FALSE(entry->posixLocks[1].range.end.has_value());
    CHECK(entry->file.path == file);
    CHECK(entry->file.inode == inodeOf(file));
    CHECK(posixHolder(file, F_WRLCK, 10, 1) == agent.pid());
    CHECK(image.descriptions.empty());
}

TEST_CASE("collect: OFD lock, flock and lease each belong to one description") {
    Scene scene;
    Agent& agent = scene.spawn();
    std::string ofdFile = scene.directory.file("ofd"), flockFile = scene.directory.file("flock"),
                leaseFile = scene.directory.file("lease");
    int ofd = openIn(agent, ofdFile), flockFd = openIn(agent, flockFile);
    int creator = openIn(agent, leaseFile, "w");
    REQUIRE(agent.call("close " + std::to_string(creator)) == "ok");  // a writer would refuse a read lease
    int leaseFd = openIn(agent, leaseFile, "r");
    REQUIRE(agent.call("ofd " + std::to_string(ofd) + " w 0 50") == "ok");
    REQUIRE(agent.call("flock " + std::to_string(flockFd) + " ex") == "ok");
    REQUIRE(agent.call("setsig " + std::to_string(leaseFd) + " USR1") == "ok");
    REQUIRE(agent.call("lease " + std::to_string(leaseFd) + " r") == "ok");

    LockImage image = collect(scene);
    auto ofdDescriptions = descriptionsOn(image, inodeOf(ofdFile));
    REQUIRE(ofdDescriptions.size() == 1);
    CHECK(ofdDescriptions[0]->locks.at(0).kind == LockKind::ofd);
    CHECK(ofdDescriptions[0]->locks.at(0).range.end == 49);
    CHECK(ofdConflict(ofdFile, F_RDLCK, 0, 1) == -1);

    auto flockDescriptions = descriptionsOn(image, inodeOf(flockFile));
    REQUIRE(flockDescriptions.size() == 1);
    CHECK(flockDescriptions[0]->locks.at(0).kind == LockKind::flock);
    CHECK(flockDescriptions[0]->locks.at(0).type == LockType::write);
    CHECK(flockWouldBlock(flockFile, LOCK_SH));

    auto leaseDescriptions = descriptionsOn(image, inodeOf(leaseFile));
    REQUIRE(leaseDescriptions.size() == 1);
    const Lock& lease = leaseDescriptions[0]->locks.at(0);
    CHECK(lease.kind == LockKind::lease);
    CHECK(lease.leaseState == LeaseState::active);
    CHECK(procLocksLinesForInode(inodeOf(leaseFile)).at(0).find("LEASE  ACTIVE    READ") != std::string::npos);
    REQUIRE(leaseDescriptions[0]->signalOwner.has_value());
    CHECK(leaseDescriptions[0]->signalOwner->signal == SIGUSR1);
    // Each description is held by the agent alone, through the fd the test opened it on.
    CHECK(ofdDescriptions[0]->holders == std::vector<Holder>{{agent.pid(), ofd}});
    CHECK(flockDescriptions[0]->holders == std::vector<Holder>{{agent.pid(), flockFd}});
    CHECK(leaseDescriptions[0]->holders == std::vector<Holder>{{agent.pid(), leaseFd}});
}

TEST_CASE("collect: a second look through the first look's kept files sees the locks as they are now") {
    Scene scene;
    Agent& agent = scene.spawn();
    std::string unlocked = scene.directory.file("unlocked"), wanted = scene.directory.file("wanted"),
                plain = scene.directory.file("plain");
    int unlockedFd = openIn(agent, unlocked), wantedFd = openIn(agent, wanted), plainFd = openIn(agent, plain);
    for (int i = 0; i < 300; ++i) openIn(agent, plain);  // enough fds for the parallel readers
    REQUIRE(agent.call("posix " + std::to_string(unlockedFd) + " w 0 10") == "ok");
    Container container = discoverContainerOfPid(agent.pid());
    std::set<FdKey> pathsOf{{agent.pid(), wantedFd}};
    FdPaths paths;
    KeptLook kept;
    LockImage first = collectLocks(container, {.pathsOf = &pathsOf, .paths = &paths, .keep = &kept});
    REQUIRE(fdOf(processOf(first, agent.pid()), unlockedFd));
    CHECK(paths.at({agent.pid(), wantedFd}) == wanted);
    // Kept open by this process: the fdinfo files of the locked fd and the wanted one, no other.
    std::set<std::string> keptFiles;
    std::string fdinfo = "/proc/" + std::to_string(agent.pid()) + "/fdinfo/";
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
        std::error_code error;
        std::string target = std::filesystem::read_symlink(entry.path(), error);
        if (!error && target.rfind(fdinfo, 0) == 0) keptFiles.insert(target.substr(fdinfo.size()));
    }
    CHECK(keptFiles == std::set<std::string>{std::to_string(unlockedFd), std::to_string(wantedFd)});

    // Kept: the locked fd and the wanted one; plainFd was closed after its read and is opened again.
    REQUIRE(agent.call("posix " + std::to_string(unlockedFd) + " u 0 10") == "ok");
    REQUIRE(agent.call("flock " + std::to_string(wantedFd) + " sh") == "ok");
    REQUIRE(agent.call("ofd " + std::to_string(plainFd) + " r 5 5") == "ok");
    LockImage second = collectLocks(container, {.kept = &kept});
    const Process& process = processOf(second, agent.pid());
    CHECK(procLocksLinesForInode(inodeOf(unlocked)).empty());
    CHECK_FALSE(fdOf(process, unlockedFd));
    REQUIRE(procLocksLinesForInode(inodeOf(wanted)).size() == 1);
    REQUIRE(descriptionsOn(second, inodeOf(wanted)).size() == 1);
    CHECK(descriptionsOn(second, inodeOf(wanted))[0]->locks.at(0).kind == LockKind::flock);
    CHECK(fdOf(process, wantedFd)->file.path == wanted);
    REQUIRE(procLocksLinesForInode(inodeOf(plain)).size() == 1);
    REQUIRE(descriptionsOn(second, inodeOf(plain)).size() == 1);
    CHECK(descriptionsOn(second, inodeOf(plain))[0]->locks.at(0).range.start == 5);
    CHECK(fdOf(process, plainFd)->file.path == plain);
}

TEST_CASE("collect: a thread with an fd table of its own holding a lock is refused in one line, not left out") {
    Scene scene;
    Agent& agent = scene.spawn();
    std::string file = scene.directory.file("owntable");
    int fd = openIn(agent, file);
    std::string reply = agent.call("own-table-thread " + std::to_string(fd) + " 0 10");
    REQUIRE(reply.rfind("ok ", 0) == 0);
    std::string tid = reply.substr(3);
    REQUIRE(posixHolder(file, F_WRLCK, 0, 1) == agent.pid());  // the kernel has the thread's lock
    CHECK(fdinfoLockLines(agent.pid(), fd).empty());           // the process's own table shows none

    CommandResult result = runLockcr({"inspect", "--pid", std::to_string(agent.pid())});
    CHECK(result.status == 1);
    CHECK_MESSAGE(result.err.find("thread " + tid + " has an fd table of its own") != std::string::npos, result.err);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
}

TEST_CASE("collect: a thread with an fd table of its own but no lock of its own is no reason to refuse") {
    Scene scene;
    Agent& agent = scene.spawn();
    std::string file = scene.directory.file("sharedtable");
    int fd = openIn(agent, file);
    REQUIRE(agent.call("flock " + std::to_string(fd) + " ex") == "ok");  // shown on the thread's copy too
    REQUIRE(agent.call("own-table-thread " + std::to_string(fd)).rfind("ok ", 0) == 0);

    LockImage image = collect(scene);
    REQUIRE(descriptionsOn(image, inodeOf(file)).size() == 1);
    CHECK(descriptionsOn(image, inodeOf(file))[0]->locks.at(0).kind == LockKind::flock);
}

TEST_CASE("collect: a flock inherited across fork is one description with both holders") {
    Scene scene;
    Agent& parent = scene.spawn();
    std::string file = scene.directory.file("inherited");
    int fd = openIn(parent, file);
    REQUIRE(parent.call("flock " + std::to_string(fd) + " sh") == "ok");
    Agent child = parent.forkAgent();

    LockImage image = collect(scene);
    auto descriptions = descriptionsOn(image, inodeOf(file));
    REQUIRE(descriptions.size() == 1);
    std::vector<Holder> holders = descriptions[0]->holders;
    std::sort(holders.begin(), holders.end(), [](auto& a, auto& b) { return a.containerPid < b.containerPid; });
    CHECK(holders ==
          std::vector<Holder>{{std::min(parent.pid(), child.pid()), fd}, {std::max(parent.pid(), child.pid()), fd}});
    CHECK(procLocksLinesForInode(inodeOf(file)).size() == 1);  // the kernel has one lock, not two
}

TEST_CASE("collect: a dup'd fd shares the description; a second open is a description of its own") {
    Scene scene;
    Agent& agent = scene.spawn();
    std::string file = scene.directory.file("dup");
    int fd = openIn(agent, file);
    int copy = static_cast<int>(agent.callForNumber("dup " + std::to_string(fd)));
    int other = openIn(agent, file);
    REQUIRE(agent.call("flock " + std::to_string(fd) + " sh") == "ok");
    REQUIRE(agent.call("flock " + std::to_string(other) + " sh") == "ok");

    LockImage image = collect(scene);
    auto descriptions = descriptionsOn(image, inodeOf(file));
    REQUIRE(descriptions.size() == 2);
    REQUIRE(procLocksLinesForInode(inodeOf(file)).size() == 2);
    auto holdsFd = [&](const OpenFileDescription* d, int number) {
        return std::any_of(d->holders.begin(), d->holders.end(), [&](const Holder& h) { return h.fd == number; });
    };
    const OpenFileDescription* shared = holdsFd(descriptions[0], fd) ? descriptions[0] : descriptions[1];
    const OpenFileDescription* alone = shared == descriptions[0] ? descriptions[1] : descriptions[0];
    CHECK(shared->holders.size() == 2);
    CHECK(holdsFd(shared, copy));
    CHECK(alone->holders == std::vector<Holder>{{agent.pid(), other}});
}

TEST_CASE("collect: an OFD lock shared by two processes is recorded once") {
    Scene scene;
    Agent& parent = scene.spawn();
    std::string file = scene.directory.file("ofd-shared");
    int fd = openIn(parent, file);
    REQUIRE(parent.call("ofd " + std::to_string(fd) + " w 0 0") == "ok");
    Agent child = parent.forkAgent();

    LockImage image = collect(scene);
    auto descriptions = descriptionsOn(image, inodeOf(file));
    REQUIRE(descriptions.size() == 1);
    CHECK(descriptions[0]->holders.size() == 2);
    CHECK(descriptions[0]->locks.size() == 1);
}

TEST_CASE("collect: a POSIX lock a child takes on an inherited fd is the child's, not the parent's") {
    Scene scene;
    Agent& parent = scene.spawn();
    std::string file = scene.directory.file("child-posix");
    int fd = openIn(parent, file);
    pid_t child = static_cast<pid_t>(parent.callForNumber("spawn-child-posix " + std::to_string(fd) + " w 0 10"));
    REQUIRE(posixHolder(file, F_WRLCK, 0, 1) == child);

    LockImage image = collect(scene);
    const ProcessFd* childFd = fdOf(processOf(image, child), fd);
    REQUIRE(childFd);
    CHECK(childFd->posixLocks.size() == 1);
    CHECK(fdOf(processOf(image, parent.pid()), fd) == nullptr);
}

TEST_CASE("collect: a lock on an unlinked file keeps its path, marked deleted") {
    Scene scene;
    Agent& agent = scene.spawn();
    std::string file = scene.directory.file("gone");
    int fd = openIn(agent, file);
    uint64_t inode = inodeOf(file);
    REQUIRE(agent.call("posix " + std::to_string(fd) + " w 0 0") == "ok");
    REQUIRE(agent.call("unlink " + file) == "ok");

    LockImage image = collect(scene);
    const ProcessFd* entry = fdOf(processOf(image, agent.pid()), fd);
    REQUIRE(entry);
    CHECK(entry->file.deleted);
    CHECK(entry->file.path == file);
    CHECK(entry->file.inode == inode);
    CHECK(procLocksLinesForInode(inode).size() == 1);
}

TEST_CASE("collect: a multi-threaded holder's POSIX lock belongs to the process") {
    Scene scene;
    Agent& agent = scene.spawn();
    REQUIRE(agent.call("threads 3") == "ok");
    std::string file = scene.directory.file("threads");
    int fd = openIn(agent, file);
    REQUIRE(agent.call("posix " + std::to_string(fd) + " w 0 0") == "ok");

    LockImage image = collect(scene);
    const Process& process = processOf(image, agent.pid());
    CHECK(process.threadCount == 4);
    REQUIRE(fdOf(process, fd));
    CHECK(fdOf(process, fd)->posixLocks.size() == 1);
}

TEST_CASE("collect: a blocked F_SETLKW waiter is recorded running and frozen (when /proc/locks hides it)") {
    Scene scene;
    Agent& holder = scene.spawn();
    Agent& waiter = scene.spawn();
    std::string file = scene.directory.file("waited");
    int holderFd = openIn(holder, file), waiterFd = openIn(waiter, file);
    REQUIRE(holder.call("posix " + std::to_string(holderFd) + " w 0 100") == "ok");
    waiter.send("posix " + std::to_string(waiterFd) + " w 50 10 wait");
    REQUIRE(waitUntil([&] {
        for (const std::string& line : procLocksLinesForInode(inodeOf(file)))
            if (line.find("->") != std::string::npos) return true;
        return false;
    }));

    auto checkWaiter = [&](const LockImage& image) {
        REQUIRE(image.waiters.size() == 1);
        const Waiter& recorded = image.waiters[0];
        CHECK(recorded.hostPid == waiter.pid());
        CHECK(recorded.requested.kind == LockKind::posix);
        CHECK(recorded.requested.range.start == 50);
        CHECK(recorded.requested.range.end == 59);
        CHECK(recorded.blockedOn.range.end == 99);
        CHECK(recorded.blockedOnContainerPid == holder.pid());
        CHECK(recorded.path == file);
    };
    checkWaiter(collect(scene));

    scene.cgroup.freeze();
    bool hidden = true;
    for (const std::string& line : procLocksLinesForInode(inodeOf(file)))
        hidden &= line.find("->") == std::string::npos;
    CHECK(hidden);  // the kernel fact the syscall view exists for
    checkWaiter(collect(scene));
    scene.cgroup.thaw();
    CHECK_FALSE(waiter.reply(200).has_value());  // still waiting after the thaw
}

TEST_CASE("collect: a waiter in a process whose main thread exited is recorded, frozen too") {
    Scene scene;
    Agent& holder = scene.spawn();
    Agent& waiter = scene.spawn();
    std::string file = scene.directory.file("zombiewaited");
    int holderFd = openIn(holder, file), waiterFd = openIn(waiter, file);
    REQUIRE(holder.call("posix " + std::to_string(holderFd) + " w 0 100") == "ok");
    REQUIRE(waiter.call("leader-exit") == "ok");
    waiter.send("posix " + std::to_string(waiterFd) + " w 50 10 wait");
    REQUIRE(waitUntil([&] {
        for (const std::string& line : procLocksLinesForInode(inodeOf(file)))
            if (line.find("->") != std::string::npos) return true;
        return false;
    }));
    for (bool frozen : {false, true}) {
        if (frozen) scene.cgroup.freeze();
        LockImage image = collect(scene);
        REQUIRE(image.waiters.size() == 1);
        CHECK(image.waiters[0].hostPid == waiter.pid());
        CHECK(image.waiters[0].requested.range.start == 50);
        CHECK(image.waiters[0].path == file);
    }
    scene.cgroup.thaw();
}

TEST_CASE("collect: an OFD waiter, which /proc/locks shows with pid -1, is attributed to its process") {
    Scene scene;
    Agent& holder = scene.spawn();
    Agent& waiter = scene.spawn();
    std::string file = scene.directory.file("ofd-waited");
    int holderFd = openIn(holder, file), waiterFd = openIn(waiter, file);
    REQUIRE(holder.call("ofd " + std::to_string(holderFd) + " w 0 0") == "ok");
    waiter.send("ofd " + std::to_string(waiterFd) + " r 0 0 wait");
    REQUIRE(waitUntil([&] { return procLocksLinesForInode(inodeOf(file)).size() == 2; }));

    LockImage image = collect(scene);
    REQUIRE(image.waiters.size() == 1);
    CHECK(image.waiters[0].hostPid == waiter.pid());
    CHECK(image.waiters[0].requested.kind == LockKind::ofd);
    CHECK(image.waiters[0].blockedOn.kind == LockKind::ofd);
}

TEST_CASE("dump: freezes, writes a 0600 image valid against the schema, thaws") {
    Scene scene;
    Agent& agent = scene.spawn();
    std::string file = scene.directory.file("dumped");
    int fd = openIn(agent, file);
    REQUIRE(agent.call("posix " + std::to_string(fd) + " w 0 9") == "ok");
    REQUIRE(agent.call("flock " + std::to_string(fd) + " ex") == "ok");
    std::string imagePath = scene.directory.file("image.json");

    CommandResult result = runLockcr({"dump", "--pid", std::to_string(agent.pid()), "-o", imagePath});
    REQUIRE_MESSAGE(result.status == 0, result.err);
    struct stat info {};
    REQUIRE(stat(imagePath.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    CHECK(imageMatchesSchema(imagePath));
    CHECK(scene.cgroup.state() == "THAWED");
    auto json = nlohmann::json::parse(readWholeFile(imagePath));
    CHECK(json["processes"][0]["fds"][0]["lock_count"] == 1);
    CHECK(agent.call("pid").rfind("ok", 0) == 0);  // running again
}

TEST_CASE("dump: a container that was frozen before stays frozen") {
    Scene scene;
    Agent& agent = scene.spawn();
    int fd = openIn(agent, scene.directory.file("f"));
    REQUIRE(agent.call("posix " + std::to_string(fd) + " w 0 0") == "ok");
    scene.cgroup.freeze();
    CommandResult result = runLockcr(
        {"dump", "--pid", std::to_string(agent.pid()), "-o", scene.directory.file("i.json")});
    CHECK_MESSAGE(result.status == 0, result.err);
    CHECK(scene.cgroup.state() == "FROZEN");
}

TEST_CASE("bad input: dead pid, non-container pid, bad state JSON give one line and exit 2") {
    TempDirectory directory;
    auto expectBadInput = [](const CommandResult& result, const std::string& needle) {
        CHECK(result.status == 2);
        CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
        CHECK_MESSAGE(result.err.find(needle) != std::string::npos, result.err);
    };
    expectBadInput(runLockcr({"inspect", "--pid", "4194000"}), "no such process");
    expectBadInput(runLockcr({"inspect", "--pid", std::to_string(getpid())}), "not in a container");
    expectBadInput(runLockcr({"inspect", "--state", "-"}, "{\"id\": 5"), "state -");
    expectBadInput(
        runLockcr({"inspect", "--state", "-"},
                  "{\"ociVersion\":\"1.0.2\",\"id\":\"x\",\"status\":\"running\",\"pid\":-4,\"bundle\":\"/b\"}"),
        "pid");
    expectBadInput(runLockcr({"inspect", "--state", "-"}, std::string(2 << 20, ' ')), "1 MiB");
    expectBadInput(runLockcr({"dump", "--pid", "1"}), "output");
    expectBadInput(runLockcr({"inspect", "--pid", "abc"}), "pid");
    std::string image = directory.file("never.json");
    CHECK(runLockcr({"dump", "--pid", "4194000", "-o", image}).status == 2);
    CHECK(access(image.c_str(), F_OK) != 0);  // nothing half-written
}

TEST_CASE("collect: processes exiting mid-scan are skipped, never a crash or a partial image") {
    Scene scene;
    Agent& agent = scene.spawn();
    std::string churn = scene.directory.file("churn");
    int fd = openIn(agent, churn);
    REQUIRE(agent.call("posix " + std::to_string(fd) + " w 0 50") == "ok");
    int images = 0;
    for (int round = 0; round < 20; ++round) {
        for (int i = 0; i < 5; ++i) agent.callForNumber("spawn-child-posix " + std::to_string(fd) + " r 100 1");
        // The children hold nothing the parent doesn't; kill them while a collection runs.
        pid_t killer = fork();
        if (killer == 0) {
            for (pid_t pid : scene.cgroup.members())
                if (pid != agent.pid()) kill(pid, SIGKILL);
            _exit(0);
        }
        CommandResult result = runLockcr({"inspect", "--pid", std::to_string(agent.pid()), "--json"});
        waitpid(killer, nullptr, 0);
        REQUIRE_MESSAGE((result.status == 0 || result.status == 1), result.err);
        if (result.status != 0) {
            CHECK_MESSAGE(std::count(result.err.begin(), result.err.end(), '\n') == 1, result.err);
            continue;
        }
        // An image: it holds the agent's lock, which the kernel still shows (no partial image).
        LockImage image;
        REQUIRE_NOTHROW(image = lockImageFromJson(nlohmann::json::parse(result.out)));
        const ProcessFd* entry = fdOf(processOf(image, agent.pid()), fd);
        REQUIRE_MESSAGE(entry, result.out);
        REQUIRE(entry->posixLocks.size() == 1);
        CHECK(entry->posixLocks[0].type == LockType::write);
        CHECK(entry->posixLocks[0].range.start == 0);
        CHECK(entry->posixLocks[0].range.end == 49);
        ++images;
    }
    CHECK(posixHolder(churn, F_WRLCK, 0, 1) == agent.pid());
    // Exiting processes are skipped: most rounds must give an image, or the test checks nothing.
    CHECK_MESSAGE(images >= 10, images, " of 20 rounds gave an image");
}

TEST_CASE(
    "collect: hundreds of fds in several processes, read in chunks on the workers, are all recorded in fd order") {
    // 3 processes x 150 flocked files: past the single-chunk size (256 fds) and several chunks of
    // 64 per process, which the workers take a process at a time in turn. A POSIX lock is set
    // through a low fd and dup'd past the first chunk: its fdinfo shows the lock too, and the image
    // keeps it once, under the lowest fd.
    Scene scene;
    constexpr int kFilesEach = 150;
    std::vector<std::vector<int>> flocked(3);
    std::string posixFile = scene.directory.file("posix");
    int posixFd = -1;
    for (int p = 0; p < 3; ++p) {
        Agent& agent = scene.spawn();
        if (p == 0) posixFd = openIn(agent, posixFile);  // a low fd, in the first chunk
        for (int i = 0; i < kFilesEach; ++i) {
            int fd = openIn(agent, scene.directory.file("p" + std::to_string(p) + "-" + std::to_string(i)));
            REQUIRE(agent.call("flock " + std::to_string(fd) + " ex") == "ok");
            flocked[p].push_back(fd);
        }
    }
    Agent& first = scene.agents.front();
    REQUIRE(first.call("posix " + std::to_string(posixFd) + " w 10 5") == "ok");
    int copy = static_cast<int>(first.callForNumber("dup " + std::to_string(posixFd)));
    REQUIRE(copy > posixFd + 2 * 64);                         // a chunk (64 fds) or two further on
    REQUIRE(fdinfoLockLines(first.pid(), copy).size() == 1);  // the kernel shows the lock on the dup too

    LockImage image = collect(scene);
    for (int p = 0; p < 3; ++p) {
        const Process& process = processOf(image, scene.agents[p].pid());
        CHECK(std::is_sorted(process.fds.begin(), process.fds.end(),
                             [](const ProcessFd& a, const ProcessFd& b) { return a.fd < b.fd; }));
        for (int fd : flocked[p]) {
            const ProcessFd* entry = fdOf(process, fd);
            REQUIRE_MESSAGE(entry, "pid " << scene.agents[p].pid() << " fd " << fd << " missing");
            REQUIRE(entry->descriptionId >= 0);
            const OpenFileDescription& description = image.descriptions[entry->descriptionId];
            REQUIRE(description.locks.size() == fdinfoLockLines(scene.agents[p].pid(), fd).size());
            CHECK(description.locks[0].kind == LockKind::flock);
            CHECK(description.holders == std::vector<Holder>{{scene.agents[p].pid(), fd}});
            CHECK(flockWouldBlock(entry->file.path, LOCK_SH));  // an exclusive flock is held there
        }
    }
    const Process& holder = processOf(image, first.pid());
    REQUIRE(fdOf(holder, posixFd));
    CHECK(fdOf(holder, posixFd)->posixLocks.size() == 1);
    CHECK(fdOf(holder, copy) == nullptr);
    CHECK(posixHolder(posixFile, F_WRLCK, 10, 5) == first.pid());
    CHECK(countLocks(image) == 3 * kFilesEach + 1);
}

TEST_CASE("inspect: output that cannot be written (a full disk) fails in one line, not exit 0") {
    Scene scene;
    Agent& agent = scene.spawn();
    int fd = openIn(agent, scene.directory.file("full"));
    REQUIRE(agent.call("flock " + std::to_string(fd) + " ex") == "ok");
    std::string errors = scene.directory.file("stderr");
    std::string command = std::string(LOCKCR_BINARY) + " inspect --pid " + scene.pid() + " --json >/dev/full 2>" +
                          errors;
    int status = std::system(command.c_str());
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) != 0);
    std::string said = readWholeFile(errors);
    CHECK_MESSAGE(std::count(said.begin(), said.end(), '\n') == 1, said);
    CHECK_MESSAGE(said.find("standard output") != std::string::npos, said);
}
