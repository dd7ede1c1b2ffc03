#!/usr/bin/env bash
# Installs, from Debian's own package registry, everything lockcr needs to build and test on a
# Debian 12 machine. Runs as root with no standard input; running it again changes nothing.
#
# Usage: scripts/install-deps.sh
#
# CRIU is deliberately not installed here: Debian 12's criu 3.17 fails on kernels >= 6.13, so the
# tests use Debian 13's CRIU unpacked into a private directory (scripts/provision-criu.sh).
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: must run as root" >&2
    exit 1
fi

packages=(
    # Build.
    build-essential cmake pkg-config
    nlohmann-json3-dev libsimdjson-dev libcap-ng-dev doctest-dev libcli11-dev libyaml-cpp-dev
    # The snapshot stage: btrfs subvolume snapshots and XXH3 digests; mkfs.btrfs for its tests.
    libbtrfsutil-dev libxxhash-dev btrfs-progs
    # lockcr show: checkpoint archives (libarchive) and CRIU's protobuf images (protoc-c generates
    # the decoders from hook/criu/images/*.proto at build time).
    libarchive-dev protobuf-c-compiler libprotobuf-c-dev
    # The man page lockcr(1) is generated from man/lockcr.1.scd; `man -l` checks the installed one.
    scdoc man-db
    # The Debian package (CPack: dpkg-deb, dpkg-shlibdeps from dpkg-dev) and the container image
    # test (podman build from a base made with debootstrap; podman pulls in Debian's criu 3.17 at
    # /usr/sbin/criu, which the CRIU tests never use: see scripts/provision-criu.sh).
    dpkg-dev debootstrap
    # Fuzzing (scripts/fuzz.sh): clang with libFuzzer and the sanitizer runtimes.
    clang libclang-rt-14-dev
    # The aarch64 injection code is compiled (not run) by tests/arch/compile_aarch64.sh.
    g++-aarch64-linux-gnu
    # Schema checks in the tests (run with /usr/bin/python3, not a pyenv python); yaml reads
    # examples/lockcr.yaml for tests/config_schema_check.py.
    python3 python3-jsonschema python3-yaml
    # Containers: runc, the busybox rootfs, and iptables (CRIU calls it for network namespaces).
    runc busybox-static iptables
    # tests/container/podman_test.sh: podman 4.3.1, run with --runtime runc (Debian 12's crun has no
    # checkpoint support). podman and runc exec `criu` from PATH: the test puts the provisioned
    # CRIU 4.1 first there, so Debian 12's criu 3.17 (a recommendation of podman, broken on kernels
    # >= 6.13) is neither needed nor used if present.
    podman
    # Kernel truth and process tools used by the tests and scripts: lslocks/nsenter (util-linux),
    # ps/pgrep (procps), fuser/pstree (psmisc), jq for `runc state`, file (static binary checks).
    util-linux procps psmisc jq file
    # scripts/provision-criu.sh: apt-get download needs the archive keys; dpkg-deb ships with dpkg.
    debian-archive-keyring ca-certificates
)

# Skip the network entirely when everything is already there.
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$package")
    fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#packages[@]} packages already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
apt-get update -q </dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
echo "install-deps: done"
