// What CRIU hands an action script (its environment), the checkpoint record lockcr leaves in the
// image directory, the registration the OCI hook writes, and the start time that keys a restore.
#include <doctest/doctest.h>

#include "criu/checkpoint_files.h"
#include "criu/environment.h"
#include "criu/restore_state.h"
#include "discover/registration.h"
#include "util/error.h"
#include "util/sys.h"

using namespace lockcr;
using doctest::Contains;

TEST_CASE("CRIU's environment: every action lockcr uses, and others exit quietly") {
    CriuEnvironment post = parseCriuEnvironment(
        {{"CRTOOLS_SCRIPT_ACTION", "post-dump"}, {"CRTOOLS_IMAGE_DIR", "/proc/77/fd/4"}, {"CRTOOLS_INIT_PID", "4242"}});
    CHECK(post.action == CriuAction::postDump);
    CHECK(post.imageDirectory == "/proc/77/fd/4");
    CHECK(post.initPid == 4242);
    CriuEnvironment pre = parseCriuEnvironment({{"CRTOOLS_SCRIPT_ACTION", "pre-restore"}, {"CRTOOLS_IMAGE_DIR", "/i"}});
    CHECK(pre.action == CriuAction::preRestore);
    CHECK_FALSE(pre.initPid);  // CRIU sets none before the root task exists
    for (const char* name : {"network-lock", "status-ready", "orphan-pts-master", "some-future-action"})
        CHECK(parseCriuEnvironment({{"CRTOOLS_SCRIPT_ACTION", name}}).action == CriuAction::other);
    CHECK(parseCriuEnvironment({{"CRTOOLS_SCRIPT_ACTION", "setup-namespaces"}}).action == CriuAction::setupNamespaces);
}

TEST_CASE("a malformed CRIU environment is one line naming the variable") {
    CHECK_THROWS_WITH_AS(parseCriuEnvironment({}), Contains("CRTOOLS_SCRIPT_ACTION is not set"), Error);
    for (const char* pid : {"0", "-1", "12x", "99999999999", " 12"})
        CHECK_THROWS_WITH_AS(parseCriuEnvironment({{"CRTOOLS_SCRIPT_ACTION", "post-dump"}, {"CRTOOLS_INIT_PID", pid}}),
                             Contains("CRTOOLS_INIT_PID"), Error);
    CHECK_THROWS_WITH_AS(
        parseCriuEnvironment({{"CRTOOLS_SCRIPT_ACTION", "post-dump"}, {"CRTOOLS_IMAGE_DIR", "images"}}),
        Contains("CRTOOLS_IMAGE_DIR \"images\" is not an absolute path"), Error);
}

TEST_CASE("the checkpoint record round-trips and refuses what it does not know") {
    CheckpointRecord record;
    record.tool = "lockcr 0.1.0";
    record.created = "2026-12-06T21:00:00Z";
    record.containerId = "web";
    record.annotations = {{"io.lockcr.on-failure", "kill"}};
    record.snapshotRecord = "lockcr-snapshot.json";
    CheckpointRecord back = checkpointRecordFromText(checkpointRecordToText(record), "r");
    CHECK(back.containerId == "web");
    CHECK(back.annotations == record.annotations);
    CHECK(back.snapshotRecord == record.snapshotRecord);
    std::string text = checkpointRecordToText(record);
    CHECK_THROWS_WITH_AS(checkpointRecordFromText("[]", "r"), Contains("r: not a JSON object"), Error);
    CHECK_THROWS_WITH_AS(checkpointRecordFromText(
                             R"({"version":2,"tool":"x","created":"y","container":{"id":"","annotations":{}}})", "r"),
                         Contains("r: version: this lockcr reads version 1"), Error);
    CHECK_THROWS_WITH_AS(
        checkpointRecordFromText(
            R"({"version":1,"tool":"x","created":"y","container":{"id":"","annotations":{"a":1}}})", "r"),
        Contains("container.annotations.a: expected a string"), Error);
    CHECK_THROWS_WITH_AS(
        checkpointRecordFromText(
            R"({"version":1,"tool":"x","created":"y","extra":1,"container":{"id":"","annotations":{}}})", "r"),
        Contains("unknown field extra"), Error);
    CHECK_THROWS_WITH_AS(
        checkpointRecordFromText(
            R"({"version":1,"tool":"x","created":"y","snapshot_record":"../../etc/x","container":{"id":"","annotations":{}}})",
            "r"),
        Contains("snapshot_record: expected a file name"), Error);
}

TEST_CASE("registrations: container ids become file names only when they are names") {
    for (const char* id : {"web", "a1b2c3d4e5f6", "pod_x.y-z+1"}) CHECK_NOTHROW(checkContainerId(id));
    for (const char* id : {"", "../etc", "a/b", ".hidden", "a b", "a\nb"}) CHECK_THROWS_AS(checkContainerId(id), Error);
    Registration registration{"web", 4242, "/b", {{"io.lockcr.conflict", "wait"}}, "createRuntime"};
    Registration back = registrationFromText(registrationToText(registration), "r");
    CHECK(back.id == "web");
    CHECK(back.pid == 4242);
    CHECK(back.annotations == registration.annotations);
    CHECK_THROWS_AS(registrationFromText(R"({"id":"../x","pid":1,"bundle":"","annotations":{},"stage":""})", "r"),
                    Error);
}

