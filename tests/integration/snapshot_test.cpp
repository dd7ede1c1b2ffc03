// The snapshot stage on real filesystems (tests/support/snapshot_scene.h): an overlay root, a
// btrfs subvolume on a loop device and a plain directory as volumes, a chrooted process holding a
// lock on each file. Every check reads the filesystem (stat, bytes), not lockcr's own output.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>

#include "run_lockcr.h"
#include "snapshot/export.h"
#include "snapshot/record.h"
#include "snapshot/snapshot.h"
#include "snapshot/store.h"
#include "snapshot/verify.h"
#include "snapshot_scene.h"
#include "test_cgroup.h"
#include "util/error.h"
#include "util/sys.h"

using namespace lockcr;
using namespace lockcr::test;
using doctest::Contains;

namespace {

// The files the holder locks, one per backend and kind of change.
const std::vector<std::string> kLockedFiles = {"/app/state.db", "/data/a", "/data/c", "/vol/b", "/vol/d"};

struct Prepared {
    SnapshotScene scene;
    pid_t holder = 0;
    std::string content(const std::string& file) const { return "content of " + file + std::string(4000, 'x'); }

    // With BIG_FILE_BYTES, the holder also locks /vol/big of that size.
    explicit Prepared(size_t bigFileBytes = 0) {
        writeFileBytes(scene.path("lower/app/state.db"), content("/app/state.db"));
        std::vector<std::string> files = kLockedFiles;
        for (const std::string& file : kLockedFiles)
            if (file != "/app/state.db") writeFileBytes(scene.inRoot(file), content(file));
        if (bigFileBytes) {
            writeFileBytes(scene.inRoot("/vol/big"), std::string(bigFileBytes, 'b'));
            files.push_back("/vol/big");
        }
        holder = scene.startHolder(files);
    }

    SnapshotRecord snapshot(const std::string& store, const std::string& id = "cp1") {
        SnapshotOptions options;
        options.checkpointId = id;
        options.store = store;
        return takeSnapshot({holder, {holder}}, options, scene.path("images"));
    }

