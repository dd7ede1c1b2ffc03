// The lock image as JSON: layout, round trip, every validation the reader makes, and the atomic
// file write.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>

#include "image/json.h"
#include "util/error.h"
#include "util/sys.h"

using namespace lockcr;
using doctest::Contains;
using nlohmann::json;

namespace {

// A container with a POSIX lock, a flock shared by two fds, a breaking lease with a signal owner,
// an OFD lock and a blocked waiter.
LockImage sampleImage() {
    LockImage image;
    image.createdAt = "2025-11-25T04:19:00Z";
    image.tool = "lockcr 0.1.0";
    image.host = {"node1", "6.18.44", "0d4c7c3e-5a58-4d8c-9d3e-1b7f6c2a9e10"};
    image.container = {
        "lockdemo", "/var/lib/lockcr/bundles/lockdemo", "/run/runc/lockdemo/rootfs", 4637, 4026532291, "/lockdemo",
        "cgroup"};
    FileIdentity data{"/data/a", false, 27, {0xfe, 0}, 10952991};
    FileIdentity leased{"/data/d", true, 27, {0xfe, 0}, 10952994};
    Process process{1, 4637, "holder", 2, {}};
    process.fds.push_back({3,
                           -1,
                           02100002,
                           data,
                           {Lock{LockKind::posix, LockType::write, LeaseState::none, {5, 14}},
                            Lock{LockKind::posix, LockType::read, LeaseState::none, {100, {}}}}});
    process.fds.push_back({4, 0, 02100000, data, {}});
    process.fds.push_back({5, 0, 02100000, data, {}});
    process.fds.push_back({6, 1, 02120000, leased, {}});
    image.processes.push_back(process);
    image.processes.push_back({2, 4639, "waiter", 1, {{3, -1, 02, data, {}}}});
    OpenFileDescription flock{0, data, 02100000, {{1, 4}, {1, 5}}, {}, std::nullopt};
    flock.locks.push_back({LockKind::flock, LockType::read, LeaseState::none, {0, {}}, 1});
    flock.locks.push_back({LockKind::ofd, LockType::write, LeaseState::none, {50, 99}});
    OpenFileDescription lease{1, leased, 02120000, {{1, 6}}, {}, SignalOwner{F_OWNER_PID, 1, 0}};
    lease.locks.push_back({LockKind::lease, LockType::unlock, LeaseState::breaking, {0, {}}});
    image.descriptions = {flock, lease};
    image.waiters.push_back({2,
                             4639,
                             {LockKind::posix, LockType::write, LeaseState::none, {5, 14}},
                             {0xfe, 0},
                             10952991,
                             "/data/a",
                             {LockKind::posix, LockType::write, LeaseState::none, {5, 14}},
                             1});
    return image;
}

// The message lockImageFromJson gives after `change` is applied to the sample's JSON.
std::string rejection(const std::function<void(json&)>& change) {
    json document = lockImageToJson(sampleImage());
    change(document);
    try {
        lockImageFromJson(document);
    } catch (const Error& error) {
        CHECK(error.status() == ExitStatus::badInput);
        return error.what();
    }
    return "(accepted)";
}

// A directory under /tmp removed with everything in it when the test ends.
struct TemporaryDirectory {
    TemporaryDirectory() {
        // lockcr-test-PID-: tests/container/sweep.sh removes it if this process is killed.
        std::string name = "/tmp/lockcr-test-" + std::to_string(::getpid()) + "-image-XXXXXX";
        REQUIRE(::mkdtemp(name.data()) != nullptr);
        path = name;
    }
    ~TemporaryDirectory() { std::filesystem::remove_all(path); }
    std::vector<std::string> entries() const {
        std::vector<std::string> names;
        for (const auto& entry : std::filesystem::directory_iterator(path)) names.push_back(entry.path().filename());
        return names;
    }
    std::string path;
};

// 20,000 POSIX locks on 40 processes and 2,000 flocks: big enough to be formatted on the workers.
LockImage largeImage() {
    LockImage image = sampleImage();
    image.processes.clear();
    image.descriptions.clear();
    image.waiters.clear();
    for (int p = 0; p < 40; ++p) {
        Process process{p + 1, 5000 + p, "holder", 1, {}};
        for (int f = 0; f < 50; ++f) {
            ProcessFd fd{f + 3,
                         -1,
                         02,
                         {"/data/p" + std::to_string(p) + "-" + std::to_string(f),
                          false,
                          27,
                          {0xfe, 0},
                          static_cast<uint64_t>(1000 * p + f)},
                         {}};
            for (uint64_t l = 0; l < 10; ++l)
                fd.posixLocks.push_back({LockKind::posix, LockType::write, LeaseState::none, {2 * l, 2 * l}});
            process.fds.push_back(fd);
        }
        image.processes.push_back(process);
    }
    for (int d = 0; d < 2000; ++d) {
        int holder = d % 40, fd = 100 + d / 40;
        image.processes[holder].fds.push_back(
            {fd, d, 02, {"/data/f" + std::to_string(d), false, 27, {0xfe, 0}, static_cast<uint64_t>(900000 + d)}, {}});
        OpenFileDescription description{d, image.processes[holder].fds.back().file, 02, {{holder + 1, fd}}, {}, {}};
        description.locks.push_back({LockKind::flock, LockType::write, LeaseState::none, {0, {}}, holder + 1});
        image.descriptions.push_back(description);
    }
    return image;
}

}  // namespace

