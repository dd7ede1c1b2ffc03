// The snapshot record (lockcr-snapshot.json): a hand-checked sample that the JSON Schema accepts
// (tests/samples/snapshot_record.json), round trips, and hostile records.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "snapshot/record.h"
#include "util/error.h"
#include "util/sys.h"

using namespace lockcr;
using doctest::Contains;
using nlohmann::json;

namespace {

std::string sampleText() { return sys::readFile(std::string(LOCKCR_SAMPLES) + "/snapshot_record.json"); }

// The sample with one change made by EDIT, as text.
template <typename Edit>
std::string edited(Edit edit) {
    json document = json::parse(sampleText());
    edit(document);
    return document.dump();
}

}  // namespace

TEST_CASE("the sample record reads with every field") {
    SnapshotRecord record = snapshotRecordFromText(sampleText());
    CHECK(record.checkpointId == "pid-4242-20261206T211500Z");
    CHECK(record.initPid == 4242);
    REQUIRE(record.parts.size() == 3);
    CHECK(record.parts[0].backend == SnapshotBackend::overlay);
    CHECK(record.parts[1].backend == SnapshotBackend::btrfs);
    CHECK(record.parts[1].subvolumeId == 256);
    CHECK(record.parts[2].wholeVolume);
    const SnapshotFile& file = record.parts[1].files.at(0);
    CHECK(file.path == "/data/a b");
    CHECK(file.mode == (S_IFREG | 0600));
    CHECK(file.uid == 1000);
    CHECK(file.mtimeSeconds == -5);
    CHECK(file.inode == 257);
    CHECK(file.copy == "a b");
    CHECK(record.parts[0].files.at(0).mtimeNanoseconds == 123456789);
    // What an export and the parents of a file add; absent, they are empty.
    CHECK(record.parts[1].exported == "lockcr-snapshot-files/part-1");
    CHECK(record.parts[1].files.at(1).exported == "1");
    REQUIRE(record.parts[1].directories.size() == 1);
    CHECK(record.parts[1].directories[0].path == "/data/sub");
    CHECK(record.parts[1].directories[0].mode == 01750);
    CHECK(record.parts[1].directories[0].gid == 100);
    CHECK(record.parts[0].exported.empty());
    CHECK(record.parts[0].directories.empty());
    CHECK(record.parts[0].files.at(0).exported.empty());
}

TEST_CASE("a record written and read back is the same record") {
    SnapshotRecord record = snapshotRecordFromText(sampleText());
    std::string text = snapshotRecordToText(record);
    CHECK(json::parse(text) == json::parse(sampleText()));
    CHECK(snapshotRecordToText(snapshotRecordFromText(text)) == text);
}

TEST_CASE("unknown keys, wrong types and a wrong schema or version are refused, naming the field") {
    CHECK_THROWS_WITH(snapshotRecordFromText(edited([](json& d) { d["extra"] = 1; })),
                      Contains("unknown field \"extra\""));
    CHECK_THROWS_WITH(snapshotRecordFromText(edited([](json& d) { d["version"] = 2; })), Contains("version"));
    CHECK_THROWS_WITH(snapshotRecordFromText(edited([](json& d) { d["$schema"] = "x"; })), Contains("$schema"));
    CHECK_THROWS_WITH(snapshotRecordFromText(edited([](json& d) { d["parts"][1]["files"][0]["size"] = -1; })),
                      Contains("parts[1].files[0].size"));
    CHECK_THROWS_WITH(snapshotRecordFromText(edited([](json& d) { d["parts"][0]["backend"] = "zfs"; })),
                      Contains("parts[0].backend"));
    CHECK_THROWS_WITH(snapshotRecordFromText(edited([](json& d) { d["parts"][1]["files"][0].erase("digest"); })),
                      Contains("parts[1].files[0].digest: missing"));
    CHECK_THROWS_WITH(snapshotRecordFromText(edited([](json& d) { d["parts"][1]["files"][0]["mode"] = 0120777; })),
                      Contains("not a regular file"));
    CHECK_THROWS_WITH(snapshotRecordFromText("{"), Contains("malformed JSON"));
    CHECK_THROWS_WITH(snapshotRecordFromText("[]"), Contains("expected object, got array"));
}

TEST_CASE("paths that could climb out of a root or a data directory are refused") {
    for (const char* path : {"data/a", "/data/../etc/shadow", "/data//a", "/./a", "/a/.."})
        CHECK_THROWS_WITH(snapshotRecordFromText(edited([&](json& d) { d["parts"][1]["files"][0]["path"] = path; })),
                          Contains("parts[1].files[0].path"));
    for (const char* copy : {"/etc/shadow", "../../etc/shadow", "a/../../b", "a//b", ".."})
        CHECK_THROWS_WITH(snapshotRecordFromText(edited([&](json& d) { d["parts"][1]["files"][0]["copy"] = copy; })),
                          Contains("parts[1].files[0].copy"));
    CHECK_THROWS_WITH(snapshotRecordFromText(edited([](json& d) { d["checkpoint_id"] = "../x"; })),
                      Contains("checkpoint_id"));
    for (const char* exported : {"/etc", "../images", "a/../../b"}) {
        CHECK_THROWS_WITH(snapshotRecordFromText(edited([&](json& d) { d["parts"][1]["exported"] = exported; })),
                          Contains("parts[1].exported"));
        CHECK_THROWS_WITH(
            snapshotRecordFromText(edited([&](json& d) { d["parts"][1]["files"][0]["exported"] = exported; })),
            Contains("parts[1].files[0].exported"));
    }
    CHECK_THROWS_WITH(snapshotRecordFromText(edited([](json& d) { d["parts"][1]["directories"][0]["path"] = "/a/.."; })),
                      Contains("parts[1].directories[0].path"));
    CHECK_THROWS_WITH(snapshotRecordFromText(edited([](json& d) { d["parts"][1]["directories"][0]["mode"] = 010000; })),
                      Contains("parts[1].directories[0].mode"));
    CHECK_THROWS_WITH(snapshotRecordFromText(edited([](json& d) { d["parts"][1]["directories"] = json::object(); })),
                      Contains("parts[1].directories: expected array, got object"));
}

TEST_CASE("a digest must be xxh3-128 in lowercase hex") {
    for (const char* digest :
         {"xxh3-128:0123", "sha256:0123456789abcdef0123456789abcdef", "xxh3-128:0123456789ABCDEF0123456789abcdef"})
        CHECK_THROWS_WITH(
            snapshotRecordFromText(edited([&](json& d) { d["parts"][1]["files"][0]["digest"] = digest; })),
            Contains("digest"));
}

TEST_CASE("a path that is not UTF-8 cannot be recorded") {
    SnapshotRecord record = snapshotRecordFromText(sampleText());
    record.parts[1].files[0].path = "/data/\xff";
    CHECK_THROWS_WITH(snapshotRecordToText(record), Contains("not valid UTF-8"));
}

TEST_CASE("checkpoint ids are directory names") {
    CHECK_NOTHROW(checkCheckpointId("pod-a_1.2"));
    for (const char* id : {"", ".", "..", "a/b", "a b"}) CHECK_THROWS(checkCheckpointId(id));
    CHECK_THROWS(checkCheckpointId(std::string(129, 'a')));
}
