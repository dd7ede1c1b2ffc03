// lockcr show's stages on the real sample checkpoint (tests/samples/checkpoint/): reading it from a
// directory and from archives libarchive writes here (plain tar, gzip, zstd, podman's layout), the
// comparison with CRIU's record, and the report.
#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "archive/checkpoint_files.h"
#include "image/json.h"
#include "report/checkpoint_report.h"
#include "show/checkpoint_view.h"
#include "show/compare.h"
#include "temp_directory.h"
#include "util/error.h"
#include "util/sys.h"

using namespace lockcr;
using doctest::Contains;

namespace {

const std::string kSamples = std::string(LOCKCR_SAMPLES) + "/checkpoint";

std::string sampleFile(const std::string& name) { return sys::readFile(kSamples + "/" + name); }

// An archive at PATH holding ENTRIES (name -> bytes), through FILTER (ARCHIVE_FILTER_*).
void writeArchive(const std::string& path, int filter, const std::vector<std::pair<std::string, std::string>>& entries,
                  bool symlinkInstead = false) {
    struct archive* writer = archive_write_new();
    archive_write_add_filter(writer, filter);
    archive_write_set_format_pax_restricted(writer);
    REQUIRE(archive_write_open_filename(writer, path.c_str()) == ARCHIVE_OK);
    for (const auto& [name, bytes] : entries) {
        struct archive_entry* entry = archive_entry_new();
        archive_entry_set_pathname(entry, name.c_str());
        if (symlinkInstead) {
            archive_entry_set_filetype(entry, AE_IFLNK);
            archive_entry_set_symlink(entry, "/etc/shadow");
        } else {
            archive_entry_set_filetype(entry, AE_IFREG);
            archive_entry_set_size(entry, static_cast<la_int64_t>(bytes.size()));
        }
        archive_entry_set_perm(entry, 0600);
        REQUIRE(archive_write_header(writer, entry) == ARCHIVE_OK);
        if (!symlinkInstead) archive_write_data(writer, bytes.data(), bytes.size());
        archive_entry_free(entry);
    }
    archive_write_close(writer);
    archive_write_free(writer);
}

std::vector<std::pair<std::string, std::string>> podmanLayout() {
    return {{"config.dump", R"({"id": "f11d11844af0", "name": "web"})"},
            {"spec.dump", "{}"},
            {"checkpoint/inventory.img", "x"},
            {"checkpoint/filelocks.img", sampleFile("filelocks.img")},
            {"checkpoint/lockcr.locks.json", sampleFile("lockcr.locks.json")},
            {"checkpoint/lockcr.checkpoint.json", sampleFile("lockcr.checkpoint.json")},
            {"rootfs-diff.tar", std::string(1024, '\0')}};
}

}  // namespace

TEST_CASE("the sample checkpoint directory: both records, and the two locks CRIU drops") {
    CheckpointView view = readCheckpointView(kSamples);
    CHECK(view.format == "directory");
    REQUIRE(view.image);
    REQUIRE(view.criuLocks);
    CHECK(view.criuLocks->size() == 5);
    CHECK_FALSE(view.criuLocksSetAside);
    REQUIRE(view.comparison);
    CHECK(view.comparison->matched == 5);
    CHECK(view.comparison->onlyCriu.empty());
    REQUIRE(view.comparison->onlyLockcr.size() == 2);
    for (const RecordedLock& dropped : view.comparison->onlyLockcr) {
        CHECK(dropped.lock.kind == LockKind::posix);
        CHECK(dropped.file == "/data/posix.dat");
        CHECK(dropped.pid != 1);  // children, on fds inherited from init
    }
}

TEST_CASE("archives in podman's layout, whatever the compression, read the same") {
    test::TempDirectory directory;
    const std::pair<int, const char*> filters[] = {
        {ARCHIVE_FILTER_NONE, "tar"}, {ARCHIVE_FILTER_GZIP, "tar+gzip"}, {ARCHIVE_FILTER_ZSTD, "tar+zstd"}};
    for (const auto& [filter, format] : filters) {
        CAPTURE(format);
        std::string path = directory.file(std::string("export-") + format);
        writeArchive(path, filter, podmanLayout());
        CheckpointView view = readCheckpointView(path);
        CHECK(view.format == format);
        CHECK(view.hasCriuImages);
        CHECK(view.containerName == "web");
        CHECK(view.containerId == "f11d11844af0");
        REQUIRE(view.comparison);
        CHECK(view.comparison->onlyLockcr.size() == 2);
        CHECK(lockImageToJson(*view.image) == lockImageToJson(readLockImage(kSamples + "/lockcr.locks.json")));
    }
}

TEST_CASE("a restore in progress: CRIU's record is read from lockcr's set-aside copy") {
    test::TempDirectory directory;
    std::string path = directory.file("images.tar");
    writeArchive(path, ARCHIVE_FILTER_NONE,
                 {{"./lockcr.criu-filelocks.img", sampleFile("filelocks.img")},
                  {"./lockcr.locks.json", sampleFile("lockcr.locks.json")}});
    CheckpointView view = readCheckpointView(path);
    CHECK(view.criuLocksSetAside);
    REQUIRE(view.criuLocks);
    CHECK(view.criuLocks->size() == 5);
    CHECK(formatCheckpointReport(view).find("set aside by a lockcr restore") != std::string::npos);
}