    // Changes bytes at the same size and puts the mtime back, so only the digest can tell.
    void rewriteKeepingSizeAndMtime(const std::string& file) {
        std::string host = scene.inRoot(file);
        struct stat before {};
        REQUIRE(stat(host.c_str(), &before) == 0);
        std::string bytes = readFileBytes(host);
        bytes[20] = 'Z';
        int fd = open(host.c_str(), O_WRONLY);
        REQUIRE(fd >= 0);
        REQUIRE(pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
        struct timespec times[2] = {before.st_atim, before.st_mtim};
        REQUIRE(futimens(fd, times) == 0);
        close(fd);
    }

    // The five changes: bytes (btrfs), mode (overlay), missing (btrfs), truncation (plain
    // directory), a symlink to a host file planted in place of a locked file (plain directory).
    void changeEverything() {
        rewriteKeepingSizeAndMtime("/data/a");
        REQUIRE(chmod(scene.inRoot("/app/state.db").c_str(), 0600) == 0);
        REQUIRE(unlink(scene.inRoot("/data/c").c_str()) == 0);
        REQUIRE(truncate(scene.inRoot("/vol/b").c_str(), 10) == 0);
        REQUIRE(unlink(scene.inRoot("/vol/d").c_str()) == 0);
        REQUIRE(symlink("/etc/shadow", scene.inRoot("/vol/d").c_str()) == 0);
    }
};

std::string lineFor(const std::vector<std::string>& lines, const std::string& path) {
    for (const std::string& line : lines)
        if (line.starts_with(path + ": ")) return line;
    return "";
}

bool exists(const std::string& path) {
    struct stat status {};
    return lstat(path.c_str(), &status) == 0;
}

bool emptyDirectory(const std::string& path) {
    std::vector<std::string> entries;
    int error = 0;
    return sys::tryListDirectory(AT_FDCWD, path, entries, error) && entries.empty();
}

// A snapshot of HOLDER's filesystems, its store on the scene's own directory.
SnapshotRecord snapshotInScene(const SnapshotScene& scene, pid_t holder, const std::string& id) {
    SnapshotOptions options;
    options.checkpointId = id;
    options.store = scene.path("store");
    return takeSnapshot({holder, {holder}}, options, scene.path("images"));
}

}  // namespace

TEST_CASE("a snapshot of an overlay root, a btrfs volume and a plain volume is recorded, and nothing changed matches") {
    Prepared prepared;
    std::string store = prepared.scene.path("btrfsmnt/store");
    SnapshotRecord record = prepared.snapshot(store);
    REQUIRE(record.parts.size() == 3);
    std::string recordPath = prepared.scene.path("images/lockcr-snapshot.json");
    struct stat status {};
    REQUIRE(stat(recordPath.c_str(), &status) == 0);
    CHECK((status.st_mode & 07777) == 0600);
    CHECK(std::system(("/usr/bin/python3 " LOCKCR_SOURCE_DIR "/tests/schema_check.py " LOCKCR_SOURCE_DIR
                       "/schema/snapshot-record.schema.json " +
                       recordPath + " >&2")
                          .c_str()) == 0);
    // The btrfs part is a read-only subvolume in the store (same filesystem): inode 256, EROFS.
    const SnapshotPart& data = record.parts[1];
    CHECK(data.backend == SnapshotBackend::btrfs);
    REQUIRE(stat(data.data.c_str(), &status) == 0);
    CHECK(status.st_ino == 256);
    CHECK(open((data.data + "/a").c_str(), O_WRONLY) < 0);
    CHECK(errno == EROFS);
    CHECK(readFileBytes(data.data + "/a") == prepared.content("/data/a"));
    // The overlay part holds a copy of the upper layer; the plain volume copies of its files.
    CHECK(record.parts[0].backend == SnapshotBackend::overlay);
    CHECK(record.parts[2].backend == SnapshotBackend::manifest);
    CHECK(readFileBytes(record.parts[2].data + "/" + record.parts[2].files.at(0).copy).starts_with("content of /vol/"));
    CHECK(findSnapshotChanges(record, containerRootOfPid(prepared.holder)).empty());
    // CRIU 4.1 runs each action twice: the second run keeps the first snapshot.
    CHECK(prepared.snapshot(store).checkpointId == "cp1");
}

TEST_CASE("strict names each changed file and what changed") {
    Prepared prepared;
    SnapshotRecord record = prepared.snapshot(prepared.scene.path("btrfsmnt/store"));
    prepared.changeEverything();
    std::vector<std::string> lines = findSnapshotChanges(record, containerRootOfPid(prepared.holder));
    CHECK(lines.size() == 5);
    CHECK(lineFor(lines, "/data/a") == "/data/a: bytes changed (same size and mtime)");
    CHECK(lineFor(lines, "/app/state.db") == "/app/state.db: mode 0644 -> 0600");
    CHECK(lineFor(lines, "/data/c") == "/data/c: missing");
    CHECK(lineFor(lines, "/vol/b") == "/vol/b: size " + std::to_string(prepared.content("/vol/b").size()) + " -> 10");
    CHECK(lineFor(lines, "/vol/d") == "/vol/d: replaced by a symlink");
}

TEST_CASE(
    "rollback restores the exact bytes and metadata through the container root, never through a planted symlink") {
    Prepared prepared;
    std::string shadowBefore = readFileBytes("/etc/shadow");
    struct stat shadowStatus {};
    REQUIRE(stat("/etc/shadow", &shadowStatus) == 0);
    struct stat aBefore {};
    REQUIRE(stat(prepared.scene.inRoot("/data/a").c_str(), &aBefore) == 0);
    SnapshotRecord record = prepared.snapshot(prepared.scene.path("btrfsmnt/store"));
    prepared.changeEverything();

    std::vector<std::string> restored = rollBackSnapshot(record, containerRootOfPid(prepared.holder));
    CHECK(restored.size() == 5);
    for (const std::string& file : kLockedFiles) {
        std::string host = prepared.scene.inRoot(file);
        struct stat status {};
        REQUIRE(lstat(host.c_str(), &status) == 0);
        CHECK_MESSAGE(S_ISREG(status.st_mode), file);
        CHECK_MESSAGE((status.st_mode & 07777) == 0644, file);
        CHECK_MESSAGE(readFileBytes(host) == prepared.content(file), file);
    }
    struct stat aAfter {};
    REQUIRE(stat(prepared.scene.inRoot("/data/a").c_str(), &aAfter) == 0);
    CHECK(aAfter.st_ino == aBefore.st_ino);  // the locked inode itself got its bytes back
    CHECK(aAfter.st_mtim.tv_sec == aBefore.st_mtim.tv_sec);
    CHECK(aAfter.st_mtim.tv_nsec == aBefore.st_mtim.tv_nsec);
    // The holder's lock is on the restored file: another process sees it.
    int fd = open(prepared.scene.inRoot("/data/a").c_str(), O_RDONLY);
    struct flock probe {};
    probe.l_type = F_RDLCK;
    probe.l_whence = SEEK_SET;
    REQUIRE(fcntl(fd, F_GETLK, &probe) == 0);
    CHECK(probe.l_type == F_WRLCK);
    CHECK(probe.l_pid == prepared.holder);
    close(fd);
    // The planted symlink's target was never written.
    struct stat shadowAfter {};
    REQUIRE(stat("/etc/shadow", &shadowAfter) == 0);
    CHECK(readFileBytes("/etc/shadow") == shadowBefore);
    CHECK(shadowAfter.st_mtim.tv_sec == shadowStatus.st_mtim.tv_sec);
    CHECK(shadowAfter.st_mtim.tv_nsec == shadowStatus.st_mtim.tv_nsec);
    CHECK(shadowAfter.st_size == shadowStatus.st_size);
    CHECK(findSnapshotChanges(record, containerRootOfPid(prepared.holder)).size() == 2);  // two new inodes
}

TEST_CASE("without the snapshot data strict still verifies and rollback refuses, writing nothing") {
    Prepared prepared;
    std::string store = prepared.scene.path("btrfsmnt/store");
    SnapshotRecord record = prepared.snapshot(store);
    deleteSnapshot(store, "cp1");
    CHECK_FALSE(exists(record.parts[1].data));
    prepared.rewriteKeepingSizeAndMtime("/data/a");
    std::string changed = readFileBytes(prepared.scene.inRoot("/data/a"));
    CHECK(findSnapshotChanges(record, containerRootOfPid(prepared.holder)).size() == 1);
    CHECK_THROWS_WITH(rollBackSnapshot(record, containerRootOfPid(prepared.holder)),
                      Contains("is not on this host (No such file or directory) and the checkpoint carries no copy of "
                               "it (snapshot-export: volumes) (nothing was written)"));
    // Pre-restore's route, through the volume's host source: the line still names the path inside.
    CHECK_THROWS_WITH(checkSnapshotAtSources(record, VerifyPolicy::rollback), Contains("cannot roll back /data/a: "));
    CHECK(readFileBytes(prepared.scene.inRoot("/data/a")) == changed);
}

TEST_CASE("the volumes' files exported with the checkpoint roll back on a host without the store") {
    Prepared prepared;
    std::string store = prepared.scene.path("btrfsmnt/store"), images = prepared.scene.path("images");
    SnapshotOptions options;
    options.checkpointId = "exported";
    options.store = store;
    SnapshotRecord taken = takeSnapshotWithExport({prepared.holder, {prepared.holder}}, options, images, true);
    // The volumes (/data on btrfs, /vol a plain directory) are exported, the root (overlay) is not.
    CHECK(taken.parts.at(0).exported.empty());
    CHECK(taken.parts.at(1).exported == "lockcr-snapshot-files/part-1");
    CHECK(taken.parts.at(2).exported == "lockcr-snapshot-files/part-2");
    struct stat status {};
    REQUIRE(stat((images + "/lockcr-snapshot-files/part-1").c_str(), &status) == 0);
    CHECK((status.st_mode & 07777) == 0700);
    const SnapshotFile& a = taken.parts.at(1).files.at(0);
    REQUIRE(a.path == "/data/a");
    std::string exportedA = images + "/lockcr-snapshot-files/part-1/" + a.exported;
    REQUIRE(stat(exportedA.c_str(), &status) == 0);
    CHECK((status.st_mode & 07777) == 0600);
    CHECK(readFileBytes(exportedA) == prepared.content("/data/a"));
    CHECK(std::system(("/usr/bin/python3 " LOCKCR_SOURCE_DIR "/tests/schema_check.py " LOCKCR_SOURCE_DIR
                       "/schema/snapshot-record.schema.json " +
                       images + "/lockcr-snapshot.json >&2")
                          .c_str()) == 0);
    // CRIU 4.1's second run finds the export in place.
    CHECK(takeSnapshotWithExport({prepared.holder, {prepared.holder}}, options, images, true).parts.at(1).exported ==
          "lockcr-snapshot-files/part-1");

    deleteSnapshot(store, "exported");  // another host: no store
    REQUIRE_FALSE(exists(taken.parts.at(1).data));
    struct stat aBefore {};
    REQUIRE(stat(prepared.scene.inRoot("/data/a").c_str(), &aBefore) == 0);
    prepared.rewriteKeepingSizeAndMtime("/data/a");
    REQUIRE(truncate(prepared.scene.inRoot("/vol/b").c_str(), 10) == 0);
    SnapshotRecord travelled = withExportedCopies(readSnapshotRecord(images + "/lockcr-snapshot.json"), images);
    std::vector<std::string> restored = rollBackSnapshot(travelled, containerRootOfPid(prepared.holder));
    CHECK(restored.size() == 2);
    CHECK(readFileBytes(prepared.scene.inRoot("/data/a")) == prepared.content("/data/a"));
    CHECK(readFileBytes(prepared.scene.inRoot("/vol/b")) == prepared.content("/vol/b"));
    struct stat aAfter {};
    REQUIRE(stat(prepared.scene.inRoot("/data/a").c_str(), &aAfter) == 0);
    CHECK(aAfter.st_ino == aBefore.st_ino);
    CHECK(findSnapshotChanges(travelled, containerRootOfPid(prepared.holder)).empty());
}

TEST_CASE("a failed export removes the snapshot and its record") {
    Prepared prepared;
    std::string store = prepared.scene.path("btrfsmnt/store");
    std::string tiny = prepared.scene.mountTinyFilesystem("tiny", 8);
    writeFileBytes(prepared.scene.inRoot("/vol/b"), std::string(12 << 20, 'b'));  // cannot fit in 8 MiB
    SnapshotOptions options;
    options.checkpointId = "full";
    options.store = store;
    CHECK_THROWS_WITH(takeSnapshotWithExport({prepared.holder, {prepared.holder}}, options, tiny, true),
                      Contains("No space left on device"));
    CHECK_FALSE(exists(store + "/full"));
    CHECK_FALSE(exists(tiny + "/lockcr-snapshot.json"));
    CHECK_FALSE(exists(tiny + "/lockcr-snapshot-files"));
    std::vector<std::string> left;
    int error = 0;
    REQUIRE(sys::tryListDirectory(AT_FDCWD, tiny, left, error));
    std::erase(left, std::string("lost+found"));
    CHECK(left.empty());
}

TEST_CASE("rollback makes removed parent directories again with their recorded mode and owner") {
    SnapshotScene scene;
    REQUIRE(mkdir(scene.inRoot("/vol/sub").c_str(), 0750) == 0);
    REQUIRE(mkdir(scene.inRoot("/vol/sub/deeper").c_str(), 0711) == 0);
    REQUIRE(chmod(scene.inRoot("/vol/sub/deeper").c_str(), 02711) == 0);
    REQUIRE(chown(scene.inRoot("/vol/sub").c_str(), 1234, 5678) == 0);
    writeFileBytes(scene.inRoot("/vol/sub/deeper/e"), "the bytes of e");
    pid_t holder = scene.startHolder({"/vol/sub/deeper/e"});
    SnapshotRecord record = snapshotInScene(scene, holder, "parents");
    const SnapshotPart& volume = record.parts.at(2);
    REQUIRE(volume.mountPoint == "/vol");
    REQUIRE(volume.directories.size() == 2);
    CHECK(volume.directories[0].path == "/vol/sub");
    CHECK(volume.directories[1].path == "/vol/sub/deeper");
    runOrThrow("rm -rf " + scene.inRoot("/vol/sub"));

    std::vector<std::string> restored = rollBackSnapshot(record, containerRootOfPid(holder));
    REQUIRE(restored.size() == 1);
    CHECK(restored[0] == "/vol/sub/deeper/e: restored (missing; 2 parent directories made again)");
    struct stat status {};
    REQUIRE(lstat(scene.inRoot("/vol/sub").c_str(), &status) == 0);
    CHECK(S_ISDIR(status.st_mode));
    CHECK((status.st_mode & 07777) == 0750);
    CHECK(status.st_uid == 1234);
    CHECK(status.st_gid == 5678);
    REQUIRE(lstat(scene.inRoot("/vol/sub/deeper").c_str(), &status) == 0);
    CHECK((status.st_mode & 07777) == 02711);
    CHECK(readFileBytes(scene.inRoot("/vol/sub/deeper/e")) == "the bytes of e");
}

TEST_CASE("a recorded directory replaced by a symlink is made again at the volume's source, the target untouched") {
    SnapshotScene scene;
    REQUIRE(mkdir(scene.inRoot("/vol/sub").c_str(), 0755) == 0);
    writeFileBytes(scene.inRoot("/vol/sub/e"), "the bytes of e");
    pid_t holder = scene.startHolder({"/vol/sub/e"});
    SnapshotRecord record = snapshotInScene(scene, holder, "planted");
    REQUIRE(mkdir(scene.path("elsewhere").c_str(), 0755) == 0);
    runOrThrow("rm -rf " + scene.inRoot("/vol/sub"));
    REQUIRE(symlink(scene.path("elsewhere").c_str(), scene.inRoot("/vol/sub").c_str()) == 0);

    // Pre-restore's route: the volume through its host source, as one part mounted at "/".
    SourceCheck checked = checkSnapshotAtSources(record, VerifyPolicy::rollback);
    REQUIRE(checked.check.restored.size() == 1);
    CHECK(checked.check.restored[0] == "/vol/sub/e: restored (missing; 1 parent directory made again)");
    struct stat status {};
    REQUIRE(lstat(scene.path("vol/sub").c_str(), &status) == 0);
    CHECK(S_ISDIR(status.st_mode));
    CHECK(readFileBytes(scene.path("vol/sub/e")) == "the bytes of e");
    CHECK(emptyDirectory(scene.path("elsewhere")));
}

TEST_CASE("a huge sparse file the container planted is recorded by its metadata, its holes never read") {
    SnapshotScene scene;
    std::string sparse = scene.inRoot("/vol/sparse");
    int fd = open(sparse.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, off_t{1} << 40) == 0);  // 1 TiB: read whole, minutes; copied, a full disk
    REQUIRE(pwrite(fd, "x", 1, 4096) == 1);
    close(fd);
    writeFileBytes(scene.inRoot("/vol/dense"), std::string(1 << 20, 'd'));
    pid_t holder = scene.startHolder({"/vol/sparse", "/vol/dense"});
    SnapshotOptions options;
    options.checkpointId = "sparse";
    options.store = scene.path("store");
    SnapshotRecord record = takeSnapshot({holder, {holder}}, options, scene.path("images"));
    const SnapshotFile* sparseFile = nullptr;
    const SnapshotFile* denseFile = nullptr;
    for (const SnapshotPart& part : record.parts)
        for (const SnapshotFile& file : part.files) {
            if (file.path == "/vol/sparse") sparseFile = &file;
            if (file.path == "/vol/dense") denseFile = &file;
        }
    REQUIRE(sparseFile);
    REQUIRE(denseFile);
    CHECK(sparseFile->digest == kNoDigest);
    CHECK(sparseFile->copy.empty());
    CHECK(sparseFile->size == (uint64_t{1} << 40));
    CHECK(denseFile->digest != kNoDigest);  // a dense file is digested and copied
    CHECK_FALSE(denseFile->copy.empty());
    CHECK(findSnapshotChanges(record, scene.path("root")).empty());
    REQUIRE(truncate(sparse.c_str(), 4096) == 0);  // its size is still checked
    std::vector<std::string> changes = findSnapshotChanges(record, scene.path("root"));
    REQUIRE(changes.size() == 1);
    CHECK(changes.front().find("/vol/sparse: size 1099511627776 -> 4096") != std::string::npos);
}

