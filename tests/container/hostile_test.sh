#!/usr/bin/env bash
# Container test: a hostile container against lockcr as CRIU's action script, around real runc
# checkpoints and restores of the lockholder container (its /data a bind-mounted volume, recorded
# by the snapshot stage). Between checkpoint and restore the container's side plants, where a
# locked file of the checkpoint was:
#   symlink   a symlink to a host file that a host process holds a POSIX lock on: lockcr resolves
#             it inside the volume (RESOLVE_IN_ROOT), never reaches the host file: strict refuses
#             the restore naming the file; rollback removes the symlink and puts the bytes back;
#             the host file keeps its bytes and gets no lock from the container
#   fifo      a FIFO (kept open by a writer that never writes): never read, the restore is not held
#             up; strict names it, rollback replaces it and every lock comes back
#   device    a character device like /dev/zero (1:5): never opened (inotify says), never read
# Each runc call is bounded (common.sh): a hang fails the test. Kernel truth: the host's /proc/locks
# mapped to container pids (lock_table.py), and inotify on the planted nodes and the host file.
#
# Usage: tests/container/hostile_test.sh LOCKCR BUILD_DIR (root). Exits 0 if all passed, 1 if a
# check failed, 2 if it could not be set up, 77 if no working CRIU can be had at all.
set -euo pipefail

# shellcheck source=tests/container/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bundle=$work/bundle
criu=$build/criu/criu
name=$test_prefix-hostile
run_dir=$work/run
data=$work/vol     # the container's /data
secret=$work/host-secret
holder= watcher= writer=

abort() {
    fail "$*"
    echo "hostile_test: stopped after $failures failure(s)"
    exit 1
}

cleanup() {
    local pid
    for pid in $holder $watcher; do kill "$pid" 2>/dev/null || true; done
    remove_demo_container
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

export LOCKCR_CONFIG=$work/lockcr.yaml LOCKCR_RUN_DIR=$run_dir
runc_command=(runc --criu "$criu")
lock_table() { "$python" "$repo/tests/container/lock_table.py" "$data" "$init_pid"; }

policies() {  # YAML lines
    { echo "log-file: $work/lockcr.log"; echo "syslog: false"; echo "snapshot-store: $work/snapshots"
      printf '%s\n' "$@"; } >"$LOCKCR_CONFIG"
}

checkpoint() {  # IMAGE_DIR
    mkdir -p "$1"
    bounded "runc checkpoint $name" "$1" \
        "${runc_command[@]}" checkpoint --file-locks --image-path "$1" "$name" >"$1/checkpoint.out" 2>&1 ||
        abort "runc checkpoint --file-locks $name: $(criu_error "$1/dump.log") $(tail -n 1 "$1/checkpoint.out")"
}

# Counts opens and reads of PATHS (inotify: IN_OPEN for every open but O_PATH, IN_ACCESS for every
# read) into $work/opened until killed; returns once the watches are in place.
watch_opens() {  # PATH...
    rm -f "$work/watch.ready" "$work/opened"
    "$python" - "$work/watch.ready" "$work/opened" "$@" <<'PYTHON' &
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
for path in sys.argv[3:]:
    if libc.inotify_add_watch(fd, path.encode(), 0x20 | 0x1 | 0x02000000) < 0:  # IN_OPEN|IN_ACCESS|IN_DONT_FOLLOW
        sys.exit(f"inotify_add_watch {path}: {os.strerror(ctypes.get_errno())}")
open(sys.argv[1], "w").close()
while True:
    events = os.read(fd, 65536)
    with open(sys.argv[2], "a") as out:
        at = 0
        while at < len(events):
            wd, mask, cookie, length = struct.unpack_from("iIII", events, at)
            if mask & 0x21:  # not IN_IGNORED: a watched node the rollback unlinked and that went away
                out.write(f"watch {wd} mask {mask:#x}\n")
            at += 16 + length
PYTHON
    watcher=$!
    local deadline=$((SECONDS + 10))
    until [[ -e $work/watch.ready ]]; do
        ((SECONDS < deadline)) && kill -0 "$watcher" 2>/dev/null || die "the inotify watcher did not start"
        sleep 0.05
    done
}

stop_watching() {
    kill "$watcher" 2>/dev/null || true
    wait "$watcher" 2>/dev/null || true
    watcher=
}

opens_seen() { [[ -s $work/opened ]] && wc -l <"$work/opened" || echo 0; }

# The host file's /proc/locks lines (major:minor:inode) without their ordinals.
host_file_locks() {
    local inode
    inode=$(stat -c %i "$secret")
    awk -v suffix=":$inode" '{ for (i = 2; i <= NF; i++) if ($i ~ /^[0-9a-f]+:[0-9a-f]+:[0-9]+$/) {
        if (substr($i, length($i) - length(suffix) + 1) == suffix) { $1 = ""; print } ; break } }' /proc/locks | sort
}

