#!/usr/bin/env bash
# bench/snapshot.sh: what the snapshot stage costs (issue 13).
#   1. `lockcr snapshot create` of a btrfs subvolume root holding 10 MB, then 1 GB, in the same
#      run, data synced before the clock starts. Goal: flat (1 GB / 10 MB <= 1.5): a read-only
#      subvolume snapshot shares every extent.
#   2. Manifest digest throughput: `lockcr snapshot verify` of a whole-volume record (it reads and
#      digests every file with XXH3-128) against `cat FILES >/dev/null` of the same files, both
#      from a warm page cache. Goal: >= 0.8x the floor.
# The "container" is a busybox `sleep` chrooted into the root (bind-mounted onto itself so the
# root is a mount), in its own cgroup v1 freezer group. Runs each figure RUNS times (median).
# Needs root, btrfs-progs, busybox-static, python3. Everything made here is removed on exit.
# Goals are informative: exit 0 unless a command failed.
set -uo pipefail
export LC_ALL=C

RUNS=${RUNS:-5}
SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${LOCKCR_BUILD_DIR:-$SOURCE_DIR/build}
LOCKCR=$BUILD_DIR/lockcr
FREEZER=/sys/fs/cgroup/freezer
WORK=$(mktemp -d /tmp/lockcr-bench.XXXXXX)
CGROUP=$FREEZER/lockcr-bench-$$
MOUNTS=()
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    [[ -d $CGROUP ]] && rmdir "$CGROUP" 2>/dev/null
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}"; done
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

fail() { echo "snapshot bench: $*" >&2; exit 1; }
now() { echo "$EPOCHREALTIME"; }
median() { python3 -c 'import sys, statistics; print("%.3f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

[[ -x $LOCKCR ]] || fail "no $LOCKCR (build first: scripts/build.sh)"
mkdir -p "$CGROUP" || fail "cannot make $CGROUP"

# A chrooted sleeper whose root is ROOT, in the bench's cgroup; its pid goes to CONTAINER_PID.
start_container() {
    local root=$1
    cp /bin/busybox "$root/busybox"
    chroot "$root" /busybox sleep 100000 </dev/null >/dev/null 2>&1 &
    CONTAINER_PID=$!
    PIDS+=("$CONTAINER_PID")
    echo "$CONTAINER_PID" >"$CGROUP/cgroup.procs"
}

mount_bind_self() { mount --bind "$1" "$1" && MOUNTS+=("$1"); }

# --- 1. btrfs snapshot time at 10 MB and 1 GB --------------------------------------------------
truncate -s 3G "$WORK/btrfs.img" && mkfs.btrfs -q "$WORK/btrfs.img" >/dev/null || fail "mkfs.btrfs"
mkdir "$WORK/btrfs" && mount -o loop "$WORK/btrfs.img" "$WORK/btrfs" && MOUNTS+=("$WORK/btrfs") || fail "mount btrfs"
declare -A BTRFS_MS
for size in 10 1024; do
    root=$WORK/btrfs/root-$size
    btrfs -q subvolume create "$root" >/dev/null || fail "subvolume create"
    head -c "$((size * 1024 * 1024))" /dev/urandom >"$root/data.bin"
    mount_bind_self "$root" || fail "bind $root"
    start_container "$root"
    pid=$CONTAINER_PID
    times=()
    for ((run = 0; run < RUNS; run++)); do
        mkdir -p "$WORK/images-$size-$run"
        sync
        start=$(now)
        "$LOCKCR" snapshot create --pid "$pid" --record-dir "$WORK/images-$size-$run" --store "$WORK/btrfs/store" \
            --checkpoint-id "b$size-$run" >/dev/null || fail "snapshot create ($size MB) failed"
        end=$(now)
        times+=("$(python3 -c "print(($end - $start) * 1000)")")
    done
    BTRFS_MS[$size]=$(median "${times[@]}")
    printf 'btrfs snapshot, %5s MB of data: %8s ms (median of %d)\n' "$size" "${BTRFS_MS[$size]}" "$RUNS"
done
python3 -c "r = ${BTRFS_MS[1024]} / ${BTRFS_MS[10]}; print('btrfs snapshot 1 GB / 10 MB: %.2f (goal <= 1.5: %s)' % (r, 'met' if r <= 1.5 else 'MISSED'))"

# --- 2. manifest digest throughput against cat ---------------------------------------------------
mkdir -p "$WORK/plain/root/vol" "$WORK/plain/volume"
for i in $(seq 1 32); do head -c $((16 * 1024 * 1024)) /dev/urandom >"$WORK/plain/volume/f$i"; done
mount_bind_self "$WORK/plain/root" || fail "bind root"
mount --bind "$WORK/plain/volume" "$WORK/plain/root/vol" && MOUNTS+=("$WORK/plain/root/vol") || fail "bind volume"
start_container "$WORK/plain/root"
pid=$CONTAINER_PID
mkdir -p "$WORK/images-manifest"
"$LOCKCR" snapshot create --pid "$pid" --whole-volumes --record-dir "$WORK/images-manifest" --store "$WORK/store" \
    --checkpoint-id manifest >/dev/null || fail "snapshot create (manifest) failed"
files=("$WORK"/plain/volume/f*)
bytes=$(cat "${files[@]}" | wc -c)
cat_times=() verify_times=()
for ((run = 0; run < RUNS; run++)); do
    start=$(now); cat "${files[@]}" >/dev/null; end=$(now)
    cat_times+=("$(python3 -c "print($end - $start)")")
    start=$(now)
    "$LOCKCR" snapshot verify --record "$WORK/images-manifest" --pid "$pid" >/dev/null || fail "snapshot verify failed"
    end=$(now)
    verify_times+=("$(python3 -c "print($end - $start)")")
done
python3 - "$bytes" "$(median "${cat_times[@]}")" "$(median "${verify_times[@]}")" <<'PY'
import sys
size, cat, verify = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
mib = size / 2**20
print("manifest digest (verify), %d MiB in 32 files: %.0f MiB/s" % (mib, mib / verify))
print("cat >/dev/null floor, same files:           %.0f MiB/s" % (mib / cat))
ratio = cat / verify
print("digest / floor: %.2fx (goal >= 0.8x: %s)" % (ratio, "met" if ratio >= 0.8 else "MISSED"))
PY
