#!/usr/bin/env bash
# bench/run.sh [--quick]: how long lockcr takes on containers with many locks, next to lslocks.
#
# Builds lockcr and bench/lockload into ${LOCKCR_BUILD_DIR:-<repo>/build}, then for each
# scenario starts lockload in a fresh cgroup v1 freezer cgroup (the "container") and times N runs
# (11, or 3 with --quick) of each command. Needs root, /sys/fs/cgroup/freezer and python3.
# Timing is wall time around fork+exec+wait of the command (bash $EPOCHREALTIME), plus the CPU
# time it used (bash's times builtin); statistics come from python3. See bench/README.md.
#
# Goals are informative: the exit status is 0 even when a figure misses its goal, and 1 only when
# a command failed (lockcr exited non-zero, or the locks were not all back after a replay). A
# failed run is printed with lockcr's own message and the remaining runs still go on.
# Every process and cgroup made here is removed on exit (trap).
set -uo pipefail
export LC_ALL=C  # $EPOCHREALTIME with a dot

RUNS=11
case "${1:-}" in
    --quick) RUNS=3 ;;
    "") ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${LOCKCR_BUILD_DIR:-$SOURCE_DIR/build}
FREEZER=/sys/fs/cgroup/freezer
LSLOCKS_SLOW_MS=2000                    # above this, lslocks runs once only
LSLOCKS_TIMEOUT=${LSLOCKS_TIMEOUT:-600}  # seconds; beyond it lslocks is reported as "> this"
FAILURES_SHOWN=3                        # failed runs printed in full per figure

WORK=$(mktemp -d /tmp/lockcr-test-$$-bench.XXXXXX)  # lockcr-test-PID-: swept if the bench is killed
SUMMARY=$WORK/summary.tsv  # figure, wall, cpu, goal, result
CGROUPS=()
WORKLOAD_PIDS=()
FAILURES=0

# --- cleanup ----------------------------------------------------------------------------------

removeCgroup() {
    local cgroup=$1 attempt pids
    [[ -d $cgroup ]] || return 0
    # A lockcr that died (or failed closed) mid-run can leave the cgroup frozen; frozen tasks
    # cannot die.
    echo THAWED >"$cgroup/freezer.state" 2>/dev/null
    for attempt in $(seq 200); do
        pids=$(cat "$cgroup/cgroup.procs" 2>/dev/null)
        [[ -z $pids ]] && break
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null
        sleep 0.05
    done
    rmdir "$cgroup" 2>/dev/null || echo "bench: could not remove $cgroup" >&2
}

cleanup() {
    local pid cgroup
    for pid in "${WORKLOAD_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for cgroup in "${CGROUPS[@]}"; do removeCgroup "$cgroup"; done
    for pid in "${WORKLOAD_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers ----------------------------------------------------------------------------------

die() { echo "bench: $*" >&2; exit 1; }

py() { python3 -c "$1" "${@:2}"; }

# "WALL... -- CPU...": prints "min median max cpu-median" in ms with one decimal.
STATS='
import statistics, sys
split = sys.argv.index("--")
wall = [float(x) for x in sys.argv[1:split]]
cpu = [float(x) for x in sys.argv[split + 1:]]
print("%.1f %.1f %.1f %.1f" % (min(wall), statistics.median(wall), max(wall), statistics.median(cpu)))'

# Locks the workload's processes hold, counted from /proc/PID/fdinfo/* "lock:" lines. Not from
# /proc/locks: a read of it is a series of page-sized reads that each re-walk the global list to
# their offset, so while anything else on the host takes or drops locks, lines are skipped or
# repeated (seen here: 984 to 1292 lines for a process holding 1000 POSIX locks). fdinfo lists
# an fd's locks under the inode's lock, and shows a flock or lease that lockcr set through
# pidfd_getfd on this same fd.
COUNT_LOCKS='
import os, sys
count = 0
for pid in open(os.path.join(sys.argv[1], "pids")).read().split():
    directory = "/proc/%s/fdinfo" % pid
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, ProcessLookupError):
        continue
    for name in names:
        try:
            with open(os.path.join(directory, name)) as info:
                count += sum(1 for line in info if line.startswith("lock:"))
        except (FileNotFoundError, ProcessLookupError):
            pass
