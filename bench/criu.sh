#!/usr/bin/env bash
# bench/criu.sh [--quick | --runs N]: what lockcr adds to a real runc checkpoint and restore, beside
# plain CRIU in the same run. A runc container runs bench/lockload (10 processes holding 20,000
# locks: POSIX, OFD, flock, leases), and each run, in turn:
#   with     the container's org.criu.config file says `action-script LOCKCR`:
#            `runc checkpoint --file-locks`, then `runc restore -d` WITHOUT --file-locks (lockcr
#            records the locks at post-dump and sets every one of them again at post-resume)
#   locks-only  the same as with, lockcr's config saying `snapshot: false`: the locks alone,
#            without the filesystem stage (its snapshot at checkpoint, its check at restore)
#   without  the same file is empty (CRIU still parses it):
#            `runc checkpoint --file-locks`, then `runc restore -d --file-locks` (CRIU sets them)
# Both sides use the same CRIU (scripts/provision-criu.sh, BUILD/criu/criu) and the same
# CRIU_FAULT (130 unless set: this VM has no hardware breakpoints, DESIGN.md). The sides alternate
# (with, without, locks-only; then locks-only, without, with; ...) so that a drift of the machine's speed hits both, and
# each ratio is taken run by run, then the median of those ratios is printed. After every restore
# the container's processes must hold all their locks again (fdinfo "lock:" lines of every process
# in the container's cgroup), or the run counts as failed and is left out of the figures.
# Goals (informative, never asserted): checkpoint with/without <= 1.15, restore with/without <= 1.1.
#
# Needs root, runc, python3 (stdlib), cmake and a compiler; builds lockcr, lockload and the
# workloads into ${LOCKCR_BUILD_DIR:-<repo>/build}. Exit status 0 when every run succeeded (whatever
# the figures), 1 when a command failed or a restore did not bring every lock back, 2 on bad usage.
# The container and the work directory (/tmp/lockcr-test-PID-criu-bench.*) are removed on exit.
set -uo pipefail
export LC_ALL=C  # $EPOCHREALTIME with a dot

RUNS=7
case "${1:-}" in
    "") ;;
    --quick) RUNS=3 ;;
    --runs) [[ ${2:-} =~ ^[1-9][0-9]?$ ]] || { echo "usage: $0 [--quick | --runs N]" >&2; exit 2; }; RUNS=$2 ;;
    *) echo "usage: $0 [--quick | --runs N]" >&2; exit 2 ;;
esac
SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${LOCKCR_BUILD_DIR:-$SOURCE_DIR/build}
PROCESSES=10
LOCKS=20000
CALL_SECONDS=300
export CRIU_FAULT=${CRIU_FAULT:-130}

WORK=$(mktemp -d "/tmp/lockcr-test-$$-criu-bench.XXXXXX")  # swept (tests/container/sweep.sh) if killed
NAME=lockcr-test-$$-criu-bench
BUNDLE=$WORK/bundle
CRIU_CONFIG=$WORK/criu.conf
export LOCKCR_CONFIG=$WORK/lockcr.yaml  # runc hands its environment to CRIU, CRIU to lockcr
FAILED=0

die() { echo "bench: $*" >&2; exit 1; }

