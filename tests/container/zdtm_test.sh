#!/usr/bin/env bash
# Container test: CRIU's own lock scenarios (zdtm file_locks00..08, file_lease00..04) and the seed's
# blocked waiters, each set up by tests/workload/zdtmload.c in a real runc container, carried through
# a real CRIU 4.1 checkpoint/restore by lockcr. Kernel truth is read on the host before the
# checkpoint and after lockcr replay, and must be the same:
#   locks   every /proc/locks line on the scenario's files: kind, mode, type, range, and for POSIX
#           locks and "->" waiter lines the owner (container pid, through NSpid)
#   fdinfo  every lock line in /proc/PID/fdinfo of the container's processes: which process and fd
#           shows which lock (the zdtm tests check these; a POSIX lock is shown on its owner's fd)
#   setter  the pid the kernel shows for a flock or lease (the process that set it): zdtm
#           file_locks01..04 require it to be the test process or its child, so it must be a
#           process of the scenario (CRIU itself sets it from the child in locks03/04)
#   owner   for a leased fd, F_GETOWN_EX and F_GETSIG: who a lease break signals, and with what
#           (read through pidfd_getfd of the container process's fd)
#
# Every zdtm scenario first runs alone in a container: checkpoint --file-locks, restore WITHOUT
# --file-locks (what CRI-O and containerd do: every lock is gone), lockcr replay, lockcr verify.
# Between the restore and the replay the scenarios run but do nothing (they sleep in pause()): no
# lock changes hands meanwhile. A breaking lease ends by itself lease-break-time
# (/proc/sys/fs/lease-break-time, 45 s) after its break: the dump must come within that time of the
# break, and the replay within it of the restore. After the replay a lease break must reach the
# lease's owner (lease00), and no process may have seen a signal it did not ask for (zdtm
# file_lease02..04's "ghost signal" check: a break lockcr starts again must not signal anyone).
# Then all zdtm scenarios run together in one container, once restored without --file-locks (one
# replay sets every kind of lock) and once with it (CRIU restores the locks itself: lockcr verify
# must find nothing missing and lockcr replay must be a no-op that succeeds).
# The waiters (the seed's case: P1 holds POSIX WRITE, P2 blocked in F_SETLKW on it; and its OFD and
# flock variants) can't be restored detached without --file-locks: the waiter runs between the
# restore and the replay and takes the free lock (lockcr replay must then refuse: criu_test.sh (b)
# checks that). So each is restored twice: WITH --file-locks (CRIU keeps the holder's lock; verify
# finds nothing missing, replay is a no-op), and without it but with every restored task left
# stopped by CRIU (`leave-stopped`), which is the seed's order: lockcr replay sets the holder's
# lock while nothing runs, then SIGCONT, and the waiter's restarted call must block again.
# ZDTM_SCENARIOS="locks00 lease02" runs only those.
#
# Usage: tests/container/zdtm_test.sh LOCKCR BUILD_DIR
#   LOCKCR     the lockcr binary
#   BUILD_DIR  the build tree: BUILD_DIR/workload holds zdtmload; CRIU is provisioned into
#              BUILD_DIR/criu; the bundle, images and logs go to BUILD_DIR/lockcr-test-PID-*
# Runs as root. Prints PASS/FAIL lines; exits 0 if all passed, 1 if a check failed (or a runc/CRIU
# call hung: it is killed after 60 s), 2 if the test could not be set up, 77 (SKIP) if no CRIU can
# be had at all (common.sh). Every container it starts and its work directory are removed on every
# path a signal allows; after SIGKILL, tests/container/sweep.sh removes them.
set -euo pipefail

# shellcheck source=tests/container/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bundle=$work/bundle  # and beside it: lock images, CRIU image directories, truth, logs
criu=$build/criu/criu
data=$bundle/rootfs/data
containers=()
runc_command=(runc --criu "$criu")

zdtm_scenarios=(locks00 locks01 locks02 locks03 locks04 locks05 locks06 locks07 locks08
    lease00 lease01 lease02 lease03 lease04)