print(count)'

countLocks() { py "$COUNT_LOCKS" "$1"; }

# The locks a lock image (lockcr inspect --json, lockcr dump) holds: each process fd's POSIX locks
# and each open file description's locks. Fails on a missing, empty or unparsable image.
IMAGE_LOCKS='
import json, sys
image = json.load(open(sys.argv[1]))
print(sum(len(fd["locks"]) for process in image["processes"] for fd in process["fds"])
      + sum(len(description["locks"]) for description in image["descriptions"]))'

# checkImage FILE WANT: the image in FILE holds WANT locks; otherwise says why in $WORK/last.err.
checkImage() {
    local found
    if ! found=$(py "$IMAGE_LOCKS" "$1" 2>&1); then
        echo "exited 0, but its image $1 is missing or unreadable: $(tail -n 1 <<<"$found")" >"$WORK/last.err"
        return 1
    fi
    ((found == $2)) && return 0
    echo "exited 0, but its image holds $found locks, the workload $2" >"$WORK/last.err"
    return 1
}

summaryRow() {  # figure wall cpu goal result
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$SUMMARY"
}

verdict() {  # value goal -> PASS | MISS
    py 'import sys; print("PASS" if float(sys.argv[1]) <= float(sys.argv[2]) else "MISS")' "$1" "$2"
}

