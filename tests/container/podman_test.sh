#!/usr/bin/env bash
# Container test: podman 4.3.1 end to end, lockcr as CRIU's action script. The container is created
# with the annotation org.criu.config=<a CRIU config with `action-script LOCKCR`>; podman keeps it in
# the container's config, runc reads it at checkpoint and restore, and nobody runs a lockcr command.
# The workload is lockholder (tests/workload/lockholder.c) as the container's init, its data
# directory a bind-mounted volume: init holds every lock kind, two children hold POSIX locks on fds
# they inherited, one child is blocked in F_SETLKW.
#
#   (a) podman container checkpoint --file-locks --export ARCHIVE, podman rm, podman container
#       restore --import ARCHIVE WITHOUT --file-locks (podman's default): the archive carries
#       checkpoint/lockcr.locks.json, and the kernel's lock table after the restore is the one
#       before the checkpoint: every lock on the same container process and fd (open file
#       description), the waiter still blocked, no process saw an event.
#   (b) the same, restored WITH --file-locks (lockcr sets every lock, CRIU none): the same table.
#   (c) a host process holds POSIX WRITE [0,99] on the volume's posix.dat before the restore: the
#       restore fails within seconds (every podman call is bounded), CRIU's log holds lockcr's one
#       line naming /data/posix.dat and the holder (pid, command), and no process of the container
#       is left, running or frozen.
#   (d) another host: with snapshot-export: volumes the archive carries posix.dat's bytes; the
#       snapshot store removed and posix.dat changed (same size and mtime), restore --import with
#       filesystem: rollback puts the checkpoint's bytes back in place and the table is the same.
# Kernel truth is the host's /proc/locks and the fdinfo of the container's processes; container
# pids come from NSpid (CRIU restores the pids inside the container's namespace).
#
# What podman needs on this machine (DESIGN.md, "Platform facts for tests"): --runtime runc (Debian
# 12's crun has no checkpoint support); CRIU 4.1 (provisioned into BUILD_DIR/criu) first in PATH,
# since podman and runc exec `criu` from PATH; --ulimit nofile/nproc below this machine's hard
# limits; an image from `podman import` of the rootfs (no registry). podman runs runc with PATH
# and XDG_RUNTIME_DIR alone in its environment, so LOCKCR_CONFIG never reaches lockcr from here: the
# action script is a wrapper that sets it. lockcr's lines also go to CRIU's log (stderr), which
# podman keeps beside the container when a restore fails.
# Everything podman keeps lives under this test's own directories (--root, --tmpdir and runc's
# --root in the work directory, --runroot in /tmp, a cgroup parent; all named lockcr-test-PID-...): the machine's podman
# state, /etc/containers and /etc/criu are never read for containers nor written.
#
# Usage: tests/container/podman_test.sh LOCKCR BUILD_DIR
# Runs as root. Prints PASS/FAIL lines; exits 0 if all passed, 1 if a check failed, 2 if the test
# could not be set up, 77 (SKIP) if podman is not installed or no CRIU can be had (common.sh).
# Containers, the image, the host holder, cgroups and the work directory are removed on every path
# a signal allows; after SIGKILL, tests/container/sweep.sh removes them.
set -euo pipefail

# shellcheck source=tests/container/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

skip() {
    echo "SKIP: ****************************************************************************"
    echo "SKIP: $*"
    echo "SKIP: podman_test did NOT run: lockcr under podman is untested on this machine."
    echo "SKIP: ****************************************************************************"
    rm -rf "$work"
    exit 77
}
command -v podman >/dev/null || skip "podman is not installed (scripts/install-deps.sh installs it)"

name=$test_prefix-podman  # the container (podman's name); runc knows it by podman's id
image=localhost/$test_prefix-image:latest
cgroup_parent=/$test_prefix-podman
state=$work/podman  # podman's storage and tmp directories, runc's root
runroot=/tmp/$test_prefix-podman-run  # podman refuses a run root longer than 50 characters
criu_config=$work/criu.conf
holder_pid=
podman_command=(podman --root "$state/storage" --runroot "$runroot" --tmpdir "$state/tmp"
    --cgroup-manager cgroupfs --events-backend file --runtime runc --runtime-flag "root=$state/runc")