TEST_CASE("the JSON layout is the seed's: per process, per fd, a count then each lock") {
    json document = lockImageToJson(sampleImage());
    CHECK(document["$schema"] == kLockImageSchemaId);
    CHECK(document["version"] == 1);
    const json& fd = document["processes"][0]["fds"][0];
    CHECK(fd["flags"] == "02100002");
    CHECK(fd["dev"] == "fe:00");
    CHECK(fd["description"].is_null());
    CHECK(fd["lock_count"] == 2);
    CHECK(fd["locks"][1]["end"] == "EOF");
    CHECK(fd["locks"][0]["end"] == 14);
    CHECK_FALSE(fd["locks"][0].contains("lease_state"));
    const json& lease = document["descriptions"][1];
    CHECK(lease["locks"][0]["lease_state"] == "breaking");
    CHECK(lease["locks"][0]["type"] == "unlock");
    CHECK(lease["signal_owner"] == json{{"type", "pid"}, {"pid", 1}, {"signal", 0}});
    CHECK_FALSE(document["descriptions"][0].contains("signal_owner"));
    CHECK(document["waiters"][0]["blocked_on_pid"] == 1);
    CHECK(document["descriptions"][0]["locks"][0]["set_by"] == 1);
    CHECK_FALSE(document["descriptions"][0]["locks"][1].contains("set_by"));
    CHECK_FALSE(lease["locks"][0].contains("set_by"));
}

TEST_CASE("an image survives a round trip through JSON unchanged") {
    LockImage image = sampleImage();
    LockImage back = lockImageFromJson(lockImageToJson(image));
    CHECK(lockImageToJson(back) == lockImageToJson(image));
    CHECK(back.processes[0].fds[0].posixLocks == image.processes[0].fds[0].posixLocks);
    CHECK(back.descriptions[1].signalOwner == image.descriptions[1].signalOwner);
    CHECK(back.descriptions[0].holders == image.descriptions[0].holders);
    CHECK(back.waiters[0].blockedOn == image.waiters[0].blockedOn);
    CHECK(back.container.pidNamespace == 4026532291);
    CHECK(back.processes[0].fds[3].file.deleted);
}

TEST_CASE("a large image is formatted in pieces that make one text, and reads back whole") {
    LockImage image = largeImage();
    std::vector<std::string> pieces = lockImageToPieces(image);
    CHECK(pieces.size() > 5);
    std::string text;
    for (const std::string& piece : pieces) text += piece;
    LockImage back = lockImageFromText(text);
    CHECK(countLocks(back) == 22000);
    CHECK(back.processes.size() == 40);
    CHECK(back.descriptions.size() == 2000);
    CHECK(back.processes[39].fds.back().fd == image.processes[39].fds.back().fd);
    CHECK(lockImageToJson(back) == json::parse(text));

    SUBCASE("a path that cannot be recorded fails the whole text, from whichever worker met it") {
        image.processes[33].fds[7].file.path = std::string("/data/") + '\xff';
        CHECK_THROWS_WITH_AS(lockImageToPieces(image), Contains("is not valid UTF-8"), Error);
    }
}

