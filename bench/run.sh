#!/usr/bin/env bash
# bench/run.sh [--quick] [--with-criu]: how long lockcr takes on containers with many locks, as
# ratios to the floor of the same round (issue 16), next to lslocks.
#
# Builds lockcr, bench/lockload and bench/procfloor into ${LOCKCR_BUILD_DIR:-<repo>/build}, then for
# each scenario starts lockload in a fresh cgroup v1 freezer cgroup (the "container") and times N
# rounds (11, or 3 with --quick) of each command and its floor, in turn. Floors: collection = one
# /proc look (procfloor: every fd's fdinfo read and link read, static C on every core); replay = two
# such looks plus the CPU time the workload's own lock calls took (lockload), divided by the cores.
# Then start-up alone (bench/startup.sh: `lockcr --version` beside /bin/true, 500 runs a side, 100
# with --quick); --with-criu then runs bench/criu.sh (runc checkpoint/restore with and without lockcr).
# Needs root, /sys/fs/cgroup/freezer and python3.
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
WITH_CRIU=0
for option in "$@"; do
    case $option in
        --quick) RUNS=3 ;;
        --with-criu) WITH_CRIU=1 ;;
        *) echo "usage: $0 [--quick] [--with-criu]" >&2; exit 2 ;;
    esac
done
SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${LOCKCR_BUILD_DIR:-$SOURCE_DIR/build}
FREEZER=/sys/fs/cgroup/freezer
LSLOCKS_SLOW_MS=2000                    # above this, lslocks runs once only
LSLOCKS_TIMEOUT=${LSLOCKS_TIMEOUT:-600}  # seconds; beyond it lslocks is reported as "> this"
FAILURES_SHOWN=3                        # failed runs printed in full per figure

WORK=$(mktemp -d /tmp/lockcr-test-$$-bench.XXXXXX)  # lockcr-test-PID-: swept if the bench is killed
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

# Every timed run appends "SCENARIO<TAB>FIGURE<TAB>RUN<TAB>WALL_MS<TAB>CPU_MS" to $RUNS_FILE; dump's
# stages (lockcr -v) go in as figures "dump: STAGE". The ratios are taken run by run (lockcr and its
# floor of the same round), and their median printed: the machine's speed drifts between rounds.
RUNS_FILE=$WORK/runs.tsv

record() {  # FIGURE RUN WALL CPU
    printf '%s\t%s\t%s\t%s\t%s\n' "$SCENARIO" "$1" "$2" "$3" "$4" >>"$RUNS_FILE"
}

# timedFigure FIGURE RUN [IMAGE LOCKS] -- COMMAND...: one timed run; recorded when it exited 0 (and
# left IMAGE holding LOCKS locks); otherwise reported as failed. Returns 1 on a failed run.
timedFigure() {
    local figure=$1 run=$2 image= locks=
    shift 2
    if [[ $1 != -- ]]; then image=$1 locks=$2; shift 2; fi
    shift
    [[ -z $image || $image == "$WORK/last.out" ]] || rm -f "$image"
    timeCommand "$@"
    if ((STATUS == 0)) && [[ -n $image ]] && ! checkImage "$image" "$locks"; then STATUS=1; fi
    if ((STATUS != 0)); then
        reportFailure "$SCENARIO: $figure, run $run" "$(failedRuns "$figure")"
        echo "$SCENARIO	$figure" >>"$WORK/failed.tsv"
        thawIfLeftFrozen
        return 1
    fi
    record "$figure" "$run" "$ELAPSED_MS" "$CPU_MS"
}

failedRuns() { grep -cxF "$SCENARIO	$1" "$WORK/failed.tsv" 2>/dev/null || true; }

# dump's stages from its -v lines "lockcr: dump: STAGE (N us)": each recorded as "dump: STAGE".
recordDumpStages() {  # RUN
    local line stage micros
    while IFS= read -r line; do
        [[ $line =~ ^lockcr:\ dump:\ (.+)\ \(([0-9]+)\ us\)$ ]] || continue
        stage=${BASH_REMATCH[1]} micros=${BASH_REMATCH[2]}
        record "dump: $stage" "$1" "$(printf '%d.%03d' $((micros / 1000)) $((micros % 1000)))" ""
    done <"$WORK/last.err"
}