# Every podman call is bounded: a hang is a failure, never a stuck test.
podman_bounded() { timeout -k 5 "$call_seconds" "${podman_command[@]}" "$@"; }

remove_cgroups() {
    local group
    while read -r group; do rmdir "$group" 2>/dev/null || true; done < <(
        find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -path "*$cgroup_parent*" 2>/dev/null | sort -r)
}

cleanup() {
    [[ -n $holder_pid ]] && kill -KILL "$holder_pid" 2>/dev/null
    if [[ -d $state ]]; then
        podman_bounded rm --all --force --time 0 >/dev/null 2>&1 || echo "WARNING: podman rm --all failed under $state"
        podman_bounded rmi --all --force >/dev/null 2>&1 || echo "WARNING: podman rmi --all failed under $state"
        # The storage driver's own mounts (overlay keeps a private bind of its directory).
        awk '{ print $5 }' /proc/self/mountinfo | grep -F -e "$state/" -e "$runroot/" | sort -r |
            xargs -r -n 1 umount -l 2>/dev/null || true
    fi
    remove_cgroups
    rm -rf "$work" "$runroot"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

abort() {
    fail "$*"
    echo "podman_test: stopped after $failures failure(s)"
    exit 1
}

# --- Kernel truth ---------------------------------------------------------------------------------
# truth.py DATA_DIR INIT_HOST_PID: one line per lock on the files of DATA_DIR, sorted:
#   locks [-> ]KIND MODE TYPE [START,END] /data/FILE[ pid CONTAINER_PID]     (/proc/locks)
#   fdinfo pid CONTAINER_PID fd FD: KIND MODE TYPE [START,END] /data/FILE pid PID   (its fdinfo)
# A POSIX lock's and a waiter's pid is its owner; a flock's or lease's is the process that set it
# (shown in fdinfo); an OFD lock's is -1. Pids outside the container read "outside:HOSTPID".
cat >"$work/truth.py" <<'PYTHON'
import os, re, sys

data, init = sys.argv[1], sys.argv[2]
files = {}  # "MAJ:MIN:INODE" as /proc/locks writes it -> name under DATA_DIR
for entry in os.listdir(data):
    st = os.stat(os.path.join(data, entry))
    files["%02x:%02x:%d" % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)] = entry

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
    return pid if pid == "-1" else container_pid.get(pid, f"outside:{pid}")

def parse(line):
    words = line.split()[1:]
    arrow = words[0] == "->"
    if arrow:
        words = words[1:]
    kind, mode, ltype, pid, device, start, end = words[:7]
    return arrow, kind, mode, ltype, pid, device, f"[{start},{end}]"

def proc_locks_once():
    rows = []
    for line in open("/proc/locks"):
        arrow, kind, mode, ltype, pid, device, span = parse(line)
        if device in files:
            owner = f" pid {pid_name(pid)}" if kind == "POSIX" or arrow else ""
            rows.append(f"locks {'-> ' if arrow else ''}{kind} {mode} {ltype} {span} /data/{files[device]}{owner}")
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

for host, cpid in container_pid.items():
    try:
        fds = os.listdir(f"/proc/{host}/fd")
    except (FileNotFoundError, PermissionError):
        continue
    for fd in fds:
        try:
            st = os.stat(f"/proc/{host}/fd/{fd}")
            info = open(f"/proc/{host}/fdinfo/{fd}").read()
        except (FileNotFoundError, PermissionError):
            continue
        key = "%02x:%02x:%d" % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
        if key not in files:
            continue
        for line in info.splitlines():
            if line.startswith("lock:"):
                arrow, kind, mode, ltype, pid, device, span = parse(line.split(None, 1)[1])
                rows.append(f"fdinfo pid {cpid} fd {fd}: {'-> ' if arrow else ''}{kind} {mode} {ltype} {span} "
                            f"/data/{files[key]} pid {pid_name(pid)}")
print("\n".join(sorted(rows)))
PYTHON