TEST_CASE("an image with no processes and no descriptions is still one valid text") {
    LockImage image = sampleImage();
    image.processes.clear();
    image.descriptions.clear();
    image.waiters.clear();
    json document = json::parse(lockImageToText(image));
    CHECK(document["processes"].empty());
    CHECK(document["descriptions"].empty());
    CHECK(document["waiters"].empty());
}

TEST_CASE("the committed sample image is read") {
    LockImage image = readLockImage(std::string(LOCKCR_SAMPLES) + "/lock_image.json");
    CHECK(lockImageToJson(image) == lockImageToJson(sampleImage()));
}

TEST_CASE("an unknown version is refused naming the supported one") {
    CHECK(rejection([](json& d) { d["version"] = 2; }) ==
          "version: unsupported lock image version 2 (this lockcr reads version 1)");
    CHECK(rejection([](json& d) { d["version"] = "1"; }) ==
          "version: unsupported lock image version \"1\" (this lockcr reads version 1)");
    CHECK(rejection([](json& d) { d["$schema"] = "https://example.com/x"; }) ==
          "$schema: expected \"https://lockcr.dev/schema/lock-image/v1\"");
}

TEST_CASE("missing fields and unknown fields are refused where they are") {
    CHECK(rejection([](json& d) { d.erase("waiters"); }) == "waiters: missing");
    CHECK(rejection([](json& d) { d["extra"] = 1; }) == "top level: unknown field \"extra\"");
    CHECK(rejection([](json& d) {
              d["processes"][1]["fds"][0]["locks"] = json::array({{{"x", 1}}});
              d["processes"][1]["fds"][0]["lock_count"] = 1;
          }) == "processes[1].fds[0].locks[0]: unknown field \"x\"");
    CHECK(rejection([](json& d) { d["descriptions"][0].erase("holders"); }) == "descriptions[0].holders: missing");
    CHECK(rejection([](json& d) { d["descriptions"][0]["holders"] = json::array(); }) ==
          "descriptions[0].holders: a description has at least one holder (pid, fd)");
    CHECK(rejection([](json& d) { d = json::array(); }) == "top level: expected object, got array");
}

TEST_CASE("every field's type is checked") {
    CHECK(rejection([](json& d) { d["processes"][0]["pid"] = "1"; }) ==
          "processes[0].pid: expected integer, got string");
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][0]["deleted"] = 0; }) ==
          "processes[0].fds[0].deleted: expected boolean, got number");
    CHECK(rejection([](json& d) { d["host"]["hostname"] = nullptr; }) == "host.hostname: expected string, got null");
    CHECK(rejection([](json& d) { d["processes"][0]["fds"] = json::object(); }) ==
          "processes[0].fds: expected array, got object");
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][0]["ino"] = -1; }) ==
          "processes[0].fds[0].ino: expected integer >= 0, got -1");
    CHECK(rejection([](json& d) { d["processes"][0]["threads"] = 1.5; }) ==
          "processes[0].threads: expected integer, got number");
}

TEST_CASE("numbers outside their range are refused") {
    CHECK(rejection([](json& d) { d["processes"][0]["pid"] = 0; }) ==
          "processes[0].pid: expected integer in 1..4194304, got 0");
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][0]["fd"] = 1ull << 40; }) ==
          "processes[0].fds[0].fd: expected integer in 0..2147483647, got 1099511627776");
    CHECK(rejection([](json& d) { d["descriptions"][1]["signal_owner"]["signal"] = 65; }) ==
          "descriptions[1].signal_owner.signal: expected integer in 0..64, got 65");
}

TEST_CASE("a lock end must be an integer not before the start, or \"EOF\"") {
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][0]["locks"][1]["end"] = "eof"; }) ==
          "processes[0].fds[0].locks[1].end: expected integer or \"EOF\"");
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][0]["locks"][0]["end"] = 4; }) ==
          "processes[0].fds[0].locks[0].end: 4 is outside 5..9223372036854775806");
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][0]["locks"][0]["end"] = -4; }) ==
          "processes[0].fds[0].locks[0].end: expected integer or \"EOF\"");
}