# lslocks -J, the peer: once per scenario (it takes seconds to minutes on these tables).
measureLslocks() {
    timeCommand timeout "$LSLOCKS_TIMEOUT" lslocks -J
    if ((STATUS == 124)); then
        record "lslocks -J" 1 "$((LSLOCKS_TIMEOUT * 1000))" ""
        echo "  lslocks -J stopped by the timeout ($LSLOCKS_TIMEOUT s)"
    elif ((STATUS == 0)); then
        record "lslocks -J" 1 "$ELAPSED_MS" "$CPU_MS"
    else
        reportFailure "lslocks -J" 0
    fi
}

# scanScenario NAME MODE ARGS...: N rounds of inspect --json, dump and the collection floor
# (procfloor), in an order that turns each round; then lslocks once.
scanScenario() {
    local name=$1 held run slot figure
    shift
    SCENARIO="$*"
    startWorkload "$name" "$@"
    held=$(countLocks "$DATA_DIR")
    echo "== $* : $(wc -l <"$DATA_DIR/pids") process(es), $held locks held; $RUNS rounds"
    local figures=(inspect dump floor)
    for run in $(seq "$RUNS"); do
        for slot in 0 1 2; do
            figure=${figures[$(((slot + run) % 3))]}
            case $figure in
                inspect) timedFigure "lockcr inspect --json" "$run" "$WORK/last.out" "$held" -- \
                    "$LOCKCR" inspect --pid "$WORKLOAD_PID" --json ;;
                dump) timedFigure "lockcr dump" "$run" "$WORK/$name.image" "$held" -- \
                    "$LOCKCR" -v dump --pid "$WORKLOAD_PID" -o "$WORK/$name.image" && recordDumpStages "$run" ;;
                floor) # shellcheck disable=SC2046
                    timedFigure "collection floor (procfloor)" "$run" -- "$PROCFLOOR" "$(nproc)" $(cat "$DATA_DIR/pids") ;;
            esac
        done
    done
    measureLslocks
    stopWorkload
}

# The kernel's own CPU time for setting the workload's locks (DIR/lockcpu, lockload's lock loops
# alone), summed over its processes and divided by the cores, in ms.
lockCpuMs() {
    py 'import os, sys
total = sum(int(line.split()[1]) for line in open(sys.argv[1]))
print("%.3f" % (total / 1e6 / os.cpu_count()))' "$DATA_DIR/lockcpu"
}

# replayScenario NAME MODE ARGS...: dump (up to 3 tries), then N rounds: drop every lock, time the
# replay, check its exit status and that the workload holds all its locks again, then time one
# /proc look (procfloor) and the two looks of a replay (procfloor --twice).
replayScenario() {
    local name=$1 image run attempt after
    shift
    SCENARIO="replay $*"
    startWorkload "$name" "$@"
    image=$WORK/$name.image
    REPLAY_LOCKS=$(countLocks "$DATA_DIR")
    echo "== replay, $* : $(wc -l <"$DATA_DIR/pids") process(es), $REPLAY_LOCKS locks held; $RUNS rounds"
    for attempt in 1 2 3; do
        rm -f "$image"
        timeCommand "$LOCKCR" dump --pid "$WORKLOAD_PID" -o "$image"
        ((STATUS == 0)) && checkImage "$image" "$REPLAY_LOCKS" && break
        ((STATUS != 0)) || STATUS=1  # exited 0 with no or a wrong image: a failed try
        reportFailure "lockcr dump for the replay, try $attempt of 3" 0
        thawIfLeftFrozen
    done
    if ((STATUS != 0)); then
        echo "  lockcr replay not measured: no image"
        echo "$SCENARIO	lockcr replay" >>"$WORK/failed.tsv"
        stopWorkload
        return 1
    fi
    record "lock calls' CPU / cores (lockload)" 1 "$(lockCpuMs)" ""
    for run in $(seq "$RUNS"); do
        dropLocks
        timeCommand "$LOCKCR" replay "$image" --pid "$WORKLOAD_PID"
        after=$(countLocks "$DATA_DIR")
        if ((STATUS == 0 && after == REPLAY_LOCKS)); then
            record "lockcr replay" "$run" "$ELAPSED_MS" "$CPU_MS"
        else
            if ((STATUS == 0)); then
                echo "lockcr replay exited 0, but the workload holds $after of its $REPLAY_LOCKS locks" >"$WORK/last.err"
                STATUS=1
            else
                echo "(the workload holds $after of its $REPLAY_LOCKS locks afterwards)" >>"$WORK/last.err"
            fi
            reportFailure "$SCENARIO: lockcr replay, run $run" "$(failedRuns "lockcr replay")"
            echo "$SCENARIO	lockcr replay" >>"$WORK/failed.tsv"
            thawIfLeftFrozen
            continue
        fi
        # shellcheck disable=SC2046
        timedFigure "one /proc look (procfloor)" "$run" -- "$PROCFLOOR" "$(nproc)" $(cat "$DATA_DIR/pids")
        # shellcheck disable=SC2046
        timedFigure "replay's two looks (procfloor --twice)" "$run" -- "$PROCFLOOR" --twice "$(nproc)" $(cat "$DATA_DIR/pids")
    done
    stopWorkload
}