init_pid=
truth() {  # OUTPUT
    "$python" "$work/truth.py" "$data" "$init_pid" >"$1" 2>"$1.err" ||
        abort "reading the kernel's lock truth: $(tail -n 1 "$1.err")"
}
# Every /proc/locks line on the volume's files, whoever holds it (no container needed).
host_lock_lines() {
    "$python" - "$data" <<'PYTHON'
import os, sys
data = sys.argv[1]
inodes = {os.stat(os.path.join(data, n)).st_ino: n for n in os.listdir(data)}
for line in open("/proc/locks"):
    words = line.split()
    device = words[-3]
    if int(device.rsplit(":", 1)[1]) in inodes:
        print(" ".join(words[1:]).replace(device, "/data/" + inodes[int(device.rsplit(":", 1)[1])]))
PYTHON
}

container_status() { podman_bounded inspect --format '{{.State.Status}}' "$name" 2>/dev/null || echo gone; }
container_host_pid() { podman_bounded inspect --format '{{.State.Pid}}' "$name"; }

# Every process in the container's cgroups (under the cgroup parent, every v1 hierarchy and v2;
# not podman's monitor conmon and its exit command, in CGROUP_PARENT/conmon), and any of those
# cgroups not THAWED.
container_processes() {
    find /sys/fs/cgroup -path "*$cgroup_parent*" -not -path "*$cgroup_parent/conmon*" -name cgroup.procs \
        -exec cat {} + 2>/dev/null | sort -u
}
no_container_process() { [[ -z $(container_processes) ]]; }
frozen_cgroups() {
    local file
    while read -r file; do
        [[ $(cat "$file" 2>/dev/null) == THAWED ]] || echo "$file: $(cat "$file" 2>/dev/null)"
    done < <(find /sys/fs/cgroup -path "*$cgroup_parent*" -name freezer.state 2>/dev/null)
    while read -r file; do
        [[ $(cat "$file" 2>/dev/null) == 0 ]] || echo "$file: frozen"
    done < <(find /sys/fs/cgroup -path "*$cgroup_parent*" -name cgroup.freeze 2>/dev/null)
}

# The waiter's "->" line (the workload is in place once DATA/ready exists and this shows).
waiter_blocked() {
    truth "$work/truth-now.txt"
    grep -q "^locks -> POSIX ADVISORY WRITE \[0,99\] /data/posix\.dat pid $waiter\$" "$work/truth-now.txt"
}

# --- Steps ----------------------------------------------------------------------------------------
data=
waiter=
start_container() {  # SCENARIO: a fresh volume (fresh inodes) and a fresh container
    data=$work/data-$1
    mkdir -p "$data"
    podman_bounded run -d --name "$name" --network none --cgroup-parent "$cgroup_parent" \
        --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
        --annotation "org.criu.config=$criu_config" --volume "$data:/data" \
        "$image" /usr/bin/lockholder /data >"$work/run-$1.out" 2>&1 ||
        abort "podman run $name: $(tail -n 1 "$work/run-$1.out")"
    wait_until 20 test -e "$data/ready" || abort "lockholder not ready within 20 s: $(cat "$data/error.log" 2>/dev/null)"
    waiter=$(awk '$1 == "waiter" { print $2 }' "$data/pids")
    init_pid=$(container_host_pid)
    wait_until 20 waiter_blocked || abort "the waiter (container pid $waiter) is not blocked within 20 s"
    pass "podman run: lockholder holds its locks (init host pid $init_pid), the waiter (pid $waiter) is blocked"
}

checkpoint() {  # ARCHIVE
    podman_bounded container checkpoint --file-locks --export "$1" "$name" >"$1.out" 2>&1 ||
        abort "podman container checkpoint --file-locks --export $name: $(tail -n 3 "$1.out" | tr '\n' ' ')"
    pass "podman container checkpoint --file-locks --export $(basename "$1")"
    podman_bounded rm "$name" >/dev/null 2>&1 || abort "podman rm $name after the checkpoint"
}

# Restores ARCHIVE; the status goes to $restore_status, podman's output to ARCHIVE.restore.out.
restore_status=0
restore() {  # ARCHIVE [--file-locks]
    local archive=$1
    shift
    restore_status=0
    podman_bounded container restore --import "$archive" "$@" </dev/null >"$archive.restore.out" 2>&1 ||
        restore_status=$?
}