# --- Setup --------------------------------------------------------------------------------------
provision_criu_or_skip hostile_test "$work/provision.log"
"$repo/scripts/build-rootfs.sh" "$bundle" "$build/workload" >"$work/build-rootfs.log" 2>&1 ||
    die "build-rootfs.sh: $(tail -n 1 "$work/build-rootfs.log")"
printf 'action-script %s\nfile-validation filesize\n' "$lockcr" >"$work/criu.conf"
"$python" - "$bundle/config.json" "$work/criu.conf" "$data" <<'PYTHON'
import json, sys
path, criu_config, data = sys.argv[1:4]
spec = json.load(open(path))
spec.setdefault("annotations", {})["org.criu.config"] = criu_config
spec["mounts"].append({"destination": "/data", "type": "bind", "source": data, "options": ["rbind", "rw"]})
json.dump(spec, open(path, "w"), indent=2)
PYTHON
policies
mkdir -p "$data"
DATA_DIR=$data bounded "demo-container.sh up $name" "" "$repo/scripts/demo-container.sh" up "$name" "$bundle" >"$work/up.log" 2>&1 ||
    die "demo-container.sh up: $(tail -n 1 "$work/up.log")"
init_pid=$(container_init_pid)
lock_table >"$work/table-before.txt"
[[ $(wc -l <"$work/table-before.txt") -eq 8 ]] || die "lockholder does not hold its 7 locks and 1 waiter"
# The host file a planted symlink names, locked by a host process for the whole test.
echo "host secret" >"$secret"
cp -p "$secret" "$work/secret.before"
"$python" - "$secret" "$work/holder.ready" <<'PYTHON' &
import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 0)
open(sys.argv[2], "w").close()
time.sleep(600)
PYTHON
holder=$!
deadline=$((SECONDS + 10))
until [[ -e $work/holder.ready ]]; do
    ((SECONDS < deadline)) || die "the host holder did not take its lock"
    sleep 0.05
done
host_file_locks >"$work/secret-locks.before"
[[ $(wc -l <"$work/secret-locks.before") -eq 1 ]] || die "the host holder's lock is not in /proc/locks"

# plant KIND FILE: puts a KIND where FILE (a locked file of /data) was; the original goes aside.
plant() {
    local kind=$1 file=$data/$2
    mv "$file" "$work/$2.checkpoint"
    case $kind in
    symlink) ln -s "$secret" "$file" ;;
    fifo) mkfifo "$file"
          exec {writer}<>"$file" ;;  # a writer that never writes: a read would wait forever
    device) mknod "$file" c 1 5 ;;
    esac
}

# --- each hostile node where a locked file was, strict then rollback ---------------------------
scenario() {  # KIND FILE WHAT_STRICT_SAYS
    local kind=$1 file=$2 says=$3 images=$work/$1
    echo "== a $kind planted at /data/$file between checkpoint and restore"
    policies
    checkpoint "$images"
    plant "$kind" "$file"
    watch_opens "$data/$file" "$secret"
    : >"$work/lockcr.log"
    restore "$images"
    if [[ $status -ne 0 ]] && grep -q "/data/$file: $says" "$work/lockcr.log"; then
        pass "$kind: filesystem: strict refused the restore, naming /data/$file ($says)"
    else
        fail "$kind: strict: restore exit $status; lockcr's log:"
        sed 's/^/  /' "$work/lockcr.log"
    fi
    ! timeout -k 5 "$call_seconds" runc state "$name" >/dev/null 2>&1 &&
        pass "$kind: no container is left after the refused restore" || fail "$kind: a container is left"
    policies "filesystem: rollback"
    restore "$images"
    stop_watching
    [[ $status -eq 0 ]] && pass "$kind: filesystem: rollback: the restore succeeds" ||
        abort "$kind: rollback: restore exit $status: $(grep -v ' ms)$' "$work/lockcr.log" | tail -n 1)"
    [[ $(opens_seen) -eq 0 ]] && pass "$kind: inotify: neither the planted $kind nor the host file was opened or read" ||
        fail "$kind: inotify saw $(opens_seen) open(s) or read(s) of the planted $kind or the host file"
    if [[ -f $data/$file && ! -L $data/$file ]] && cmp -s "$data/$file" "$work/$file.checkpoint"; then
        pass "$kind: /data/$file is a regular file with the checkpoint's bytes again"
    else
        fail "$kind: /data/$file after the rollback: $(stat -c %F "$data/$file" 2>&1)"
    fi
    same_table_as_before "$kind: after the rollback, every lock is back"
    if cmp -s "$secret" "$work/secret.before" && host_file_locks | cmp -s - "$work/secret-locks.before"; then
        pass "$kind: kernel: the host file kept its bytes and only its own holder's lock"
    else
        fail "$kind: the host file changed or got a lock: $(host_file_locks | tr '\n' ';')"
    fi
    [[ -z $writer ]] || exec {writer}>&-
    writer=
}

scenario symlink posix.dat "replaced by a symlink"
scenario fifo flock.dat "replaced by a fifo"
scenario device posix.dat "replaced by a device"

if ((failures > 0)); then
    echo "hostile_test: $failures check(s) FAILED"
    exit 1
fi
echo "hostile_test: all checks passed"