# The figures of $RUNS_FILE against their floors, then the summary table (see bench/README.md).
REPORT='
import collections, statistics, sys
runs = collections.defaultdict(dict)   # (scenario, figure) -> run -> wall
cpus = collections.defaultdict(list)
for line in open(sys.argv[1]):
    scenario, figure, run, wall, cpu = line.rstrip("\n").split("\t")
    runs[(scenario, figure)][int(run)] = float(wall)
    if cpu:
        cpus[(scenario, figure)].append(float(cpu))
failed = collections.Counter()
try:
    for line in open(sys.argv[2]):
        failed[tuple(line.rstrip("\n").split("\t"))] += 1
except FileNotFoundError:
    pass
total_runs = int(sys.argv[3])
rows = [("figure", "lockcr", "floor", "ratio", "goal", "result")]

def median(values):
    return statistics.median(values) if values else None

def ms(value):
    return "-" if value is None else "%.1f ms" % value

def paired(scenario, figure, floor_of):
    """Median of the run-by-run ratios figure / floor_of(run), over the runs that have both."""
    mine = runs.get((scenario, figure), {})
    ratios = []
    for run, wall in mine.items():
        floor = floor_of(run)
        if floor:
            ratios.append(wall / floor)
    return median(ratios), ratios

def judged(ratio, goal, scenario, figure):
    bad = failed[(scenario, figure)]
    if bad:
        return "FAIL %d/%d" % (bad, total_runs)
    if ratio is None:
        return "no runs"
    return "PASS" if ratio <= goal else "MISS"

def row(figure, value, floor, ratio, goal, result):
    rows.append((figure, value, floor, "-" if ratio is None else "%.2f" % ratio, goal, result))

def detail(label, values, cpu=None):
    if not values:
        print("  %-44s no successful run" % label)
        return
    print("  %-44s %9.1f %9.1f %9.1f ms  (%d runs%s)" % (label, min(values), median(values), max(values), len(values),
          "" if not cpu else ", cpu median %.0f ms" % median(cpu)))

scenarios = []
for scenario, figure in runs:
    if scenario not in scenarios:
        scenarios.append(scenario)
for scenario in scenarios:
    print()
    print("== %s: min, median, max of each figure" % scenario)
    for (s, figure), values in runs.items():
        if s == scenario:
            detail(figure, list(values.values()), cpus.get((s, figure)))
    if scenario.startswith("replay "):
        replay = runs.get((scenario, "lockcr replay"), {})
        look = runs.get((scenario, "one /proc look (procfloor)"), {})
        locking = runs.get((scenario, "lock calls\x27 CPU / cores (lockload)"), {}).get(1)
        if locking is None:
            continue
        floor_of = lambda run: 2 * look[run] + locking if run in look else None
        ratio, ratios = paired(scenario, "lockcr replay", floor_of)
        floors = [floor_of(run) for run in replay if floor_of(run)]
        row(scenario + ": replay (all locks back)", ms(median(list(replay.values()))),
            ms(median(floors)), ratio, "<= 1.3", judged(ratio, 1.3, scenario, "lockcr replay"))
        print("  replay / (2 x one look + lock calls\x27 CPU %.1f ms): %s" % (locking,
              "-" if ratio is None else "%.2f (median of %d rounds, %.2f to %.2f)" % (ratio, len(ratios), min(ratios), max(ratios))))
        continue
    floor = runs.get((scenario, "collection floor (procfloor)"), {})
    floor_of = lambda run: floor.get(run)
    inspect = runs.get((scenario, "lockcr inspect --json"), {})
    ratio, _ = paired(scenario, "lockcr inspect --json", floor_of)
    row(scenario + ": inspect --json", ms(median(list(inspect.values()))), ms(median(list(floor.values()))), ratio,
        "<= 1.2", judged(ratio, 1.2, scenario, "lockcr inspect --json"))
    # dump: its fixed costs (stages of its own -v lines) apart; the rest is the collection.
    fixed = {"freeze": "frozen", "thaw": "thawed", "write": "image written", "fsync": "image fsynced"}
    dump = runs.get((scenario, "lockcr dump"), {})
    def fixed_of(run):
        parts = [runs.get((scenario, "dump: " + stage), {}).get(run) for stage in fixed.values()]
        return None if None in parts else sum(parts)
    collection = {run: wall - fixed_of(run) for run, wall in dump.items() if fixed_of(run) is not None}
    runs[(scenario, "dump without its fixed costs")] = collection
    ratio, _ = paired(scenario, "dump without its fixed costs", floor_of)
    row(scenario + ": dump, its collection", ms(median(list(collection.values()))), ms(median(list(floor.values()))),
        ratio, "<= 1.2", judged(ratio, 1.2, scenario, "lockcr dump"))
    fixed_total = []
    for name, stage in fixed.items():
        values = list(runs.get((scenario, "dump: " + stage), {}).values())
        row(scenario + ": dump, " + name, ms(median(values)), "", None, "", "")
    fixed_total = [fixed_of(run) for run in dump if fixed_of(run) is not None]
    total = median(fixed_total)
    row(scenario + ": dump, the four together", ms(total), "", None, "<= 10 ms",
        "no runs" if total is None else "PASS" if total <= 10 else "MISS")
    lslocks = runs.get((scenario, "lslocks -J"), {}).get(1)
    floor_median = median(list(floor.values()))
    row(scenario + ": lslocks -J (peer, 1 run)", ms(lslocks), ms(floor_median),
        None if lslocks is None or not floor_median else lslocks / floor_median, "", "info")