TEST_CASE("lock_count must equal the number of locks") {
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][0]["lock_count"] = 3; }) ==
          "processes[0].fds[0].lock_count: 3 but \"locks\" has 2");
    CHECK(rejection([](json& d) { d["descriptions"][0]["lock_count"] = 0; }) ==
          "descriptions[0].lock_count: 0 but \"locks\" has 2");
}

TEST_CASE("description ids are unique indexes and every fd's description exists") {
    CHECK(rejection([](json& d) { d["descriptions"][1]["id"] = 0; }) == "descriptions[1].id: id 0 appears twice");
    CHECK(rejection([](json& d) { d["descriptions"][1]["id"] = 5; }) ==
          "descriptions[1].id: expected 1 (a description's id is its index in this array)");
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][1]["description"] = 7; }) ==
          "processes[0].fds[1].description: no description has id 7");
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][1]["description"] = -1; }) ==
          "processes[0].fds[1].description: expected integer in 0..2147483647, got -1");
}

TEST_CASE("a process or an fd recorded twice is refused") {
    CHECK(rejection([](json& d) { d["processes"][1]["pid"] = 1; }) == "processes[1].pid: pid 1 appears twice");
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][1]["fd"] = 3; }) ==
          "processes[0].fds[1].fd: fd 3 appears twice");
}

TEST_CASE("kinds, types and lease states are known names") {
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][0]["locks"][0]["kind"] = "fcntl"; }) ==
          "processes[0].fds[0].locks[0].kind: unknown lock kind \"fcntl\" (expected posix, ofd, "
          "flock or lease)");
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][0]["locks"][0]["type"] = "WRITE"; }) ==
          "processes[0].fds[0].locks[0].type: unknown lock type \"WRITE\" (expected read, write "
          "or unlock)");
    CHECK(rejection([](json& d) { d["descriptions"][1]["locks"][0]["lease_state"] = "gone"; }) ==
          "descriptions[1].locks[0].lease_state: unknown lease state \"gone\" (expected none, "
          "active, breaking or breaker)");
}

TEST_CASE("lease_state is required for leases and refused for the others") {
    CHECK(rejection([](json& d) { d["descriptions"][1]["locks"][0].erase("lease_state"); }) ==
          "descriptions[1].locks[0].lease_state: missing");
    CHECK(rejection([](json& d) { d["descriptions"][1]["locks"][0]["lease_state"] = "none"; }) ==
          "descriptions[1].locks[0].lease_state: a lease must be active, breaking or breaker");
    CHECK(rejection([](json& d) { d["descriptions"][0]["locks"][0]["lease_state"] = "active"; }) ==
          "descriptions[0].locks[0].lease_state: only leases have a lease_state");
}

TEST_CASE("set_by: who set a flock or lease, read back; refused on byte-range locks and out of range") {
    LockImage back = lockImageFromJson(lockImageToJson(sampleImage()));
    CHECK(back.descriptions[0].locks[0].setBy == 1);
    CHECK(back.descriptions[1].locks[0].setBy == 0);
    CHECK(rejection([](json& d) { d["descriptions"][0]["locks"][1]["set_by"] = 1; }) ==
          "descriptions[0].locks[1].set_by: only flocks and leases record who set them");
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][0]["locks"][0]["set_by"] = 1; }) ==
          "processes[0].fds[0].locks[0].set_by: only flocks and leases record who set them");
    CHECK(rejection([](json& d) { d["descriptions"][0]["locks"][0]["set_by"] = 0; }) ==
          "descriptions[0].locks[0].set_by: expected integer in 1..4194304, got 0");
}

TEST_CASE("unlock is only the target of a breaking lease") {
    CHECK(rejection([](json& d) { d["descriptions"][1]["locks"][0]["lease_state"] = "active"; }) ==
          "descriptions[1].locks[0].type: \"unlock\" is only the target of a breaking lease");
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][0]["locks"][0]["type"] = "unlock"; }) ==
          "processes[0].fds[0].locks[0].type: \"unlock\" is only the target of a breaking lease");
}

TEST_CASE("flocks and leases cover the whole file") {
    CHECK(rejection([](json& d) { d["descriptions"][0]["locks"][0]["start"] = 1; }) ==
          "descriptions[0].locks[0]: flock locks cover the whole file: start 0, end \"EOF\"");
    CHECK(rejection([](json& d) { d["descriptions"][1]["locks"][0]["end"] = 10; }) ==
          "descriptions[1].locks[0]: lease locks cover the whole file: start 0, end \"EOF\"");
}