TEST_CASE("a btrfs snapshot for a store on another filesystem lives beside the subvolume and goes with delete") {
    Prepared prepared;
    std::string store = prepared.scene.path("store");
    SnapshotRecord record = prepared.snapshot(store);
    const SnapshotPart& data = record.parts.at(1);
    CHECK(data.data == prepared.scene.path("btrfsmnt/.lockcr-snapshots/cp1-part-1/subvolume"));
    struct stat status {};
    REQUIRE(stat(data.data.c_str(), &status) == 0);
    CHECK(status.st_ino == 256);
    deleteSnapshot(store, "cp1");
    CHECK_FALSE(exists(data.data));
    CHECK_FALSE(exists(prepared.scene.path("btrfsmnt/.lockcr-snapshots/cp1-part-1")));
    CHECK_FALSE(exists(store + "/cp1"));
}

TEST_CASE("a disk full during the snapshot fails, says so, and leaves nothing half-taken") {
    Prepared prepared(12 << 20);  // cannot fit in the 8 MiB store
    std::string tiny = prepared.scene.mountTinyFilesystem("tiny", 8);
    SnapshotOptions options;
    options.checkpointId = "full";
    options.store = tiny + "/store";
    CHECK_THROWS_WITH(takeSnapshot({prepared.holder, {prepared.holder}}, options, prepared.scene.path("images")),
                      Contains("No space left on device"));
    try {
        takeSnapshot({prepared.holder, {prepared.holder}}, options, prepared.scene.path("images"));
    } catch (const Error& error) {
        CHECK(std::string(error.what()).find("the half-taken snapshot is removed") != std::string::npos);
    }
    CHECK(emptyDirectory(tiny + "/store"));
    CHECK_FALSE(exists(prepared.scene.path("btrfsmnt/.lockcr-snapshots/full-part-1")));
    std::string homes = prepared.scene.path("btrfsmnt/.lockcr-snapshots");
    CHECK((!exists(homes) || emptyDirectory(homes)));
    CHECK_FALSE(exists(prepared.scene.path("images/lockcr-snapshot.json")));
}