# User+system CPU ms of all waited-for children so far (bash's times builtin: no fork).
childCpuMs() {
    local lines
    times >"$WORK/times"
    mapfile -t lines <"$WORK/times"
    [[ ${lines[1]} =~ ^([0-9]+)m([0-9]+)\.([0-9]+)s\ ([0-9]+)m([0-9]+)\.([0-9]+)s$ ]] || { CHILD_CPU_MS=0; return; }
    local r=("${BASH_REMATCH[@]}")
    CHILD_CPU_MS=$(((10#${r[1]} + 10#${r[4]}) * 60000 + (10#${r[2]} + 10#${r[5]}) * 1000 + 10#${r[3]} + 10#${r[6]}))
}

# Runs "$@" with stdout to $WORK/last.out and stderr to $WORK/last.err; sets STATUS, ELAPSED_MS (wall,
# fork+exec+wait) and CPU_MS (user+system of the command and its children, ms resolution).
# Nothing forks between the two clock readings but the command itself.
timeCommand() {
    local start end cpuBefore micros
    childCpuMs
    cpuBefore=$CHILD_CPU_MS
    start=$EPOCHREALTIME
    "$@" >"$WORK/last.out" 2>"$WORK/last.err"
    STATUS=$?
    end=$EPOCHREALTIME
    childCpuMs
    CPU_MS=$((CHILD_CPU_MS - cpuBefore))
    micros=$((10#${end/./} - 10#${start/./}))
    ELAPSED_MS=$(printf '%d.%03d' $((micros / 1000)) $((micros % 1000)))
}

# reportFailure WHAT SHOWN_SO_FAR: counts the failure; prints it in full for the first few.
reportFailure() {
    FAILURES=$((FAILURES + 1))
    (($2 < FAILURES_SHOWN)) || return 0
    echo "  FAILED: $1 (exit $STATUS):"
    sed 's/^/    | /' "$WORK/last.err"
}

printHeader() { printf '  %-32s %5s  %9s %9s %9s  %9s\n' "figure (ms)" "ok" "wall min" median max "cpu med."; }

printRow() {  # label ok/runs "min median max cpu"
    local values
    read -ra values <<<"$3"
    printf '  %-32s %5s  %9s %9s %9s  %9s\n' "$1" "$2" "${values[@]}"
}

printNote() { printf '  %-32s %5s  %s\n' "$1" "" "$2"; }

# resultOf FAILED MEDIAN GOAL -> PASS | MISS | FAIL f/N
resultOf() {
    if (($1 > 0)); then echo "FAIL $1/$RUNS"; else verdict "$2" "$3"; fi
}

# --- workload ---------------------------------------------------------------------------------

# startWorkload NAME MODE ARGS...: lockload in a new freezer cgroup; sets WORKLOAD_PID, DATA_DIR
# and CGROUP.
startWorkload() {
    local name=$1 waited
    shift
    CGROUP=$FREEZER/lockcr-test-$$-bench-$name
    DATA_DIR=$WORK/$name
    mkdir "$CGROUP" || die "mkdir $CGROUP"
    CGROUPS+=("$CGROUP")
    # The subshell joins the cgroup, then becomes lockload: every process it forks is a member.
    (echo "$BASHPID" >"$CGROUP/cgroup.procs" && exec "$LOCKLOAD" "$@" "$DATA_DIR") 2>"$WORK/$name.err" &
    WORKLOAD_PID=$!
    WORKLOAD_PIDS+=("$WORKLOAD_PID")
    for waited in $(seq 1200); do
        [[ -e $DATA_DIR/ready ]] && return 0
        kill -0 "$WORKLOAD_PID" 2>/dev/null || break
        sleep 0.05
    done
    die "lockload $* did not get ready: $(cat "$WORK/$name.err")"
}

stopWorkload() {
    local kept=() entry
    kill -TERM "$WORKLOAD_PID" 2>/dev/null
    wait "$WORKLOAD_PID" 2>/dev/null
    removeCgroup "$CGROUP"
    # Forget both, so the exit trap never signals a pid that may since belong to someone else.
    for entry in "${WORKLOAD_PIDS[@]}"; do [[ $entry == "$WORKLOAD_PID" ]] || kept+=("$entry"); done
    WORKLOAD_PIDS=("${kept[@]}")
    kept=()
    for entry in "${CGROUPS[@]}"; do [[ $entry == "$CGROUP" ]] || kept+=("$entry"); done
    CGROUPS=("${kept[@]}")
}

# After a failed lockcr run: a container left frozen (fail closed) is reported, then thawed so
# the next run can go on.
thawIfLeftFrozen() {
    local state
    state=$(cat "$CGROUP/freezer.state")
    [[ $state == THAWED ]] && return 0
    echo "    | (the container was left $state; the bench thaws it to go on)"
    echo THAWED >"$CGROUP/freezer.state"
}

# Makes every workload process drop its locks, waits until all say so, checks none is left.
dropLocks() {
    local processes waited left
    processes=$(wc -l <"$DATA_DIR/pids")
    rm -f "$DATA_DIR"/dropped.*
    # shellcheck disable=SC2046
    kill -USR1 $(cat "$DATA_DIR/pids") || die "cannot signal the workload"
    for waited in $(seq 1000); do
        if [[ $(find "$DATA_DIR" -maxdepth 1 -name 'dropped.*' | wc -l) -ge $processes ]]; then
            left=$(countLocks "$DATA_DIR")
            ((left == 0)) || die "$left locks still held after the workload dropped them all"
            return 0
        fi
        sleep 0.01
    done
    die "the workload did not drop its locks within 10 s"
}

# --- measurements -----------------------------------------------------------------------------

# measure LABEL GOAL_MS "$@": N timed runs; prints wall min/median/max and CPU median of the runs
# that succeeded; adds a summary row judged on the wall median (GOAL_MS "-": a reference, not judged).
# With MEASURE_IMAGE=FILE and MEASURE_LOCKS=N set, a run succeeds only if it also left an image in
# FILE holding N locks (a fast run that wrote nothing is a failure, not a figure).
measure() {
    local label=$1 goal=$2 wall=() cpu=() failed=0 run stats values
    shift 2
    for run in $(seq "$RUNS"); do
        [[ -z ${MEASURE_IMAGE:-} || $MEASURE_IMAGE == "$WORK/last.out" ]] || rm -f "$MEASURE_IMAGE"
        timeCommand "$@"
        if ((STATUS == 0)) && [[ -n ${MEASURE_IMAGE:-} ]] && ! checkImage "$MEASURE_IMAGE" "$MEASURE_LOCKS"; then
            STATUS=0
            reportFailure "$label, run $run" "$failed"
            failed=$((failed + 1))
            continue
        fi
        if ((STATUS != 0)); then
            reportFailure "$label, run $run" "$failed"
            failed=$((failed + 1))
            thawIfLeftFrozen
            continue
        fi
        wall+=("$ELAPSED_MS")
        cpu+=("$CPU_MS")
    done
    if ((${#wall[@]} == 0)); then
        printNote "$label" "failed in all $RUNS runs"
        summaryRow "$SCENARIO: $label" "error" "" "<= $goal ms" "FAIL $failed/$RUNS"
        return 1
    fi
    stats=$(py "$STATS" "${wall[@]}" -- "${cpu[@]}")
    printRow "$label" "${#wall[@]}/$RUNS" "$stats"
    read -ra values <<<"$stats"
    if [[ $goal == - ]]; then  # a reference figure: no goal
        summaryRow "$SCENARIO: $label" "${values[1]} ms" "${values[3]} ms" "-" "info"
    else
        summaryRow "$SCENARIO: $label" "${values[1]} ms" "${values[3]} ms" "<= $goal ms" "$(resultOf "$failed" "${values[1]}" "$goal")"
    fi
}

# lslocks -J, the peer: N runs, or one when it takes longer than LSLOCKS_SLOW_MS.
measureLslocks() {
    local wall=() cpu=() run stats values
    for run in $(seq "$RUNS"); do
        timeCommand timeout "$LSLOCKS_TIMEOUT" lslocks -J
        if ((STATUS == 124)); then
            printNote "lslocks -J" "> $((LSLOCKS_TIMEOUT * 1000)) (stopped by timeout)"
            summaryRow "$SCENARIO: lslocks -J (peer)" "> ${LSLOCKS_TIMEOUT} s" "" "-" "info"
            return 0
        fi
        ((STATUS == 0)) || { reportFailure "lslocks -J" 0; return 0; }
        wall+=("$ELAPSED_MS")
        cpu+=("$CPU_MS")
        if ((run == 1)) && [[ $(verdict "$ELAPSED_MS" "$LSLOCKS_SLOW_MS") == MISS ]]; then break; fi
    done
    stats=$(py "$STATS" "${wall[@]}" -- "${cpu[@]}")
    printRow "lslocks -J" "${#wall[@]}/${#wall[@]}" "$stats"
    read -ra values <<<"$stats"
    summaryRow "$SCENARIO: lslocks -J (peer)" "${values[1]} ms" "${values[3]} ms" "-" "info"
}

# scanScenario NAME GOAL_MS MODE ARGS...: inspect, dump and lslocks on one workload.
scanScenario() {
    local name=$1 goal=$2
    shift 2
    SCENARIO="$*"
    startWorkload "$name" "$@"
    echo
    echo "== $* : $(wc -l <"$DATA_DIR/pids") process(es), $(countLocks "$DATA_DIR") locks held =="
    printHeader
    local held
    held=$(countLocks "$DATA_DIR")
    MEASURE_IMAGE=$WORK/last.out MEASURE_LOCKS=$held \
        measure "lockcr inspect --json" "$goal" "$LOCKCR" inspect --pid "$WORKLOAD_PID" --json
    MEASURE_IMAGE=$WORK/$name.image MEASURE_LOCKS=$held \
        measure "lockcr dump" "$goal" "$LOCKCR" dump --pid "$WORKLOAD_PID" -o "$WORK/$name.image"
    # shellcheck disable=SC2046
    measure "/proc floor (procfloor)" "-" "$PROCFLOOR" "$(nproc)" $(cat "$DATA_DIR/pids")
    measureLslocks
    stopWorkload
}

# replayScenario NAME MODE ARGS...: dump (up to 3 tries), then N times: drop every lock, time the
# replay, check its exit status and that the workload holds all its locks again. Sets
# REPLAY_STATS ("min median max cpu" of the good runs; empty if none), REPLAY_FAILED, REPLAY_LOCKS.
replayScenario() {
    local name=$1 image wall=() cpu=() run attempt after
    shift
    SCENARIO="replay $*"
    REPLAY_STATS=
    REPLAY_FAILED=0
    startWorkload "$name" "$@"
    image=$WORK/$name.image
    REPLAY_LOCKS=$(countLocks "$DATA_DIR")
    echo
    echo "== replay, $* : $(wc -l <"$DATA_DIR/pids") process(es), $REPLAY_LOCKS locks held =="
    for attempt in 1 2 3; do
        rm -f "$image"
        timeCommand "$LOCKCR" dump --pid "$WORKLOAD_PID" -o "$image"
        ((STATUS == 0)) && checkImage "$image" "$REPLAY_LOCKS" && break
        ((STATUS != 0)) || STATUS=1  # exited 0 with no or a wrong image: a failed try
        reportFailure "lockcr dump for the replay, try $attempt of 3" 0
        thawIfLeftFrozen
    done
    if ((STATUS != 0)); then
        printNote "lockcr replay" "not measured: no image"
        REPLAY_FAILED=$RUNS
        stopWorkload
        return 1
    fi
    printHeader
    for run in $(seq "$RUNS"); do
        dropLocks
        timeCommand "$LOCKCR" replay "$image" --pid "$WORKLOAD_PID"
        after=$(countLocks "$DATA_DIR")
        if ((STATUS == 0 && after != REPLAY_LOCKS)); then
            echo "lockcr replay exited 0, but the workload holds $after of its $REPLAY_LOCKS locks" >"$WORK/last.err"
            STATUS=0
        elif ((STATUS == 0)); then
            wall+=("$ELAPSED_MS")
            cpu+=("$CPU_MS")
            continue
        else
            echo "(the workload holds $after of its $REPLAY_LOCKS locks afterwards)" >>"$WORK/last.err"
        fi
        reportFailure "lockcr replay, run $run" "$REPLAY_FAILED"
        REPLAY_FAILED=$((REPLAY_FAILED + 1))
        thawIfLeftFrozen
    done
    if ((${#wall[@]} > 0)); then
        REPLAY_STATS=$(py "$STATS" "${wall[@]}" -- "${cpu[@]}")
        printRow "lockcr replay (all locks back)" "${#wall[@]}/$RUNS" "$REPLAY_STATS"
    else
        printNote "lockcr replay" "failed in all $RUNS runs"
    fi
    # The /proc share of a replay alone: its two looks (the second one re-reads kept files), here
    # on the fds with their locks back.
    # shellcheck disable=SC2046
    measure "two /proc looks (procfloor --twice)" "-" "$PROCFLOOR" --twice "$(nproc)" $(cat "$DATA_DIR/pids")
    stopWorkload
}

# --- main -------------------------------------------------------------------------------------

[[ $(id -u) == 0 ]] || die "needs root (freezer cgroups, ptrace, pidfd_getfd)"
[[ -w $FREEZER/cgroup.procs ]] || die "no cgroup v1 freezer at $FREEZER"
command -v python3 >/dev/null || die "needs python3"

echo "bench: building lockcr and lockload in $BUILD_DIR"
(
    if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then cmake -S "$SOURCE_DIR" -B "$BUILD_DIR" || exit 1; fi
    cmake --build "$BUILD_DIR" -j2 --target lockcr lockload procfloor
) >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; die "build failed (log above)"; }
LOCKCR=$BUILD_DIR/lockcr
LOCKLOAD=$BUILD_DIR/bench/lockload
PROCFLOOR=$BUILD_DIR/bench/procfloor
[[ -x $LOCKCR && -x $LOCKLOAD && -x $PROCFLOOR ]] || die "build did not produce $LOCKCR, $LOCKLOAD and $PROCFLOOR"
echo "bench: $RUNS runs per figure; $(nproc) cpus; kernel $(uname -r); $("$LOCKCR" --version)"
echo "bench: load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(wc -l </proc/locks) lines in /proc/locks"

scanScenario flocks 20 flocks 4000
scanScenario mixed 40 mixed 10 20000

per() {  # VALUE_MS DIVISOR SCALE -> VALUE_MS * SCALE / DIVISOR, 3 significant decimals
    py 'import sys; print("%.3g" % (float(sys.argv[1]) * float(sys.argv[3]) / float(sys.argv[2])))' "$1" "$2" "$3"
}

bigReplay=()
replayScenario replay-mixed mixed 10 20000
if [[ -n $REPLAY_STATS ]]; then
    read -ra bigReplay <<<"$REPLAY_STATS"
    bigReplayLocks=$REPLAY_LOCKS
    perLock=$(per "${bigReplay[1]}" "$bigReplayLocks" 1000)
    perLockCpu=$(per "${bigReplay[3]}" "$bigReplayLocks" 1000)
    printNote "per lock (median / locks)" "$perLock us wall, $perLockCpu us cpu"
    summaryRow "replay mixed 10 20000: total" "${bigReplay[1]} ms" "${bigReplay[3]} ms" "-" "info"
    summaryRow "replay mixed 10 20000: per lock" "$perLock us" "$perLockCpu us" "<= 5 us" "$(resultOf "$REPLAY_FAILED" "$perLock" 5)"
else
    summaryRow "replay mixed 10 20000: per lock" "error" "" "<= 5 us" "FAIL $REPLAY_FAILED/$RUNS"
fi

replayScenario replay-small mixed 10 10
if [[ -n $REPLAY_STATS ]]; then
    read -ra smallReplay <<<"$REPLAY_STATS"
    perProcess=$(per "${smallReplay[1]}" 10 1)
    perProcessCpu=$(per "${smallReplay[3]}" 10 1)
    printNote "per process (median / 10)" "$perProcess ms wall, $perProcessCpu ms cpu"
    summaryRow "replay mixed 10 10: per process" "$perProcess ms" "$perProcessCpu ms" "<= 1 ms" "$(resultOf "$REPLAY_FAILED" "$perProcess" 1)"
    if ((${#bigReplay[@]} > 0)); then
        # One more lock once the per-process work is paid: (T(20000 locks) - T(10 locks)) / 19990.
        marginal=$(py 'import sys; print("%.3g" % ((float(sys.argv[1]) - float(sys.argv[2])) * 1000 / (int(sys.argv[3]) - 10)))' \
            "${bigReplay[1]}" "${smallReplay[1]}" "$bigReplayLocks")
        summaryRow "replay: marginal cost of a lock" "$marginal us" "" "-" "info"
    fi
else
    summaryRow "replay mixed 10 10: per process" "error" "" "<= 1 ms" "FAIL $REPLAY_FAILED/$RUNS"
fi

echo
echo "== summary (medians of the successful runs; PASS/MISS judges the wall median; informative) =="
py '
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
rows.insert(0, ["figure", "wall", "cpu", "goal", "result"])
widths = [max(len(row[i]) for row in rows) for i in range(5)]
for row in rows:
    print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())' "$SUMMARY"
echo "bench: load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

((FAILURES == 0)) || { echo "bench: $FAILURES command run(s) failed (see above)"; exit 1; }
exit 0
