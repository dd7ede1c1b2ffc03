// Writing the lock image where the disk says no: a full filesystem and a read-only one (a tiny
// tmpfs of this test's own). The image before stays byte for byte what it was, nothing half-written
// is left beside it, and lockcr says in one line what failed, where and why.
#include <sys/mount.h>
#include <sys/stat.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "agent.h"
#include "run_lockcr.h"
#include "scene.h"

using namespace lockcr::test;

namespace {

// A tmpfs of SIZE bytes mounted on a directory of its own, unmounted when the test ends
// (tests/container/sweep.sh unmounts it if this process is killed: lockcr-test-PID-).
class TinyFilesystem {
public:
    explicit TinyFilesystem(const std::string& size) {
        std::string options = "size=" + size + ",mode=0700";
        if (::mount("lockcr-test", directory_.path().c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0)
            throw std::runtime_error("mount tmpfs on " + directory_.path() + ": " + std::strerror(errno));
    }
    TinyFilesystem(const TinyFilesystem&) = delete;
    TinyFilesystem& operator=(const TinyFilesystem&) = delete;
    ~TinyFilesystem() { ::umount2(directory_.path().c_str(), MNT_DETACH); }

    std::string file(const std::string& name) const { return directory_.file(name); }
    void remountReadOnly() {
        if (::mount(nullptr, directory_.path().c_str(), nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                    nullptr) != 0)
            throw std::runtime_error("remount read-only " + directory_.path() + ": " + std::strerror(errno));
    }
    std::vector<std::string> names() const {
        std::vector<std::string> found;
        for (const auto& entry : std::filesystem::directory_iterator(directory_.path()))
            found.push_back(entry.path().filename());
        std::sort(found.begin(), found.end());
        return found;
    }

private:
    TempDirectory directory_;
};

// An agent holding COUNT POSIX locks on separate ranges of one file: an image of about 100 bytes a lock.
void holdPosixLocks(Agent& agent, const std::string& path, int count) {
    int fd = openIn(agent, path);
    for (int i = 0; i < count; i++)
        REQUIRE(agent.call("posix " + std::to_string(fd) + " w " + std::to_string(2 * i) + " 1") == "ok");
}

void expectOneLineNaming(const CommandResult& result, const std::string& path, const std::string& why) {
    CHECK(result.status == 1);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK_MESSAGE(result.err.find(path) != std::string::npos, result.err);
    CHECK_MESSAGE(result.err.find(why) != std::string::npos, result.err);
}

// The image the second dump must leave alone: a first dump of AGENT holding LOCKS POSIX locks.
std::string dumpPreviousImage(Scene& scene, Agent& agent, const std::string& image, int locks) {
    holdPosixLocks(agent, scene.directory.file("data"), locks);
    CommandResult first = runLockcr({"dump", "--pid", std::to_string(agent.pid()), "-o", image});
    REQUIRE_MESSAGE(first.status == 0, first.err);
    std::string previous = readWholeFile(image);
    REQUIRE(previous.find("\"posix\"") != std::string::npos);
    return previous;
}

// A first dump succeeds; then FAULT happens to the disk and the agent takes MORE_LOCKS more; the
// second dump must fail in one line naming WHERE and WHY, and leave the first image as it was.
enum class DiskFault { full, readOnly };
void expectSecondDumpLeavesFirst(DiskFault fault, int moreLocks, const std::string& why) {
    Scene scene;
    Agent& agent = scene.spawn();
    TinyFilesystem disk("16k");
    std::string image = disk.file("web.locks.json");
    std::string previous = dumpPreviousImage(scene, agent, image, 2);
    if (fault == DiskFault::readOnly) disk.remountReadOnly();

    holdPosixLocks(agent, scene.directory.file("more"), moreLocks);
    CommandResult second = runLockcr({"dump", "--pid", std::to_string(agent.pid()), "-o", image});
    // A full disk fails the write of the temporary file; a read-only one its creation.
    expectOneLineNaming(second, fault == DiskFault::full ? disk.file(".lockcr-tmp-") : image, why);
    CHECK(readWholeFile(image) == previous);
    CHECK(disk.names() == std::vector<std::string>{"web.locks.json"});  // no temporary file left
    CHECK(scene.cgroup.state() == "THAWED");                            // the container runs on
}

}  // namespace

TEST_CASE("dump onto a full filesystem: the previous image is untouched, no temporary file is left") {
    expectSecondDumpLeavesFirst(DiskFault::full, 400, "No space left on device");  // ~40 KB of image on 16 KB
}

TEST_CASE("dump into a read-only directory: the previous image is untouched, the error says why") {
    expectSecondDumpLeavesFirst(DiskFault::readOnly, 3, "Read-only file system");
}