TEST_CASE("POSIX locks live under fds, the other kinds under descriptions") {
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][0]["locks"][0]["kind"] = "ofd"; }) ==
          "processes[0].fds[0].locks[0].kind: an fd lists POSIX locks only; flock, OFD and lease "
          "locks belong to descriptions");
    CHECK(rejection([](json& d) { d["descriptions"][0]["locks"][1]["kind"] = "posix"; }) ==
          "descriptions[0].locks[1].kind: POSIX locks belong to a process fd, not to a "
          "description");
}

TEST_CASE("flags, devices, signal owners and membership have their formats") {
    CHECK(rejection([](json& d) { d["processes"][0]["fds"][0]["flags"] = "2100002"; }) ==
          "processes[0].fds[0].flags: expected open flags in octal like \"02100002\", got "
          "\"2100002\"");
    CHECK(rejection([](json& d) { d["descriptions"][0]["flags"] = "099"; }) ==
          "descriptions[0].flags: expected open flags in octal like \"02100002\", got \"099\"");
    CHECK(rejection([](json& d) { d["descriptions"][0]["flags"] = "077777777777"; }) ==
          "descriptions[0].flags: expected open flags in octal like \"02100002\", got "
          "\"077777777777\"");
    CHECK(rejection([](json& d) { d["waiters"][0]["dev"] = "fe00"; }) ==
          "waiters[0].dev: bad device number \"fe00\" (expected hex MAJOR:MINOR like \"fe:00\")");
    CHECK(rejection([](json& d) { d["descriptions"][1]["signal_owner"]["type"] = "session"; }) ==
          "descriptions[1].signal_owner.type: expected \"tid\", \"pid\" or \"pgrp\", got "
          "\"session\"");
    CHECK(rejection([](json& d) { d["container"]["membership"] = "magic"; }) ==
          "container.membership: expected \"cgroup\" or \"pid-namespace\", got \"magic\"");
}

TEST_CASE("waiters are checked like the rest") {
    CHECK(rejection([](json& d) { d["waiters"][0].erase("blocked_on"); }) == "waiters[0].blocked_on: missing");
    CHECK(rejection([](json& d) { d["waiters"][0]["requested"]["start"] = "0"; }) ==
          "waiters[0].requested.start: expected integer, got string");
}

TEST_CASE("a path that is not UTF-8 cannot be recorded; a command is made readable") {
    LockImage image = sampleImage();
    image.processes[0].command = "caf\xc3";  // comm cut inside a character
    CHECK(lockImageToJson(image)["processes"][0]["command"] == "caf\xef\xbf\xbd");
    image.processes[0].fds[0].file.path = "/data/\xff";
    CHECK_THROWS_WITH_AS(lockImageToJson(image), Contains("is not valid UTF-8"), Error);
}

TEST_CASE("the write is atomic: a 0600 file and no temporary file left") {
    TemporaryDirectory directory;
    std::string path = directory.path + "/image.json";
    mode_t previous = ::umask(0277);  // the mode must not depend on the umask
    writeLockImage(path, sampleImage());
    ::umask(previous);
    struct stat status {};
    REQUIRE(::stat(path.c_str(), &status) == 0);
    CHECK((status.st_mode & 07777) == 0600);
    CHECK(directory.entries() == std::vector<std::string>{"image.json"});
    CHECK(lockImageToJson(readLockImage(path)) == lockImageToJson(sampleImage()));
}

TEST_CASE("a write replaces an existing image whole") {
    TemporaryDirectory directory;
    std::string path = directory.path + "/image.json";
    writeLockImage(path, LockImage{.container = {.membership = "cgroup"}});
    writeLockImage(path, sampleImage());
    CHECK(readLockImage(path).processes.size() == 2);
    CHECK(directory.entries().size() == 1);
}

TEST_CASE("a write into a directory that does not exist fails cleanly") {
    TemporaryDirectory directory;
    std::string path = directory.path + "/missing/image.json";
    try {
        writeLockImage(path, sampleImage());
        FAIL("no error");
    } catch (const Error& error) {
        CHECK(error.errnoValue() == ENOENT);
        CHECK(std::string(error.what()).find(directory.path + "/missing") != std::string::npos);
    }
    CHECK(directory.entries().empty());
}