waiter_scenarios=(waiter waiter_ofd waiter_flock)
# The /proc/locks lines each scenario holds once it is in place (a waiter's "->" line included).
declare -A expected_lines=([locks00]=2 [locks01]=2 [locks02]=1 [locks03]=1 [locks04]=1 [locks05]=1
    [locks06]=1 [locks07]=4 [locks08]=1 [lease00]=2 [lease01]=2 [lease02]=3 [lease03]=1 [lease04]=1
    [waiter]=2 [waiter_ofd]=2 [waiter_flock]=2 [wlease]=1)

cleanup() {
    local name
    for name in "${containers[@]}"; do
        remove_demo_container
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP


# --- Kernel truth ---------------------------------------------------------------------------------
# truth.py DATA_DIR INIT_HOST_PID: the lock truth of the files under DATA_DIR, one line each, sorted,
# each line starting with the scenario (the first directory under DATA_DIR). Pids are container pids
# (the last NSpid field of a process in init's pid namespace); "outside:N" is a host pid outside it.
cat >"$work/truth.py" <<'PYTHON'
import ctypes, fcntl, os, re, struct, sys

data, init = sys.argv[1], sys.argv[2]
files = {}  # "MAJ:MIN:INODE" as /proc/locks writes it -> path under DATA_DIR
for directory, _, names in os.walk(data):
    for name in names:
        st = os.stat(os.path.join(directory, name))
        key = "%02x:%02x:%d" % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
        files[key] = os.path.relpath(os.path.join(directory, name), data)

namespace = os.readlink(f"/proc/{init}/ns/pid")
container_pid = {}  # host pid -> container pid
for entry in filter(str.isdigit, os.listdir("/proc")):
    try:
        if os.readlink(f"/proc/{entry}/ns/pid") == namespace:
            status = open(f"/proc/{entry}/status").read()
            container_pid[entry] = re.search(r"^NSpid:\s+(.*)$", status, re.M).group(1).split()[-1]
    except (FileNotFoundError, PermissionError, ProcessLookupError):
        pass

def pid_name(pid):
    if pid == "-1":
        return "-1"
    return container_pid.get(pid, f"outside:{pid}")

def parse(line):
    """(arrow, kind, mode, type, pid, device, range) of a /proc/locks or fdinfo lock line."""
    words = line.split()[1:]
    arrow = words[0] == "->"
    if arrow:
        words = words[1:]
    kind, mode, ltype, pid, device, start, end = words[:7]
    return arrow, kind, mode, ltype, pid, device, f"[{start},{end}]"

def scenario_of(path):
    return path.split("/", 1)[0]

# The kernel shows a flock or lease with the pid of the process that set it. CRIU sets it from
# whichever restored process holds the description, so zdtm file_locks01..04 accept the test
# process or its child: any process of the scenario (DATA_DIR/pids: "SCENARIO ROLE PID").
scenario_pids = {}
for line in open(os.path.join(data, "pids")):
    words = line.split()
    if len(words) == 3:
        scenario_pids.setdefault(words[0], set()).add(words[2])

def setter(pid, path):
    name = pid_name(pid)
    if name in scenario_pids.get(scenario_of(path), ()):
        return "pid of a process of the scenario"
    return f"pid {name}, not a process of the scenario"

def proc_locks_once():
    rows = []
    for line in open("/proc/locks"):
        arrow, kind, mode, ltype, pid, device, span = parse(line)
        if device not in files:
            continue
        path = files[device]
        owner = f" pid {pid_name(pid)}" if kind == "POSIX" or arrow else ""
        rows.append(f"{scenario_of(path)} locks {'-> ' if arrow else ''}{kind} {mode} {ltype} {span} /data/{path}{owner}")
        if not arrow and kind in ("FLOCK", "LEASE", "DELEG"):
            rows.append(f"{scenario_of(path)} setter {kind} {ltype} {span} /data/{path}: {setter(pid, path)}")
    return sorted(rows)

# /proc/locks is read a page at a time, each page under its own lock: while other workloads on the
# host add and drop locks one read may skip or repeat lines, so the truth is two reads that agree.
previous = proc_locks_once()
for attempt in range(100):
    current = proc_locks_once()
    if current == previous:
        break
    previous = current
else:
    sys.exit("truth.py: /proc/locks never read the same twice in a row (100 reads)")
rows = current

libc = ctypes.CDLL(None, use_errno=True)
F_GETSIG, F_GETOWN_EX, SYS_pidfd_getfd = 11, 16, 438
owner_types = {0: "TID", 1: "PID", 2: "PGRP"}
for host, cpid in sorted(container_pid.items(), key=lambda item: int(item[1])):
    try:
        fds = os.listdir(f"/proc/{host}/fd")
    except (FileNotFoundError, PermissionError):
        continue
    for fd in sorted(fds, key=int):
        try:
            st = os.stat(f"/proc/{host}/fd/{fd}")
            info = open(f"/proc/{host}/fdinfo/{fd}").read()
        except (FileNotFoundError, PermissionError):
            continue
        key = "%02x:%02x:%d" % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
        if key not in files:
            continue
        path = files[key]
        leased = False
        for line in info.splitlines():
            if not line.startswith("lock:"):
                continue
            arrow, kind, mode, ltype, pid, device, span = parse(line.split(None, 1)[1])
            owner = f" pid {pid_name(pid)}" if kind == "POSIX" else ""
            rows.append(f"{scenario_of(path)} fdinfo pid {cpid} fd {fd}: {kind} {mode} {ltype} {span} /data/{path}{owner}")
            leased |= kind == "LEASE"
        if not leased:
            continue
        pidfd = os.pidfd_open(int(host))
        try:
            duplicate = libc.syscall(SYS_pidfd_getfd, pidfd, int(fd), 0)
            if duplicate < 0:
                sys.exit(f"truth.py: pidfd_getfd pid {host} fd {fd}: {os.strerror(ctypes.get_errno())}")
            try:
                kind, pid = struct.unpack("ii", fcntl.fcntl(duplicate, F_GETOWN_EX, bytes(8)))
                signal = fcntl.fcntl(duplicate, F_GETSIG)
            finally:
                os.close(duplicate)  # not the last reference: the lease stays
        finally:
            os.close(pidfd)
        who = pid_name(str(pid)) if pid > 0 else "none"
        rows.append(f"{scenario_of(path)} owner pid {cpid} fd {fd} /data/{path}: "
                    f"F_GETOWN_EX {owner_types.get(kind, kind)} {who}, F_GETSIG {signal}")
print("\n".join(sorted(rows)))
PYTHON

truth() {  # OUTPUT
    "$python" "$work/truth.py" "$data" "$(container_init_pid)" >"$1" 2>"$1.err" ||
        abort "reading the kernel's lock truth: $(tail -n 1 "$1.err")"
}

# --- Steps ----------------------------------------------------------------------------------------
# A failed step that later steps of the current container depend on: report it and stop.
abort() {
    fail "$*"
    echo "zdtm_test: stopped after $failures failure(s)"
    exit 1
}

name=

freezer_state() {
    local path
    path=$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$1/cgroup")
    cat "/sys/fs/cgroup/freezer$path/freezer.state"
}

# Runs zdtmload with SCENARIO... as the bundle's process; returns once DATA_DIR/ready exists.
# With $run_criu_config set, the container is created with the org.criu.config annotation naming
# it (runc reads the annotation from the container's config at checkpoint and restore).
run_criu_config=
start_container() {  # SCENARIO...
    "$python" - "$bundle/config.json" "$run_criu_config" "$@" <<'PYTHON'
import json, sys
path, criu_config, scenarios = sys.argv[1], sys.argv[2], sys.argv[3:]
config = json.load(open(path))
config["process"]["args"] = ["/usr/bin/zdtmload", "-d", "/data", *scenarios]
config.get("annotations", {}).pop("org.criu.config", None)
if criu_config:
    config.setdefault("annotations", {})["org.criu.config"] = criu_config
with open(path + ".new", "w") as f:
    json.dump(config, f, indent=2)
PYTHON
    mv -f "$bundle/config.json.new" "$bundle/config.json"
    rm -rf "$data"
    mkdir -p "$data" /run/lockcr-demo
    name=$test_prefix-zdtm-${#containers[@]}
    containers+=("$name")
    # Detached, runc hands its own stdio to the container: /dev/null, never this script's pipes.
    bounded "runc run $name" "" runc --log "/run/lockcr-demo/$name.log" run -d --bundle "$bundle" "$name" </dev/null >/dev/null 2>&1 ||
        die "runc run $name: $(tail -n 1 "/run/lockcr-demo/$name.log" 2>/dev/null)"
    local deadline=$((SECONDS + 20))
    until [[ -e $data/ready ]]; do
        [[ ! -s $data/error.log ]] || die "zdtmload $*: $(tail -n 1 "$data/error.log")"
        ((SECONDS < deadline)) || die "zdtmload $* not ready after 20 s"
        sleep 0.1
    done
    echo "container $name (init host pid $(container_init_pid)): zdtmload $*"
}

stop_container() {
    timeout -k 5 "$call_seconds" "$repo/scripts/demo-container.sh" down "$name" "$bundle" >/dev/null 2>&1 || fail "could not remove container $name"
    rm -f "/run/lockcr-demo/$name.log" "/run/lockcr-demo/$name.pid"
}

# lockcr COMMAND... --state - with `runc state` on stdin; output in FILE, exit status in $status.
lockcr_with_state() {  # OUTPUT COMMAND...
    local output=$1
    shift
    timeout -k 5 "$call_seconds" runc state "$name" >"$work/state.json" ||
        abort "runc state $name failed before lockcr $1"
    status=0
    bounded "lockcr $1" "" "$lockcr" "$@" --state - <"$work/state.json" >"$output" 2>&1 || status=$?
}

# runc passes the CRIU config file named by the bundle's org.criu.config annotation to CRIU (runc
# reads the bundle's config.json at restore); start_container removes it again.
set_criu_config() {  # FILE
    "$python" - "$bundle/config.json" "$1" <<'PYTHON'
import json, sys
path = sys.argv[1]
config = json.load(open(path))
config.setdefault("annotations", {})["org.criu.config"] = sys.argv[2]
with open(path + ".new", "w") as f:
    json.dump(config, f, indent=2)
PYTHON
    mv -f "$bundle/config.json.new" "$bundle/config.json"
}

# After a replay into stopped tasks: every task is still stopped (nothing ran), then SIGCONT to each;
# the waiters re-enter their blocked calls (the restart CRIU set up), so wait until the "->" lines
# of BEFORE are back (at most 10 s).
continue_container() {  # BEFORE
    local init cgroup task running=()
    init=$(container_init_pid)
    cgroup=/sys/fs/cgroup/freezer$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$init/cgroup")
    while read -r task; do
        [[ $(awk '/^State:/ { print $2 }' "/proc/$task/status" 2>/dev/null) == T ]] || running+=("$task")
    done <"$cgroup/tasks"
    if ((${#running[@]} == 0)); then
        pass "every restored task was still stopped after the replay"
    else
        fail "restored tasks ran before they were continued: host tids ${running[*]}"
    fi
    while read -r task; do kill -CONT "$task" 2>/dev/null || true; done <"$cgroup/cgroup.procs"
    local want deadline=$((SECONDS + 10))
    want=$(grep -c ' locks -> ' "$1" || true)
    until truth "$work/now.txt" && [[ $(grep -c ' locks -> ' "$work/now.txt" || true) -ge $want ]]; do
        ((SECONDS < deadline)) || break
        sleep 0.2
    done
}

# Per scenario: the same truth lines before and after, in each class that exists before.
compare_truth() {  # BEFORE AFTER SCENARIO...
    local before=$1 after=$2 scenario class what
    shift 2
    for scenario in "$@"; do
        for class in locks setter owner; do
            case $class in
                locks) what="locks and fdinfo lines (kinds, types, ranges, POSIX owners, fds, waiters)" ;;
                setter) what="the pid shown for each flock/lease (must be a process of the scenario)" ;;
                owner) what="lease signal owner and signal (F_GETOWN_EX, F_GETSIG)" ;;
            esac
            local pattern="^$scenario $class "
            [[ $class == locks ]] && pattern="^$scenario (locks|fdinfo) "
            grep -E "$pattern" "$before" >"$work/want" || continue
            grep -E "$pattern" "$after" >"$work/got" || true
            if cmp -s "$work/want" "$work/got"; then
                pass "kernel: $scenario: $what, as before the checkpoint"
            else
                fail "kernel: $scenario: $what differ from before the checkpoint (-before +after):"
                diff "$work/want" "$work/got" | sed -n 's/^</  -/p; s/^>/  +/p' || true
            fi
        done
    done
}

# One container through dump, checkpoint, restore, replay and verify. RESTORE is how runc restores:
#   -             without --file-locks: the restored tasks run at once, with no locks
#   --file-locks  with it: CRIU restores the locks itself before the tasks run
#   stopped       without --file-locks, and CRIU leaves every restored task stopped (SIGSTOP;
#                 `leave-stopped` in a CRIU config file named by the org.criu.config annotation):
#                 nothing runs before lockcr replay, as the seed requires; the test sends SIGCONT
#                 to every task after the replay
run_group() {  # RESTORE SCENARIO...
    local restore_flag=$1 scenario count
    shift
    local group=$work/group-$1-$#$restore_flag
    mkdir -p "$group"
    local how="without --file-locks"
    [[ $restore_flag == --file-locks ]] && how="with --file-locks"
    [[ $restore_flag == stopped ]] && how="without --file-locks, tasks left stopped until after the replay"
    echo "== $* (checkpoint --file-locks, restore $how)"
    start_container "$@"
    truth "$group/before.txt"
    for scenario in "$@"; do
        count=$(grep -c "^$scenario locks " "$group/before.txt" || true)
        [[ $count -eq ${expected_lines[$scenario]} ]] ||
            die "$scenario holds $count /proc/locks lines, want ${expected_lines[$scenario]}: $(grep "^$scenario " "$group/before.txt" | tr '\n' ';')"
    done
    echo "truth before the checkpoint:"
    sed 's/^/  /' "$group/before.txt"

    lockcr_with_state "$group/dump.out" dump -o "$group/locks.json"
    [[ $status -eq 0 ]] || abort "lockcr dump ($*): exit $status: $(tail -n 1 "$group/dump.out")"
    pass "lockcr dump --state - ($*)"
    lockcr_with_state "$group/verify-before.out" verify "$group/locks.json"
    if [[ $status -eq 0 ]]; then
        pass "lockcr verify exits 0 against the running container before the checkpoint"
    else
        fail "lockcr verify before the checkpoint: exit $status:"
        sed 's/^/  /' "$group/verify-before.out"
    fi

    mkdir -p "$group/criu"
    bounded "runc checkpoint --file-locks $name ($*)" "$group/criu" \
        "${runc_command[@]}" checkpoint --file-locks --image-path "$group/criu" "$name" >"$group/checkpoint.out" 2>&1 ||
        abort "runc checkpoint --file-locks ($*): $(criu_error "$group/criu/dump.log") $(tail -n 1 "$group/checkpoint.out")"
    pass "runc --criu $criu checkpoint --file-locks"
    local flags=()
    [[ $restore_flag == --file-locks ]] && flags=(--file-locks)
    if [[ $restore_flag == stopped ]]; then
        echo "leave-stopped" >"$group/criu.conf"
        set_criu_config "$group/criu.conf"
    fi
    bounded "runc restore -d ${flags[*]} $name ($*)" "$group/criu" \
        "${runc_command[@]}" restore -d "${flags[@]}" --image-path "$group/criu" --bundle "$bundle" "$name" \
        </dev/null >"$group/restore.out" 2>&1 ||
        abort "runc restore -d ${flags[*]} ($*): $(criu_error "$group/criu/restore.log") $(tail -n 1 "$group/restore.out")"
    pass "runc --criu $criu restore -d${flags[*]:+ ${flags[*]}} (init host pid $(container_init_pid))"
    truth "$group/restored.txt"
    # Without --file-locks CRIU restores no lock: the kernel's table must say so before the replay
    # is trusted to have put them back (lockcr verify alone would rest on lockcr's own reading).
    local restored_locks
    restored_locks=$(grep -E '^[^ ]+ (locks|fdinfo) ' "$group/restored.txt" || true)
    if [[ $restore_flag == --file-locks ]]; then
        echo "INFO: after the restore with --file-locks, before replay: $(grep -c ' locks ' "$group/restored.txt" || true) /proc/locks line(s) on the files"
    elif [[ -z $restored_locks ]]; then
        pass "kernel: the restore without --file-locks left no lock on the files (/proc/locks, fdinfo)"
    else
        fail "kernel: after the restore without --file-locks, locks are still there (/proc/locks, fdinfo):"
        sed 's/^/  /' <<<"$restored_locks"
    fi

    lockcr_with_state "$group/verify-restored.out" verify "$group/locks.json"
    local want_verify=1
    [[ $restore_flag == --file-locks ]] && want_verify=0
    if [[ $status -eq $want_verify ]]; then
        pass "lockcr verify exits $want_verify after the restore ($(wc -l <"$group/verify-restored.out") line(s))"
        [[ $want_verify -eq 1 ]] || sed 's/^/  /' "$group/verify-restored.out"
    else
        fail "lockcr verify after the restore: exit $status, want $want_verify:"
        sed 's/^/  /' "$group/verify-restored.out"
    fi

    local started=$SECONDS
    lockcr_with_state "$group/replay.out" replay "$group/locks.json"
    if [[ $status -eq 0 ]]; then
        pass "lockcr replay exits 0 ($((SECONDS - started)) s): $(tail -n 1 "$group/replay.out")"
    else
        fail "lockcr replay exit $status$([[ $status -eq 124 ]] && echo ' (hung: killed after 60 s)'):"
        sed 's/^/  /' "$group/replay.out"
    fi
    lockcr_with_state "$group/verify-after.out" verify "$group/locks.json"
    if [[ $status -eq 0 ]]; then
        pass "lockcr verify exits 0 after replay"
    else
        fail "lockcr verify after replay: exit $status:"
        sed 's/^/  /' "$group/verify-after.out"
    fi

    if [[ $restore_flag == stopped ]]; then
        continue_container "$group/before.txt"
    fi
    truth "$group/after.txt"
    compare_truth "$group/before.txt" "$group/after.txt" "$@"
    local state
    state=$(freezer_state "$(container_init_pid)")
    if [[ $state == THAWED ]]; then
        pass "the container runs again after replay (freezer THAWED)"
    else
        fail "the container is $state after replay"
    fi
    if [[ ! -s $data/events.log ]]; then
        pass "no process saw a signal, got a lock it waited for, or exited"
    else
        fail "unexpected events in the container (ghost signals, lost locks, exits):"
        sed 's/^/  /' "$data/events.log"
    fi
    if [[ " $* " == *" lease00 "* ]]; then lease_break_reaches_owner; fi
    stop_container
}

# lockcr as CRIU's action script, the way users run it: the container's org.criu.config annotation
# names a CRIU config file with `action-script LOCKCR` (what `lockcr setup` writes), and nobody runs
# a lockcr command. `runc restore` alone must bring back every lock, owned as before, before any
# restored task runs: a waiter keeps waiting, no process sees a signal it did not ask for. RESTORE is
# "-" (without --file-locks), --file-locks (lockcr then keeps CRIU from setting any lock itself), or
# leave-running (checkpoint --leave-running and no restore: the container keeps every lock as it was,
# none broken or downgraded by the dump).
run_action_group() {  # RESTORE SCENARIO...
    local restore_flag=$1
    shift
    local group=$work/action-$1-$#$restore_flag
    mkdir -p "$group"
    local flags=() checkpoint_flags=()
    [[ $restore_flag == --file-locks ]] && flags=(--file-locks)
    [[ $restore_flag == leave-running ]] && checkpoint_flags=(--leave-running)
    echo "== $* (lockcr as CRIU's action script; checkpoint --file-locks ${checkpoint_flags[*]}, $(
        [[ $restore_flag == leave-running ]] && echo "the container runs on" || echo "restore ${flags[*]:-without --file-locks}"))"
    printf 'action-script %s\nfile-validation filesize\n' "$lockcr" >"$group/criu.conf"
    printf 'log-file: %s\nsyslog: false\nsnapshot-store: %s\n' "$group/lockcr.log" "$group/snapshots" >"$group/lockcr.yaml"
    run_criu_config=$group/criu.conf
    start_container "$@"
    run_criu_config=
    truth "$group/before.txt"
    echo "truth before the checkpoint:"
    sed 's/^/  /' "$group/before.txt"
    local with_config=(env "LOCKCR_CONFIG=$group/lockcr.yaml" "${runc_command[@]}")
    mkdir -p "$group/criu"
    bounded "runc checkpoint --file-locks ${checkpoint_flags[*]} $name ($*)" "$group/criu" \
        "${with_config[@]}" checkpoint --file-locks "${checkpoint_flags[@]}" --image-path "$group/criu" "$name" >"$group/checkpoint.out" 2>&1 ||
        abort "runc checkpoint --file-locks with lockcr as action script ($*): $(criu_error "$group/criu/dump.log") $(tail -n 1 "$group/checkpoint.out"); lockcr: $(grep -v " ms)$" "$group/lockcr.log" 2>/dev/null | tail -n 1)"
    pass "runc checkpoint --file-locks, lockcr as CRIU's action script"
    local file
    for file in lockcr.locks.json lockcr.checkpoint.json; do
        if [[ $(stat -c %a "$group/criu/$file" 2>/dev/null) == 600 ]]; then
            pass "the checkpoint's image directory holds $file (0600)"
        else
            fail "the checkpoint's image directory has no $file with mode 0600: $(ls -l "$group/criu/$file" 2>&1)"
        fi
    done
    if [[ $restore_flag != leave-running ]]; then
    bounded "runc restore -d ${flags[*]} $name ($*)" "$group/criu" \
        "${with_config[@]}" restore -d "${flags[@]}" --image-path "$group/criu" --bundle "$bundle" "$name" \
        </dev/null >"$group/restore.out" 2>&1 ||
        abort "runc restore -d ${flags[*]} with lockcr as action script ($*): $(criu_error "$group/criu/restore.log") $(tail -n 1 "$group/restore.out") $(grep -v ' ms)$' "$group/lockcr.log" | tail -n 1)"
    pass "runc restore -d${flags[*]:+ ${flags[*]}} (init host pid $(container_init_pid)), lockcr as CRIU's action script"
    fi
    truth "$group/after.txt"
    compare_truth "$group/before.txt" "$group/after.txt" "$@"
    local state
    state=$(freezer_state "$(container_init_pid)")
    if [[ $state == THAWED ]]; then
        pass "the container runs after the restore (freezer THAWED)"
    else
        fail "the container is $state after the restore"
    fi
    if [[ ! -s $data/events.log ]]; then
        pass "no process saw a signal, got a lock it waited for, or exited"
    else
        fail "unexpected events in the container (ghost signals, lost locks, exits):"
        sed 's/^/  /' "$data/events.log"
    fi
    if [[ -e $group/criu/filelocks.img && ! -e $group/criu/lockcr.criu-filelocks.img ]]; then
        pass "CRIU's filelocks.img is back in the image directory (the checkpoint stays usable without lockcr)"
    else
        fail "CRIU's filelocks.img was not put back: $(ls "$group/criu" | grep -i lock | tr '\n' ' ')"
    fi
    # CRIU 4.1 runs every action twice, 4.2 once: each must have run, and none failed.
    local action runs actions=(post-dump pre-restore post-restore pre-resume post-resume)
    [[ $restore_flag == leave-running ]] && actions=(post-dump)
    for action in "${actions[@]}"; do
        runs=$(grep -c "lockcr: $action: .* ms)\$" "$group/lockcr.log" || true)
        if [[ $runs -eq 1 || $runs -eq 2 ]]; then
            pass "lockcr's log has $runs line(s) for CRIU's $action action"
        else
            fail "lockcr's log has $runs successful line(s) for $action, want 1 or 2:"
            sed 's/^/  /' "$group/lockcr.log"
        fi
    done
    if [[ " $* " == *" lease00 "* ]]; then lease_break_reaches_owner; fi
    stop_container
}

