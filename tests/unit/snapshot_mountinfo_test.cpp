// /proc/PID/mountinfo for the snapshot stage: real tables captured on this machine
// (tests/samples/mountinfo_overlay_btrfs.txt: a process chrooted into an overlay root with a btrfs
// subvolume and an ext4 directory bind-mounted as volumes; mountinfo_host.txt: the host's table at
// the same moment) and hostile text.
#include <doctest/doctest.h>

#include "snapshot/mountinfo.h"
#include "util/error.h"
#include "util/sys.h"

using namespace lockcr;
using doctest::Contains;

namespace {

std::vector<MountInfoEntry> sample(const std::string& name) {
    return parseMountInfo(sys::readFile(std::string(LOCKCR_SAMPLES) + "/mountinfo_" + name + ".txt"));
}

const ContainerMount& mountAt(const std::vector<ContainerMount>& mounts, const std::string& mountPoint) {
    for (const ContainerMount& mount : mounts)
        if (mount.mount.mountPoint == mountPoint) return mount;
    FAIL("no mount at " << mountPoint);
    return mounts.front();
}

}  // namespace

TEST_CASE("a mountinfo line gives ids, device, root, mount point, type, source and super options") {
    std::vector<MountInfoEntry> mounts = parseMountInfo(
        "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n");
    REQUIRE(mounts.size() == 1);
    CHECK(mounts[0].mountId == 36);
    CHECK(mounts[0].parentId == 35);
    CHECK(mounts[0].major == 98);
    CHECK(mounts[0].minor == 0);
    CHECK(mounts[0].root == "/mnt1");
    CHECK(mounts[0].mountPoint == "/mnt2");
    CHECK(mounts[0].fsType == "ext3");
    CHECK(mounts[0].source == "/dev/root");
    CHECK(mounts[0].superOptions == "rw,errors=continue");
    CHECK_FALSE(mounts[0].readOnly());
}

TEST_CASE("octal escapes in paths are decoded") {
    auto mounts = parseMountInfo("40 1 0:5 /a\\040b /data\\011x\\134y rw - ext4 /dev/x rw\n");
    CHECK(mounts.at(0).root == "/a b");
    CHECK(mounts.at(0).mountPoint == "/data\tx\\y");
}

TEST_CASE("the captured container table: overlay root, btrfs subvolume volume, ext4 directory volume") {
    std::vector<ContainerMount> mounts = writableContainerMounts(sample("overlay_btrfs"));
    REQUIRE(mounts.size() == 3);  // /proc is not data
    const ContainerMount& root = mountAt(mounts, "/");
    CHECK(root.backend == SnapshotBackend::overlay);
    CHECK(root.upperDirectory == "/tmp/lockcr-test-fcnJa1/upper");
    const ContainerMount& data = mountAt(mounts, "/data");
    CHECK(data.backend == SnapshotBackend::btrfs);
    CHECK(data.mount.root == "/data");
    CHECK(mountAt(mounts, "/vol").backend == SnapshotBackend::manifest);
}

TEST_CASE("the same mounts are found in the host's table by device and root") {
    std::vector<MountInfoEntry> container = sample("overlay_btrfs"), host = sample("host");
    CHECK(pathInOtherTable(container.at(1), host) == "/tmp/lockcr-test-fcnJa1/btrfsmnt/data");
    CHECK(pathInOtherTable(container.at(2), host) == "/tmp/lockcr-test-fcnJa1/vol");
    MountInfoEntry elsewhere = container.at(1);
    elsewhere.major = 999;
    CHECK(pathInOtherTable(elsewhere, host).empty());
}

TEST_CASE("read-only and pseudo filesystems are not snapshotted; a later mount on a point hides the earlier") {
    std::vector<ContainerMount> mounts = writableContainerMounts(
        parseMountInfo("1 0 8:1 / / rw - ext4 /dev/a rw\n"
                       "2 1 0:3 / /proc rw - proc proc rw\n"
                       "3 1 0:4 / /tmp rw - tmpfs tmpfs rw\n"
                       "4 1 8:2 /v /ro ro,relatime - ext4 /dev/b ro\n"
                       "5 1 8:2 /w /data rw - ext4 /dev/b rw\n"
                       "6 1 0:40 /sub /data rw - btrfs /dev/c rw,subvol=/sub\n"));
    REQUIRE(mounts.size() == 2);
    CHECK(mounts[0].mount.mountPoint == "/");
    CHECK(mounts[1].mount.mountId == 6);
    CHECK(mounts[1].backend == SnapshotBackend::btrfs);
}

TEST_CASE("an overlay without an upper layer is left to the manifest; overlay escapes commas") {
    auto mounts = writableContainerMounts(parseMountInfo("1 0 0:9 / / rw - overlay overlay rw,lowerdir=/l1:/l2\n"));
    CHECK(mounts.at(0).backend == SnapshotBackend::manifest);
    CHECK(mountOption("rw,lowerdir=/l,upperdir=/u\\,v,workdir=/w", "upperdir") == "/u,v");
    CHECK(mountOption("rw,upper=/x", "upperdir").empty());
}

TEST_CASE("a read-only root leaves nothing to snapshot there; no root at all is refused") {
    CHECK(writableContainerMounts(parseMountInfo("1 0 8:1 / / ro - ext4 /dev/a ro\n")).empty());
    CHECK_THROWS_WITH(writableContainerMounts(parseMountInfo("1 0 8:1 / /x rw - ext4 /dev/a rw\n")),
                      Contains("no mount at \"/\""));
}

TEST_CASE("hostile mountinfo is refused with the line") {
    CHECK_THROWS_WITH(parseMountInfo("1 0 8:1 / / rw - ext4 /dev/a rw"), Contains("line 1: no newline"));
    CHECK_THROWS_WITH(parseMountInfo("1 0 8:1 / / rw ext4 /dev/a rw\n"), Contains("mountinfo line 1"));
    CHECK_THROWS_WITH(parseMountInfo("1 0 8:1 / / rw - ext4 /dev/a\n"), Contains("expected 6 fields"));
    CHECK_THROWS_WITH(parseMountInfo("x 0 8:1 / / rw - ext4 /dev/a rw\n"), Contains("mount id"));
    CHECK_THROWS_WITH(parseMountInfo("1 0 81 / / rw - ext4 /dev/a rw\n"), Contains("MAJOR:MINOR"));
    CHECK_THROWS_WITH(parseMountInfo("1 0 8:1 / /a\\9 rw - ext4 /dev/a rw\n"), Contains("bad escape"));
    CHECK_THROWS_WITH(parseMountInfo("1 0 8:1 / /a\\000 rw - ext4 /dev/a rw\n"), Contains("bad path"));
    CHECK_THROWS_WITH(parseMountInfo("1 0 99999999999 / / rw - ext4 /dev/a rw\n"), Contains("MAJOR:MINOR"));
    CHECK_THROWS_WITH(parseMountInfo("1 0 8:99999999999 / / rw - ext4 /dev/a rw\n"), Contains("minor"));
    CHECK_THROWS_WITH(parseMountInfo("1 0 8:1 / / rw -  /dev/a rw\n"), Contains("empty filesystem type"));
    CHECK(parseMountInfo("").empty());
}