TEST_CASE("prune removes by checkpoint id and by count, btrfs snapshots included") {
    Prepared prepared;
    std::string store = prepared.scene.path("btrfsmnt/store");
    SnapshotRecord first = prepared.snapshot(store, "first");
    REQUIRE(unlink(prepared.scene.path("images/lockcr-snapshot.json").c_str()) == 0);
    SnapshotRecord second = prepared.snapshot(store, "second");
    CHECK(pruneSnapshots(store, {.checkpointId = "first"}) == std::vector<std::string>{"first"});
    CHECK_FALSE(exists(first.parts.at(1).data));
    CHECK(exists(second.parts.at(1).data));
    CHECK(pruneSnapshots(store, {.keepNewest = 1}).empty());
    CHECK(pruneSnapshots(store, {.keepNewest = 0}) == std::vector<std::string>{"second"});
    CHECK(emptyDirectory(store));
    CHECK_THROWS_WITH(pruneSnapshots(store, {.checkpointId = "nope"}), Contains("no checkpoint nope"));
}

TEST_CASE("lockcr snapshot create, verify and rollback on the command line, with the container found by --pid") {
    Prepared prepared;
    TestCgroup cgroup;
    cgroup.add(prepared.holder);
    std::string store = prepared.scene.path("btrfsmnt/store"), images = prepared.scene.path("images");
    std::string pid = std::to_string(prepared.holder);
    CommandResult created = runLockcr(
        {"snapshot", "create", "--pid", pid, "--record-dir", images, "--store", store, "--checkpoint-id", "cli"});
    REQUIRE_MESSAGE(created.status == 0, created.err);
    CHECK(exists(images + "/lockcr-snapshot.json"));
    CommandResult clean = runLockcr({"snapshot", "verify", "--record", images, "--pid", pid});
    CHECK_MESSAGE(clean.status == 0, clean.err);
    prepared.rewriteKeepingSizeAndMtime("/data/a");
    CommandResult strict = runLockcr({"snapshot", "verify", "--record", images, "--pid", pid});
    CHECK(strict.status == 1);
    CHECK(strict.out == "/data/a: bytes changed (same size and mtime)\n");
    CommandResult rollback = runLockcr({"snapshot", "rollback", "--record", images, "--pid", pid});
    CHECK_MESSAGE(rollback.status == 0, rollback.err);
    CHECK(readFileBytes(prepared.scene.inRoot("/data/a")) == prepared.content("/data/a"));
    CommandResult removed = runLockcr({"snapshot", "delete", "--store", store, "--checkpoint-id", "cli"});
    CHECK(removed.status == 0);
    CHECK_FALSE(exists(store + "/cli"));
}