# A writer's non-blocking open of lease00/file.0 (read lease) must fail with EWOULDBLOCK and signal
# the lease's owner, the lease00 leader: the lease works, not only shows.
lease_break_reaches_owner() {
    local leader
    leader=$(awk '$1 == "lease00" && $2 == "leader" { print $3 }' "$data/pids")
    if "$python" -c '
import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK))
except OSError as error:
    sys.exit(0 if error.errno == errno.EWOULDBLOCK else 1)
sys.exit(1)' "$data/lease00/file.0"; then
        pass "kernel: a writer's open of lease00/file.0 meets the read lease (EWOULDBLOCK)"
    else
        fail "kernel: a writer's non-blocking open of lease00/file.0 did not meet a lease"
    fi
    local deadline=$((SECONDS + 5))
    until grep -q "^lease00 leader pid $leader: signal 29 " "$data/events.log" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            fail "the lease break signal (SIGIO) did not reach the lease's owner, the lease00 leader (pid $leader), within 5 s; events: $(tr '\n' ';' <"$data/events.log" 2>/dev/null)"
            return
        fi
        sleep 0.1
    done
    pass "the lease break signal (SIGIO) reached the lease's owner, the lease00 leader (pid $leader)"
}

# --- CRIU -----------------------------------------------------------------------------------------
provision_criu_or_skip zdtm_test "$work/provision.log"
echo "CRIU: $("$criu" --version | head -n 1); lease-break-time $(cat /proc/sys/fs/lease-break-time) s"
[[ -x $build/workload/zdtmload ]] || die "no $build/workload/zdtmload: build the project first"
"$repo/scripts/build-rootfs.sh" "$bundle" "$build/workload" >"$work/build-rootfs.log" 2>&1 ||
    die "build-rootfs.sh: $(tail -n 1 "$work/build-rootfs.log")"

