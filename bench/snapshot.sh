#!/usr/bin/env bash
# bench/snapshot.sh: what the snapshot stage costs (issue 13).
#   1. `lockcr snapshot create` of a btrfs subvolume root holding 10 MB, then 1 GB, in the same
#      run, data synced before the clock starts. Goal: flat (1 GB / 10 MB <= 1.5): a read-only
#      subvolume snapshot shares every extent.
#   2. Manifest digest throughput: `lockcr snapshot verify` of a whole-volume record (it reads and
#      digests every file with XXH3-128) against `cat FILES >/dev/null` of the same files, both
#      from a warm page cache. Goal: >= 0.8x the floor.
#   3. What the snapshot adds to a checkpoint: lockcr's side of one (freeze the container, `lockcr
#      dump --no-freeze`, thaw) against the same with `lockcr snapshot create` between dump and
#      thaw, and with `--export-volumes` as well, on a container holding 7 files of 8 MiB of a
#      plain bind-mounted volume open (the manifest records, copies and digests each; the export
#      copies them into the image directory). Runs interleaved, page cache warm. The length of the
#      host's /proc/locks is printed: the snapshot reads it whole.
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
CHECKPOINT_CGROUP=$FREEZER/lockcr-bench-$$-checkpoint  # section 3's container alone
MOUNTS=()
PIDS=()

cleanup() {
    # Thawed first: a task frozen by the cgroup v1 freezer dies of SIGKILL only once thawed.
    [[ -d $CHECKPOINT_CGROUP ]] && echo THAWED >"$CHECKPOINT_CGROUP/freezer.state" 2>/dev/null
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    for group in "$CGROUP" "$CHECKPOINT_CGROUP"; do [[ -d $group ]] && rmdir "$group" 2>/dev/null; done
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

# --- 3. what the snapshot adds to a checkpoint ----------------------------------------------------
mkdir -p "$CHECKPOINT_CGROUP" || fail "cannot make $CHECKPOINT_CGROUP"
for fd in 3 4 5 6 7 8 9; do head -c $((8 * 1024 * 1024)) /dev/urandom >"$WORK/plain/volume/held-$fd"; done
chroot "$WORK/plain/root" /busybox sh -c \
    'exec 3</vol/held-3 4</vol/held-4 5</vol/held-5 6</vol/held-6 7</vol/held-7 8</vol/held-8 9</vol/held-9; exec /busybox sleep 100000' \
    </dev/null >/dev/null 2>&1 &
pid=$!
PIDS+=("$pid")
echo "$pid" >"$CHECKPOINT_CGROUP/cgroup.procs"
until [[ $(find "/proc/$pid/fd" -lname '*/held-*' 2>/dev/null | wc -l) -eq 7 ]]; do sleep 0.05; done
set_freezer() {  # FROZEN | THAWED, waited for
    echo "$1" >"$CHECKPOINT_CGROUP/freezer.state"
    until [[ $(cat "$CHECKPOINT_CGROUP/freezer.state") == "$1" ]]; do :; done
}
checkpoint_ms() {  # VARIANT RUN: lockcr's side of one checkpoint; prints milliseconds
    local images=$WORK/checkpoint-$1-$2 start end
    mkdir -p "$images"
    sync
    start=$(now)
    set_freezer FROZEN
    "$LOCKCR" dump --no-freeze --pid "$pid" -o "$images/lockcr.locks.json" >/dev/null || fail "lockcr dump failed"
    case $1 in
        snapshot) "$LOCKCR" snapshot create --pid "$pid" --record-dir "$images" --store "$WORK/store" \
            --checkpoint-id "checkpoint-$1-$2" >/dev/null || fail "snapshot create failed" ;;
        export) "$LOCKCR" snapshot create --pid "$pid" --record-dir "$images" --store "$WORK/store" \
            --checkpoint-id "checkpoint-$1-$2" --export-volumes >/dev/null || fail "snapshot create --export-volumes failed" ;;
    esac
    set_freezer THAWED
    end=$(now)
    python3 -c "print(($end - $start) * 1000)"
    [[ $1 == none ]] || "$LOCKCR" snapshot delete --store "$WORK/store" --checkpoint-id "checkpoint-$1-$2" >/dev/null
    rm -rf "$images"
}
# The snapshot reads /proc/locks whole (to find leases, which an open of ours would break): its
# length, the host's, not the container's, weighs on this figure.
echo "host /proc/locks before section 3: $(wc -l </proc/locks) lines"
declare -A CHECKPOINT_TIMES=()
for ((run = 0; run < RUNS; run++)); do
    for variant in none snapshot export; do
        CHECKPOINT_TIMES[$variant]+="$(checkpoint_ms "$variant" "$run") "
    done
    start=$(now); cat /proc/locks >/dev/null; end=$(now)
    CHECKPOINT_TIMES[proc_locks]+="$(python3 -c "print(($end - $start) * 1000)") "
done
# shellcheck disable=SC2046,SC2086  # one median per variant, as separate arguments
python3 - "$RUNS" $(for variant in none snapshot export proc_locks; do median ${CHECKPOINT_TIMES[$variant]}; done) <<'PY'
import sys
runs, none, snapshot, export, proc_locks = int(sys.argv[1]), *map(float, sys.argv[2:6])
print("checkpoint, lockcr's side (freeze, lockcr dump, thaw), 7 open files of 8 MiB on a volume: %8.1f ms (median of %d)" % (none, runs))
print("  + lockcr snapshot create (manifest: copy and digest of the 7 files):                  %8.1f ms: the snapshot adds %.1f ms" % (snapshot, snapshot - none))
print("  + lockcr snapshot create --export-volumes (a second copy, into the image directory):  %8.1f ms: adds %.1f ms" % (export, export - none))
print("  of which reading the host's /proc/locks once (cat, same runs):                       %8.1f ms" % proc_locks)
PY