TEST_CASE("without CRIU's record every lock is one CRIU would not restore; without lockcr's, none is compared") {
    test::TempDirectory directory;
    std::string onlyLockcr = directory.file("only-lockcr.tar");
    writeArchive(onlyLockcr, ARCHIVE_FILTER_GZIP, {{"checkpoint/lockcr.locks.json", sampleFile("lockcr.locks.json")}});
    CheckpointView view = readCheckpointView(onlyLockcr);
    CHECK_FALSE(view.criuLocks);
    REQUIRE(view.comparison);
    CHECK(view.comparison->onlyLockcr.size() == 7);
    std::string onlyCriu = directory.file("only-criu.tar");
    writeArchive(onlyCriu, ARCHIVE_FILTER_GZIP, {{"checkpoint/filelocks.img", sampleFile("filelocks.img")}});
    CheckpointView plain = readCheckpointView(onlyCriu);
    CHECK_FALSE(plain.comparison);
    CHECK(formatCheckpointReport(plain).find("taken without lockcr") != std::string::npos);
    CHECK(checkpointReportToJson(plain)["criu_file_locks"].size() == 5);
}

TEST_CASE("what is not a checkpoint, or hides a link under a wanted name, is refused") {
    test::TempDirectory directory;
    std::string junk = directory.file("junk");
    sys::writeAll(sys::openAt(AT_FDCWD, junk, O_WRONLY | O_CREAT, 0600).get(), "hello", 5, junk);
    CHECK_THROWS_WITH_AS(readCheckpointView(junk), Contains("not a directory or an archive"), Error);
    std::string unrelated = directory.file("unrelated.tar");
    writeArchive(unrelated, ARCHIVE_FILTER_NONE, {{"etc/passwd", "root:x:0:0"}});
    CHECK_THROWS_WITH_AS(readCheckpointView(unrelated), Contains("not a checkpoint"), Error);
    std::string linked = directory.file("linked.tar");
    writeArchive(linked, ARCHIVE_FILTER_NONE, {{"checkpoint/lockcr.locks.json", ""}}, true);
    CHECK_THROWS_WITH_AS(readCheckpointView(linked), Contains("not a regular file"), Error);
    std::string damaged = directory.file("damaged.tar");
    writeArchive(damaged, ARCHIVE_FILTER_NONE, {{"checkpoint/lockcr.locks.json", "{\"version\": 1}"}});
    CHECK_THROWS_WITH_AS(readCheckpointView(damaged), Contains("lockcr.locks.json"), Error);
    CHECK_THROWS_WITH_AS(readCheckpointView(directory.file("absent")), Contains("absent"), Error);
}

TEST_CASE("the comparison: a lock is matched once, through any holder of its description") {
    LockImage image = readLockImage(kSamples + "/lockcr.locks.json");
    std::vector<CriuFileLock> criu = criuFileLocksFromBytes(sampleFile("filelocks.img"), "filelocks.img");
    CriuFileLock flock = criu[0];
    flock.pid = 6;  // another holder of the shared description: the same lock
    LockComparison throughChild = compareWithCriu(image, {flock});
    CHECK(throughChild.matched == 1);
    LockComparison twice = compareWithCriu(image, {criu[0], criu[0]});
    CHECK(twice.matched == 1);
    CHECK(twice.onlyCriu.size() == 1);
    CriuFileLock otherRange = criu[1];
    otherRange.length = 7;
    CHECK(compareWithCriu(image, {otherRange}).onlyCriu.size() == 1);
}

TEST_CASE("the report: the inspect table, lease owners, CRIU's table, the differences, and a snapshot") {
    test::TempDirectory directory;
    std::string path = directory.file("with-snapshot.tar.zst");
    auto entries = podmanLayout();
    entries.push_back(
        {"checkpoint/lockcr-snapshot.json",
         R"({"version": 1, "checkpoint_id": "c1", "parts": [{"backend": "btrfs", "mount_point": "/", "files": [1, 2]}]})"});
    writeArchive(path, ARCHIVE_FILTER_ZSTD, entries);
    CheckpointView view = readCheckpointView(path);
    std::string text = formatCheckpointReport(view);
    CHECK(text.find("Container web (f11d11844af0)") != std::string::npos);
    CHECK(text.find("waiting for POSIX WRITE of pid 1") != std::string::npos);
    CHECK(text.find("a break signals process 1 with signal 10") != std::string::npos);
    CHECK(text.find("parts: backend: btrfs, files: 2, mount_point: /") != std::string::npos);
    CHECK(text.find("only in lockcr's record (2): a restore by CRIU alone would drop these") != std::string::npos);
    nlohmann::json json = checkpointReportToJson(view);
    CHECK(json["snapshot"]["checkpoint_id"] == "c1");
    CHECK(json["comparison"]["matched"] == 5);
    CHECK(json["criu_file_locks"][4]["kind"] == "lease");
    CHECK(json["criu_file_locks"][4]["path"] == "/data/lease.dat");
}