selected() {  # SCENARIO...: those of them in ZDTM_SCENARIOS (all when it is unset)
    local scenario
    for scenario in "$@"; do
        [[ -z ${ZDTM_SCENARIOS:-} || " $ZDTM_SCENARIOS " == *" $scenario "* ]] && echo "$scenario"
    done
    return 0
}
mapfile -t zdtm < <(selected "${zdtm_scenarios[@]}")
mapfile -t waiters < <(selected "${waiter_scenarios[@]}")
((${#zdtm[@]} + ${#waiters[@]} > 0)) || die "ZDTM_SCENARIOS='$ZDTM_SCENARIOS' names no scenario"

started=$SECONDS
for scenario in "${zdtm[@]}"; do run_group - "$scenario"; done
for scenario in "${waiters[@]}"; do run_group --file-locks "$scenario"; done
for scenario in "${waiters[@]}"; do run_group stopped "$scenario"; done
if ((${#zdtm[@]} > 1)); then
    run_group - "${zdtm[@]}"
    run_group --file-locks "${zdtm[@]}"
fi
# The same scenarios with lockcr as CRIU's action script: all zdtm scenarios in one container, and
# each waiter alone (the seed's case: nothing runs before the holder's lock is back, so the waiter
# keeps waiting), in both restore modes. wlease (a write lease on a non-empty file) only runs here:
# with CRIU's default file validation its dump would break the lease and stall 45 s.
mapfile -t action_extra < <(selected wlease)
if ((${#zdtm[@]} + ${#action_extra[@]} > 0)); then
    run_action_group - "${zdtm[@]}" "${action_extra[@]}"
    run_action_group --file-locks "${zdtm[@]}" "${action_extra[@]}"
fi
for scenario in "${action_extra[@]}"; do run_action_group leave-running "$scenario"; done
for scenario in "${waiters[@]}"; do
    run_action_group - "$scenario"
    run_action_group --file-locks "$scenario"
done

if ((failures > 0)); then
    echo "zdtm_test: $failures check(s) FAILED ($((SECONDS - started)) s)"
    exit 1
fi
echo "zdtm_test: all checks passed ($((SECONDS - started)) s)"