print()
print("== summary: medians; ratio = median of the run-by-run ratios to the floor of the same round")
widths = [max(len(r[i]) for r in rows) for i in range(6)]
for r in rows:
    print("  " + "  ".join(cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in enumerate(zip(r, widths))).rstrip())
'

# --- main -------------------------------------------------------------------------------------

[[ $(id -u) == 0 ]] || die "needs root (freezer cgroups, ptrace, pidfd_getfd)"
[[ -w $FREEZER/cgroup.procs ]] || die "no cgroup v1 freezer at $FREEZER"
command -v python3 >/dev/null || die "needs python3"

echo "bench: building lockcr, lockload and procfloor in $BUILD_DIR"
(
    if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then cmake -S "$SOURCE_DIR" -B "$BUILD_DIR" || exit 1; fi
    cmake --build "$BUILD_DIR" -j2 --target lockcr lockload procfloor
) >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; die "build failed (log above)"; }
LOCKCR=$BUILD_DIR/lockcr
LOCKLOAD=$BUILD_DIR/bench/lockload
PROCFLOOR=$BUILD_DIR/bench/procfloor
[[ -x $LOCKCR && -x $LOCKLOAD && -x $PROCFLOOR ]] || die "build did not produce $LOCKCR, $LOCKLOAD and $PROCFLOOR"
echo "bench: $RUNS rounds per scenario; $(nproc) cpus; kernel $(uname -r); $("$LOCKCR" --version)"
echo "bench: load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(wc -l </proc/locks) lines in /proc/locks"

scanScenario flocks flocks 4 4000
scanScenario mixed mixed 10 20000
replayScenario replay-mixed mixed 10 20000
py "$REPORT" "$RUNS_FILE" "$WORK/failed.tsv" "$RUNS"

# Start-up alone (`lockcr --version` beside /bin/true, hundreds of runs under perf stat): one run
# means nothing at this scale.
echo
echo "== start-up (bench/startup.sh) =="
startupRuns=500
((RUNS == 3)) && startupRuns=100
"$SOURCE_DIR/bench/startup.sh" "$LOCKCR" "$startupRuns" 2>&1 | sed 's/^/  /'
((PIPESTATUS[0] == 0)) || { echo "bench: bench/startup.sh failed (above)"; FAILURES=$((FAILURES + 1)); }

if ((WITH_CRIU)); then
    # lockcr inside a real runc checkpoint and restore, beside CRIU alone, on the same machine in
    # the same hour: bench/criu.sh's own figures and ratios.
    echo
    echo "== lockcr around CRIU (bench/criu.sh) =="
    criuRuns=()
    ((RUNS == 3)) && criuRuns=(--quick)
    LOCKCR_BUILD_DIR=$BUILD_DIR "$SOURCE_DIR/bench/criu.sh" "${criuRuns[@]}" 2>&1 | sed 's/^/  /'
    ((PIPESTATUS[0] == 0)) || { echo "bench: bench/criu.sh failed (above)"; FAILURES=$((FAILURES + 1)); }
fi
echo "bench: load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

((FAILURES == 0)) || { echo "bench: $FAILURES command run(s) failed (see above)"; exit 1; }
exit 0