TEST_CASE("a restore is keyed by its CRIU's start time, read past a hostile command name") {
    auto self = startTimeFromStat(sys::readFile(std::string(LOCKCR_SAMPLES) + "/proc_stat.txt"));
    CHECK(self.has_value());
    CHECK(startTimeFromStat(sys::readFile(std::string(LOCKCR_SAMPLES) + "/proc_stat_hostile_comm.txt")) == 987654ULL);
    CHECK_FALSE(startTimeFromStat("4242 (no closing paren S 1"));
    CHECK_FALSE(startTimeFromStat("4242 (a) S 1 2 3"));
    CHECK_FALSE(startTimeFromStat(""));
}

TEST_CASE("a registration's pid is a pid: no float, no wrap, no zero (fuzz findings)") {
    auto sample = [](const char* name) { return sys::readFile(std::string(LOCKCR_SAMPLES) + "/" + name); };
    CHECK(registrationFromText(sample("registration.json"), "r").pid == 4242);
    for (const char* name : {"registration_pid_float.json", "registration_pid_wraps.json"}) {
        std::string expected = std::string(name) + ": pid: expected a pid from 1 to 4194304";
        CHECK_THROWS_WITH_AS(registrationFromText(sample(name), name), Contains(expected.c_str()), Error);
    }
    for (const char* pid : {"0", "-1", "4194305", "1.5", "\"7\""})
        CHECK_THROWS_WITH_AS(
            registrationFromText(
                std::string(R"({"id":"web","pid":)") + pid + R"(,"bundle":"","annotations":{},"stage":""})", "r"),
            Contains("pid"), Error);
}

TEST_CASE("a restore state's init pid is a pid: no float, no wrap, no negative") {
    auto sample = [](const char* name) { return sys::readFile(std::string(LOCKCR_SAMPLES) + "/" + name); };
    RestoreState state = restoreStateFromText(sample("restore_state.json"), "s");
    CHECK(state.initPid == 4243);
    CHECK(state.outcome == RestoreOutcome::inProgress);
    for (const char* name : {"restore_state_init_pid_float.json", "restore_state_init_pid_wraps.json",
                             "restore_state_init_pid_negative.json"}) {
        std::string expected = std::string(name) + ": init_pid: expected a pid from 0 to 4194304";
        CHECK_THROWS_WITH_AS(restoreStateFromText(sample(name), name), Contains(expected.c_str()), Error);
    }
    std::string text = sample("restore_state.json");
    auto withInitPid = [&](const std::string& value) {
        std::string changed = text;
        changed.replace(changed.find("4243"), 4, value);
        return changed;
    };
    CHECK(restoreStateFromText(withInitPid("0"), "s").initPid == 0);  // pre-restore: not known yet
    CHECK(restoreStateFromText(withInitPid("4194304"), "s").initPid == 4194304);
    for (const char* value : {"4194305", "2.5", "\"7\"", "null", "-0.5", "18446744073709551615"})
        CHECK_THROWS_WITH_AS(restoreStateFromText(withInitPid(value), "s"), Contains("s: init_pid"), Error);
}

TEST_CASE("a checkpoint record's version is compared whole, not as an int (fuzz finding)") {
    CHECK_THROWS_WITH_AS(checkpointRecordFromText(
                             sys::readFile(std::string(LOCKCR_SAMPLES) + "/checkpoint_record_version_wraps.json"), "r"),
                         Contains("r: version: this lockcr reads version 1"), Error);
}

TEST_CASE("an image copied in from another checkpoint is refused, naming both") {
    CheckpointRecord record = checkpointRecordFromText(
        sys::readFile(std::string(LOCKCR_SAMPLES) + "/checkpoint_record.json"), "r");
    LockImage image;
    image.container.id = record.containerId;
    image.createdAt = record.created;
    CHECK_NOTHROW(checkImageMatchesRecord(image, record, "/images"));
    LockImage other = image;
    other.container.id = "db";
    CHECK_THROWS_WITH_AS(
        checkImageMatchesRecord(other, record, "/images"),
        Contains("/images/lockcr.locks.json is the lock image of container db taken 2026-12-06T21:00:00Z, "
                 "but lockcr.checkpoint.json is the checkpoint of container web taken 2026-12-06T21:00:00Z"),
        Error);
    LockImage earlier = image;  // the same container, another dump
    earlier.createdAt = "2026-12-06T20:59:59.5Z";
    CHECK_THROWS_WITH_AS(checkImageMatchesRecord(earlier, record, "/images"), Contains("taken 2026-12-06T20:59:59.5Z"),
                         Error);
    record.containerId.clear();
    image.container.id.clear();
    CHECK_NOTHROW(checkImageMatchesRecord(image, record, "/images"));
}