# The same locks, on the same container processes and fds, as before the checkpoint.
check_restored() {  # SCENARIO BEFORE
    local scenario=$1 before=$2 status
    init_pid=$(container_host_pid)
    truth "$work/after-$scenario.txt"
    if cmp -s "$before" "$work/after-$scenario.txt"; then
        pass "kernel: /proc/locks and every container process's fdinfo show the locks of before the checkpoint ($(wc -l <"$before") lines, init host pid $init_pid)"
    else
        fail "kernel: the locks after the restore differ from those before the checkpoint (< before, > after):"
        diff "$before" "$work/after-$scenario.txt" | grep '^[<>]' | sed 's/^/  /'
    fi
    if waiter_blocked; then
        pass "kernel: the waiter (pid $waiter) still waits for POSIX WRITE [0,99]"
    else
        fail "kernel: the waiter (pid $waiter) is not blocked on POSIX WRITE [0,99] any more"
    fi
    if [[ ! -s $data/events.log ]]; then
        pass "no process of the container saw an event (a lock it waited for, a lease break, a signal)"
    else
        fail "events in the container: $(tr '\n' ';' <"$data/events.log")"
    fi
    status=$(container_status)
    if [[ $status == running && -z $(frozen_cgroups) ]]; then
        pass "the container runs (podman: running, no cgroup frozen)"
    else
        fail "the container is $status after the restore; frozen cgroups: $(frozen_cgroups | tr '\n' ' ')"
    fi
}

stop_container() {
    podman_bounded rm --force --time 0 "$name" >/dev/null 2>&1 || fail "podman rm --force $name"
}

# One of (a), (b): checkpoint, remove, restore from the archive, compare.
run_restore_scenario() {  # SCENARIO [--file-locks]
    local scenario=$1 archive
    shift
    archive=$work/checkpoint-$scenario.tar.zst
    echo "== ($scenario) checkpoint --export, restore --import${*:+ $*}"
    start_container "$scenario"
    truth "$work/before-$scenario.txt"
    echo "locks before the checkpoint:"
    sed 's/^/  /' "$work/before-$scenario.txt"
    checkpoint "$archive"
    tar --zstd -tf "$archive" >"$archive.list" 2>&1 || abort "tar --zstd -tf $archive: $(tail -n 1 "$archive.list")"
    if grep -qx 'checkpoint/lockcr.locks.json' "$archive.list"; then
        pass "the archive holds checkpoint/lockcr.locks.json"
    else
        fail "the archive has no checkpoint/lockcr.locks.json among its $(wc -l <"$archive.list") entries"
    fi
    # lockcr show on podman's own --export archive (zstd tar): lockcr's record beside CRIU's, and the
    # two POSIX locks the children took on inherited fds, which CRIU alone would drop.
    if "$lockcr" show "$archive" >"$archive.show" 2>&1 &&
        grep -q "^lockcr's record (lockcr.locks.json): 7 lock(s), 1 waiter(s), 4 process(es)" "$archive.show" &&
        grep -q "only in lockcr's record (2): a restore by CRIU alone would drop these" "$archive.show"; then
        pass "lockcr show reads podman's --export archive: 7 locks and the waiter, 2 of them only in lockcr's record"
    else
        fail "lockcr show $archive:"
        sed 's/^/  /' "$archive.show"
    fi
    restore "$archive" "$@"
    if ((restore_status == 124)); then
        abort "podman container restore --import${*:+ $*} hung: killed after $call_seconds s"
    elif ((restore_status != 0)); then
        abort "podman container restore --import${*:+ $*}: exit $restore_status: $(tail -n 3 "$archive.restore.out" | tr '\n' ' ')"
    fi
    pass "podman container restore --import${*:+ $*}"
    check_restored "$scenario" "$work/before-$scenario.txt"
    stop_container
}

# (c): a host process holds a lock of the checkpoint before the restore.
run_outside_holder_scenario() {
    local archive=$work/checkpoint-c.tar.zst started elapsed log_file line
    echo "== (c) an outside holder: restore --import must fail fast, naming the file and the holder"
    start_container c
    checkpoint "$archive"
    "$python" - "$data/posix.dat" "$work/holder.ready" <<'PYTHON' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 100, 0)  # POSIX WRITE [0,99], init's lock
