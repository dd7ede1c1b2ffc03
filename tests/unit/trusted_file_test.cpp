// The files of a checkpoint lockcr trusts (lock image, checkpoint record, snapshot record): one that
// anybody could write, or that a user other than root owns, is refused before it is read.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include "criu/checkpoint_files.h"
#include "image/json.h"
#include "snapshot/record.h"
#include "util/error.h"

using namespace lockcr;
using doctest::Contains;

namespace {

struct Directory {
    std::string path;
    Directory() {
        std::string name = "/tmp/lockcr-test-" + std::to_string(getpid()) + "-trusted-XXXXXX";
        REQUIRE(mkdtemp(name.data()));
        path = name;
    }
    ~Directory() { std::filesystem::remove_all(path); }
};

// SAMPLE copied to DIRECTORY/NAME (0600, ours), then READ of it checked as is, world-writable
// and owned by another user.
void checkRefusals(const std::string& sample, const std::string& name,
                   const std::function<void(const std::string& directory, const std::string& file)>& read) {
    Directory directory;
    std::string file = directory.path + "/" + name;
    std::filesystem::copy_file(std::string(LOCKCR_SAMPLES) + "/" + sample, file);
    REQUIRE(chmod(file.c_str(), 0600) == 0);
    CHECK_NOTHROW(read(directory.path, file));
    REQUIRE(chmod(file.c_str(), 0666) == 0);
    CHECK_THROWS_WITH_AS(read(directory.path, file), Contains("writable by anyone (mode 0666): refused"), Error);
    REQUIRE(chmod(file.c_str(), 0600) == 0);
    if (geteuid() != 0) return;  // only root can give a file away
    REQUIRE(chown(file.c_str(), 1000, 1000) == 0);
    CHECK_THROWS_WITH_AS(read(directory.path, file), Contains("owned by uid 1000, not root: refused"), Error);
}

}  // namespace

TEST_CASE("a lock image anybody could have written is refused") {
    checkRefusals("lock_image.json", "lockcr.locks.json",
                  [](const std::string&, const std::string& file) { (void)readLockImage(file); });
}

TEST_CASE("a checkpoint record anybody could have written is refused") {
    checkRefusals("checkpoint_record.json", kCheckpointRecordFileName,
                  [](const std::string& directory, const std::string&) { (void)readCheckpointRecord(directory); });
}

TEST_CASE("a snapshot record anybody could have written is refused") {
    checkRefusals("snapshot_record.json", kSnapshotRecordFileName,
                  [](const std::string&, const std::string& file) { (void)readSnapshotRecord(file); });
}