cleanup() {
    timeout -k 5 60 runc kill "$NAME" KILL >/dev/null 2>&1
    timeout -k 5 60 runc delete --force "$NAME" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs runc "$@" (bounded); sets STATUS and MS (wall, fork to wait). runc's messages go to
# $WORK/runc.log; its stdio is /dev/null: a restored container inherits runc's stdio, and CRIU
# cannot dump a host file there at the next checkpoint.
timed() {
    local start end micros
    : >"$WORK/runc.log"
    start=$EPOCHREALTIME
    timeout -k 5 "$CALL_SECONDS" runc --log "$WORK/runc.log" "$@" </dev/null >/dev/null 2>&1
    STATUS=$?
    end=$EPOCHREALTIME
    micros=$((10#${end/./} - 10#${start/./}))
    MS=$(printf '%d.%03d' $((micros / 1000)) $((micros % 1000)))
}

# The locks held by the processes of the container's freezer cgroup, from their fdinfo.
held_locks() {
    local init cgroup
    init=$(runc state "$NAME" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])') || { echo 0; return; }
    cgroup=/sys/fs/cgroup/freezer$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$init/cgroup")
    python3 - "$cgroup/cgroup.procs" <<'PYTHON'
import os, sys
count = 0
for pid in open(sys.argv[1]).read().split():
    directory = f"/proc/{pid}/fdinfo"
    for name in os.listdir(directory):
        try:
            with open(os.path.join(directory, name)) as info:
                count += sum(line.startswith("lock:") for line in info)
        except FileNotFoundError:
            pass
print(count)
PYTHON
}

# A failed step of one run: say what, with runc's output and the last errors of CRIU and lockcr.
run_failed() {  # IMAGE_DIR WHAT
    FAILED=$((FAILED + 1))
    echo "  FAILED: $2"
    tail -n 3 "$WORK/runc.log" | sed 's/^/    runc | /'
    grep -h -e 'Error' -e '^lockcr: ' "$1/dump.log" "$1/restore.log" 2>/dev/null | grep -v ' ms)$' | tail -n 5 | sed 's/^/    CRIU | /'
}

# --- Build, CRIU, bundle --------------------------------------------------------------------------
[[ $(id -u) == 0 ]] || die "needs root"
command -v runc >/dev/null || die "needs runc"
echo "bench: building lockcr and the workloads in $BUILD_DIR"
(
    if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then cmake -S "$SOURCE_DIR" -B "$BUILD_DIR" || exit 1; fi
    cmake --build "$BUILD_DIR" -j2 --target lockcr lockload lockholder
) >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; die "build failed (log above)"; }
LOCKCR=$BUILD_DIR/lockcr
"$SOURCE_DIR/scripts/provision-criu.sh" "$BUILD_DIR/criu" >"$WORK/provision.log" 2>&1 ||
    die "scripts/provision-criu.sh: $(tail -n 1 "$WORK/provision.log")"
CRIU=$BUILD_DIR/criu/criu

# build-rootfs.sh copies the static programs of one directory into the rootfs.
mkdir -p "$WORK/workloads"
ln -s "$BUILD_DIR/bench/lockload" "$BUILD_DIR/workload/lockholder" "$WORK/workloads/"
"$SOURCE_DIR/scripts/build-rootfs.sh" "$BUNDLE" "$WORK/workloads" >"$WORK/rootfs.log" 2>&1 ||
    die "build-rootfs.sh: $(tail -n 1 "$WORK/rootfs.log")"
python3 - "$BUNDLE/config.json" "$CRIU_CONFIG" "$PROCESSES" "$LOCKS" <<'PYTHON'
import json, sys
path, criu_config, processes, locks = sys.argv[1:]
config = json.load(open(path))
config["process"]["args"] = ["/usr/bin/lockload", "mixed", processes, locks, "/data"]
# runc reads the annotation at checkpoint and restore; the file's content picks the side.
config.setdefault("annotations", {})["org.criu.config"] = criu_config
json.dump(config, open(path, "w"), indent=2)
PYTHON
# lockcr's config per side: the defaults (snapshot taken), or without the filesystem stage.
lockcr_config() {  # with|locks-only
    printf 'log-file: %s\nsyslog: false\nsnapshot-store: %s\n' "$WORK/lockcr-$1.log" "$WORK/snapshots" >"$LOCKCR_CONFIG"
    [[ $1 == locks-only ]] && echo "snapshot: false" >>"$LOCKCR_CONFIG"
    return 0
}
lockcr_config with
: >"$CRIU_CONFIG"

rm -rf "$BUNDLE/rootfs/data"
mkdir -p "$BUNDLE/rootfs/data"
timed run -d --bundle "$BUNDLE" "$NAME"
((STATUS == 0)) || die "runc run: $(tail -n 1 "$WORK/runc.log")"
for _ in $(seq 600); do [[ -e $BUNDLE/rootfs/data/ready ]] && break; sleep 0.1; done
[[ -e $BUNDLE/rootfs/data/ready ]] || die "lockload did not get ready in 60 s"
held=$(held_locks)
((held == LOCKS)) || die "lockload holds $held locks, not $LOCKS"
echo "bench: $RUNS runs a side; $(nproc) cpus; kernel $(uname -r); $("$LOCKCR" --version); CRIU $("$CRIU" --version | head -n 1 | awk '{ print $2 }'), CRIU_FAULT=$CRIU_FAULT"
echo "bench: container $NAME: lockload mixed $PROCESSES $LOCKS holds $held locks; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# --- Runs -----------------------------------------------------------------------------------------
# One side of one run: checkpoint, restore, check the locks. Appends "SIDE checkpoint|restore MS"
# to $WORK/times for each success.
one_side() {  # RUN with|without
    local run=$1 side=$2 images=$WORK/images-$1-$2 restore_flags=()
    if [[ $side != without ]]; then
        lockcr_config "$side"
        echo "action-script $LOCKCR" >"$CRIU_CONFIG"
    else
        : >"$CRIU_CONFIG"
        restore_flags=(--file-locks)
    fi
    mkdir -p "$images"
    timed --criu "$CRIU" checkpoint --file-locks --image-path "$images" "$NAME"
    if ((STATUS != 0)); then
        run_failed "$images" "run $run, $side: runc checkpoint --file-locks exited $STATUS"
        return 1
    fi
    echo "$run $side checkpoint $MS" >>"$WORK/times"
    local checkpoint_ms=$MS
    timed --criu "$CRIU" restore -d "${restore_flags[@]}" --image-path "$images" --bundle "$BUNDLE" "$NAME"
    if ((STATUS != 0)); then
        run_failed "$images" "run $run, $side: runc restore -d ${restore_flags[*]} exited $STATUS"
        return 1
    fi
    held=$(held_locks)
    if ((held != LOCKS)); then
        run_failed "$images" "run $run, $side: after runc restore -d ${restore_flags[*]} the container holds $held of its $LOCKS locks"
        return 0
    fi
    echo "$run $side restore $MS" >>"$WORK/times"
    printf '  run %d %-8s checkpoint %9s ms   restore %9s ms   %d locks back\n' "$run" "$side" "$checkpoint_ms" "$MS" "$held"
    rm -rf "$images"
}

: >"$WORK/times"
for run in $(seq "$RUNS"); do
    sides=(with without locks-only)
    ((run % 2 == 0)) && sides=(locks-only without with)
    for side in "${sides[@]}"; do
        one_side "$run" "$side" || die "the container is gone after a failed step: stopping"
    done
done
if ((FAILED == 0)) && cat "$WORK"/lockcr-*.log | grep -v ' ms)$' >"$WORK/lockcr-other.log"; then
    echo "bench: lines of lockcr's log that are not a finished action:"
    sed 's/^/  /' "$WORK/lockcr-other.log"
fi

# --- Figures --------------------------------------------------------------------------------------
echo
python3 - "$WORK/times" <<'PYTHON'
import statistics, sys
times = {}  # (run, side, step) -> ms
for line in open(sys.argv[1]):
    run, side, step, ms = line.split()
    times[(int(run), side, step)] = float(ms)
rows = [("figure", "runs", "min", "median", "max")]
summary = []
for step, goal, what_with, what_locks_only, what_without in (
        ("checkpoint", 1.15, "runc checkpoint --file-locks, lockcr as action script",
         "  the same, lockcr with snapshot: false",
         "runc checkpoint --file-locks, no action script"),
        ("restore", 1.10, "runc restore (no --file-locks), lockcr as action script",
         "  the same, lockcr with snapshot: false",
         "runc restore --file-locks, no action script")):
    for side, what in (("with", what_with), ("locks-only", what_locks_only), ("without", what_without)):
        values = [ms for (run, s, t), ms in times.items() if s == side and t == step]
        if values:
            rows.append((what, str(len(values)), "%.1f ms" % min(values), "%.1f ms" % statistics.median(values),
                         "%.1f ms" % max(values)))
    for side, label in (("with", "with/without"), ("locks-only", "snapshot: false/without")):
        pairs = sorted(run for (run, s, t) in times if s == side and t == step and (run, "without", step) in times)
        if not pairs:
            summary.append(f"{step}: {label}: no run with both sides")
            continue
        ratios = [times[(r, side, step)] / times[(r, "without", step)] for r in pairs]
        added = [times[(r, side, step)] - times[(r, "without", step)] for r in pairs]
        ratio = statistics.median(ratios)
        summary.append(f"{step}: {label} {ratio:.3f} (median of {len(pairs)} runs' ratios, {min(ratios):.3f} to "
                       f"{max(ratios):.3f}); lockcr adds {statistics.median(added):.1f} ms (median of the differences); "
                       f"goal <= {goal}: {'PASS' if ratio <= goal else 'MISS'}")
widths = [max(len(row[i]) for row in rows) for i in range(5)]
for row in rows:
    print("  " + "  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                           for i, (cell, width) in enumerate(zip(row, widths))))
print()
for line in summary:
    print("  " + line)
PYTHON
# Where lockcr's share goes: the time each action reports in its log line (CRIU 4.1 runs every
# action twice; the second run of a finished step only finds it done), medians over the runs.
python3 - "$RUNS" "$WORK/lockcr-with.log" "$WORK/lockcr-locks-only.log" <<'PYTHON'
import collections, os, re, statistics, sys
runs = int(sys.argv[1])
for path, label in zip(sys.argv[2:], ("lockcr as action script", "lockcr with snapshot: false")):
    if not os.path.exists(path):
        continue
    per_action = collections.defaultdict(list)  # action -> [(wall, cpu)]
    for line in open(path):
        match = re.search(r"lockcr: ([a-z-]+): .*\((\d+) ms, CPU (\d+) ms\)$", line)
        if match:
            per_action[match.group(1)].append((int(match.group(2)), int(match.group(3))))
    print(f"  {label}: its own time per action (its log: wall, and CPU of all its threads), the median")
    print("  of each run's first and second call:")
    for action, values in per_action.items():
        if len(values) >= 2 * runs and max(wall for wall, cpu in values) > 0:
            firsts, seconds = values[0::2], values[1::2]
            median = lambda pairs, i: statistics.median(pair[i] for pair in pairs)
            print(f"    {action:22} {median(firsts, 0):7.0f} ms (CPU {median(firsts, 1):4.0f} ms), "
                  f"then {median(seconds, 0):5.0f} ms (CPU {median(seconds, 1):4.0f} ms)")
PYTHON
echo "bench: load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
((FAILED == 0)) || { echo "bench: $FAILED run(s) failed (see above)"; exit 1; }
exit 0