open(sys.argv[2], "w").close()
time.sleep(3600)
PYTHON
    holder_pid=$!
    wait_until 10 test -e "$work/holder.ready" || abort "the host holder did not take POSIX WRITE [0,99] on posix.dat"
    echo "host holder: pid $holder_pid ($(cat "/proc/$holder_pid/comm")), POSIX WRITE [0,99] on $data/posix.dat"
    started=$SECONDS
    restore "$archive"
    elapsed=$((SECONDS - started))
    if ((restore_status == 124)); then
        fail "podman container restore --import hung: killed after $call_seconds s"
    elif ((restore_status == 0)); then
        fail "podman container restore --import succeeded against an outside holder of POSIX WRITE [0,99]"
    else
        pass "podman container restore --import failed (exit $restore_status) in $elapsed s"
    fi
    # podman names CRIU's log of the failed restore ("log file: PATH"); lockcr's line is in it.
    log_file=$(sed -n 's/^log file: //p' "$archive.restore.out" | tail -n 1)
    line=$(cat "$archive.restore.out" "$log_file" 2>/dev/null | grep -E '^lockcr: post-restore: .*restore aborted' | head -n 1 || true)
    if [[ -n $line && $line == *"/data/posix.dat"* && $line == *"held by pid $holder_pid (python3, outside the container)"* ]]; then
        pass "lockcr's one line (CRIU's log) names the file and the holder: $line"
    else
        fail "no line of lockcr naming /data/posix.dat and 'held by pid $holder_pid (python3, outside the container)' in the output of podman or in ${log_file:-the log of CRIU (podman named none)}:"
        sed 's/^/  /' "$archive.restore.out"
        [[ -n $line ]] && echo "  lockcr: $line"
    fi
    # CRIU kills the restored tasks when it aborts; conmon exits after runc. Both may take a moment
    # after podman returned: the container is left behind if anything stays beyond 10 s.
    local processes frozen waited=$SECONDS
    processes=$(container_processes)
    local pid
    for pid in $processes; do echo "  $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c 1-200) ($(grep -h freezer "/proc/$pid/cgroup" 2>/dev/null))"; done >"$work/processes-c.txt"
    wait_until 10 no_container_process || true
    processes=$(container_processes)
    frozen=$(frozen_cgroups)
    if [[ -z $processes && -z $frozen && $(container_status) != running ]]; then
        pass "nothing of the container is left running or frozen (podman: $(container_status); no process in $cgroup_parent after $((SECONDS - waited)) s)"
        [[ -s $work/processes-c.txt ]] && { echo "  (when podman returned:)"; cat "$work/processes-c.txt"; }
    else
        fail "after the failed restore: podman says $(container_status); frozen: ${frozen//$'\n'/ }; processes in $cgroup_parent 10 s later:"
        for pid in $processes; do echo "  $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c 1-200) ($(grep -h freezer "/proc/$pid/cgroup" 2>/dev/null))"; done
    fi
    host_lock_lines >"$work/after-c.txt"
    if [[ $(cat "$work/after-c.txt") == "POSIX ADVISORY WRITE $holder_pid /data/posix.dat 0 99" ]]; then
        pass "kernel: the outside holder's lock is the only lock left on the volume's files"
    else
        fail "kernel: expected only the outside holder's lock on the volume's files, found:"
        sed 's/^/  /' "$work/after-c.txt"
    fi
    kill -KILL "$holder_pid" 2>/dev/null
    wait "$holder_pid" 2>/dev/null || true
    holder_pid=
    podman_bounded rm --force --time 0 "$name" >/dev/null 2>&1 || true
}