TEST_CASE("a failed rename removes the temporary file and leaves the target alone") {
    TemporaryDirectory directory;
    std::string path = directory.path + "/image.json";
    std::filesystem::create_directory(path);  // rename(2) of a file over a directory: EISDIR
    CHECK_THROWS_WITH_AS(writeLockImage(path, sampleImage()), Contains("rename"), Error);
    CHECK(directory.entries() == std::vector<std::string>{"image.json"});
    CHECK(std::filesystem::is_directory(path));
}

TEST_CASE("the streamed text escapes quotes, backslashes and control bytes and reads back") {
    LockImage image = sampleImage();
    image.processes[0].fds[0].file.path = "/data/a \"b\" \\ c\t\x01 \xc3\xa9";
    image.processes[0].command = "bad\xff";
    LockImage back = lockImageFromJson(nlohmann::json::parse(lockImageToText(image)));
    CHECK(back.processes[0].fds[0].file.path == image.processes[0].fds[0].file.path);
    CHECK(back.processes[0].command == "bad\xef\xbf\xbd");
}

TEST_CASE("reading refuses what is not a regular file") {
    TemporaryDirectory directory;
    CHECK_THROWS_WITH_AS(readLockImage(directory.path), Contains("not a regular file"), Error);
    std::string fifo = directory.path + "/fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK_THROWS_WITH_AS(readLockImage(fifo), Contains("not a regular file"), Error);  // no hang
    CHECK_THROWS_WITH_AS(readLockImage("/dev/null"), Contains("not a regular file"), Error);
}

TEST_CASE("reading refuses files over 256 MiB without reading them") {
    TemporaryDirectory directory;
    std::string path = directory.path + "/huge.json";
    UniqueFd fd = sys::openAt(AT_FDCWD, path, O_WRONLY | O_CREAT, 0600);
    REQUIRE(::ftruncate(fd.get(), (256 << 20) + 1) == 0);  // sparse: costs no disk
    CHECK_THROWS_WITH_AS(readLockImage(path), Contains("more than the 256 MiB"), Error);
}

TEST_CASE("malformed JSON and violations name the file") {
    TemporaryDirectory directory;
    std::string path = directory.path + "/bad.json";
    UniqueFd fd = sys::openAt(AT_FDCWD, path, O_WRONLY | O_CREAT, 0600);
    sys::writeAll(fd.get(), "{\"version\": 1,", 14, path);
    std::string malformed = "lock image " + path + ": malformed JSON: parse error";
    CHECK_THROWS_WITH_AS(readLockImage(path), Contains(malformed.c_str()), Error);
    std::string invalid = lockImageToJson(LockImage{}).dump();  // membership "" is refused
    UniqueFd other = sys::openAt(AT_FDCWD, path, O_WRONLY | O_TRUNC);
    sys::writeAll(other.get(), invalid.data(), invalid.size(), path);
    std::string expected = "lock image " + path +
                           ": container.membership: expected \"cgroup\" or \"pid-namespace\", "
                           "got \"\"";
    CHECK_THROWS_WITH_AS(readLockImage(path), expected.c_str(), Error);
}

TEST_CASE("a missing image file is a system error with errno") {
    try {
        readLockImage("/nonexistent/lockcr/image.json");
        FAIL("no error");
    } catch (const Error& error) {
        CHECK(error.errnoValue() == ENOENT);
        CHECK(error.status() == ExitStatus::failure);
    }
}

TEST_CASE("a field given twice or a key with a NUL in it is refused, not guessed at") {
    std::string text = lockImageToText(sampleImage());
    std::string twice = text;
    twice.replace(twice.find("\"tool\":"), 0, "\"tool\":\"other\",");
    CHECK_THROWS_WITH_AS(lockImageFromText(twice), Contains("field \"tool\" appears twice"), Error);
    std::string nul = text;
    nul.replace(nul.find("\"tool\":"), 0, "\"to\\u0000ol\":1,");
    CHECK_THROWS_WITH_AS(lockImageFromText(nul), Contains("unknown field"), Error);
}