# (d): another host. The checkpoint carries the volume's recorded files (snapshot-export: volumes)
# in podman's archive; the snapshot store is removed (all that travels is the archive) and a locked
# volume file is changed at the same size and mtime. restore --import with filesystem: rollback
# puts the checkpoint's bytes back, in place, before CRIU opens the file, and the locks come back
# on it.
run_other_host_scenario() {
    local archive=$work/checkpoint-d.tar.zst exported inode
    echo "== (d) snapshot-export: volumes; restore --import with the snapshot store gone and a volume file changed"
    policies "snapshot-export: volumes"
    start_container d
    truth "$work/before-d.txt"
    checkpoint "$archive"
    tar --zstd -tf "$archive" >"$archive.list" 2>&1 || abort "tar --zstd -tf $archive: $(tail -n 1 "$archive.list")"
    exported=$(tar --zstd -xOf "$archive" checkpoint/lockcr-snapshot.json 2>/dev/null | "$python" -c 'import json, sys
record = json.load(sys.stdin)
for part in record["parts"]:
    for f in part["files"]:
        if f["path"] == "/data/posix.dat" and f.get("exported"):
            print(part["exported"] + "/" + f["exported"])')
    if [[ -n $exported ]] && grep -qxF "checkpoint/$exported" "$archive.list"; then
        pass "podman's archive carries /data/posix.dat's bytes (checkpoint/$exported)"
    else
        fail "no copy of /data/posix.dat in podman's archive (record: ${exported:-none}): $(grep -c . "$archive.list") entries"
    fi
    cp -p "$data/posix.dat" "$work/posix.dat.checkpointed"
    rm -rf "$work/snapshots"
    change_keeping_size_and_mtime "$data/posix.dat"
    inode=$(stat -c %i "$data/posix.dat")
    policies "snapshot-export: volumes" "filesystem: rollback"
    restore "$archive"
    if ((restore_status != 0)); then
        fail "podman container restore --import with filesystem: rollback: exit $restore_status: $(tail -n 3 "$archive.restore.out" | tr '\n' ' ')"
        grep -v ' ms)$' "$work/lockcr.log" | tail -n 5 | sed 's/^/  /'
        policies
        return
    fi
    pass "podman container restore --import, filesystem: rollback from the archive's copies"
    if cmp -s "$data/posix.dat" "$work/posix.dat.checkpointed" && [[ $(stat -c %i "$data/posix.dat") == "$inode" ]]; then
        pass "the checkpoint's bytes of /data/posix.dat are back, in place (same inode)"
    else
        fail "/data/posix.dat after the restore is not the checkpoint's (or not the same inode)"
    fi
    check_restored d "$work/before-d.txt"
    stop_container
    policies
}

# --- Setup ----------------------------------------------------------------------------------------
provision_criu_or_skip podman_test "$work/provision.log"
mkdir -p "$work/bin" "$state"
ln -s "$build/criu/criu" "$work/bin/criu"
export PATH=$work/bin:$PATH
echo "podman: $(podman --version); runc: $(runc --version | head -n 1); CRIU (first in PATH): $(criu --version | head -n 1)"
[[ -x $build/workload/lockholder ]] || die "no $build/workload/lockholder: build the project first"
"$repo/scripts/build-rootfs.sh" "$work/bundle" "$build/workload" >"$work/build-rootfs.log" 2>&1 ||
    die "build-rootfs.sh: $(tail -n 1 "$work/build-rootfs.log")"
tar -C "$work/bundle/rootfs" --exclude=./data -cf "$work/rootfs.tar" . || die "tar of the rootfs"
podman_bounded import "$work/rootfs.tar" "$image" >"$work/import.out" 2>&1 ||
    die "podman import: $(tail -n 1 "$work/import.out")"
# podman runs runc with PATH and XDG_RUNTIME_DIR alone, so lockcr's configuration reaches it through
# a two-line action script (what an operator without /etc/lockcr/lockcr.yaml would do): this test's
# snapshots, log and restore states stay in its work directory.
policies() {  # [LINE...]: this test's lockcr.yaml, with LINEs added
    printf 'log-file: %s\nsyslog: false\nsnapshot-store: %s\n' "$work/lockcr.log" "$work/snapshots" >"$work/lockcr.yaml"
    (($# == 0)) || printf '%s\n' "$@" >>"$work/lockcr.yaml"
}
policies
printf '#!/bin/sh\nLOCKCR_CONFIG=%s LOCKCR_RUN_DIR=%s exec %s "$@"\n' "$work/lockcr.yaml" "$work/run" "$lockcr" >"$work/lockcr-action"
chmod 0755 "$work/lockcr-action"
echo "action-script $work/lockcr-action" >"$criu_config"

started=$SECONDS
run_restore_scenario a
run_restore_scenario b --file-locks
run_outside_holder_scenario
run_other_host_scenario

if ((failures > 0)); then
    echo "podman_test: $failures check(s) FAILED ($((SECONDS - started)) s)"
    exit 1
fi
echo "podman_test: all checks passed ($((SECONDS - started)) s)"
