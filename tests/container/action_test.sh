#!/usr/bin/env bash
# Container test: lockcr as CRIU's action script (and as the container's OCI hook) around real runc
# checkpoints and restores of the lockholder container (init holds every lock kind, children hold
# POSIX locks on inherited fds, one child waits in F_SETLKW), where things go wrong. Nobody runs a
# lockcr command by hand except `lockcr status` / `lockcr recover`, as an operator would.
#   registration  the OCI hook (createRuntime) registers the container with its io.lockcr.*
#                 annotations; the checkpoint record carries them; poststop removes it
#   leave-running `checkpoint --leave-running`: the container keeps every lock (kernel), and the
#                 checkpoint holds lockcr's record
#   outside       a host process holds a conflicting POSIX lock: `restore --file-locks` (where plain
#                 CRIU blocks forever in F_SETLKW) fails fast, naming the file and the holder;
#                 no container is left running or frozen; CRIU's filelocks.img is back
#   wait          policy conflict: wait: the holder lets go after 2 s and the restore succeeds with
#                 every lock as before
#   late holder   a holder that comes after post-restore's check (LOCKCR_FAULT=post-restore:pause):
#                 the replay at post-resume fails and the container stays FROZEN (on-failure:
#                 freeze, the default); `lockcr status` says so, `lockcr recover` finishes it
#   files         two locked files of the container's bind-mounted volume (/data) changed at the same
#                 size and mtime between checkpoint and restore: filesystem: strict refuses the
#                 restore naming both; rollback puts the checkpoint's bytes back before CRIU opens
#                 them, and the locks come back on the restored files
#   other host    the snapshot store removed (another host) and a locked volume file changed: without
#                 snapshot-export, filesystem: rollback refuses the restore and writes nothing; with
#                 snapshot-export: volumes, the checkpoint carries the volume's files and the
#                 rollback puts the exact bytes back, the locks on the restored file
#   crashed       CRIU fails between pre-restore and post-restore (lockcr killed as post-restore
#                 starts): the next restore through lockcr puts the set-aside filelocks.img back
#   killed        lockcr SIGKILLed mid-replay (LOCKCR_FAULT=barrier-thawed, the container thawed
#                 with its tasks in ptrace stops): the kernel kills them (PTRACE_O_EXITKILL), the
#                 waiter never took the free lock, `lockcr status` says so, the checkpoint restores
#                 again
#   damaged       the checkpoint's lock image truncated, corrupted, from an earlier checkpoint, or
#                 from another container: refused at pre-restore naming the file (and both
#                 checkpoints), no container started; the intact image then restores
#   killed mid-dump a container process SIGKILLed while post-dump collects the locks
#                 (LOCKCR_FAULT=collect-listed:stop): the checkpoint fails, post-dump naming it;
#                 the container runs on
# Kernel truth: the host's /proc/locks mapped to container pids (lock_table.py), freezer.state.
#
# Usage: tests/container/action_test.sh LOCKCR BUILD_DIR (root). Exits 0 if all passed, 1 if a
# check failed, 2 if it could not be set up, 77 if no working CRIU can be had at all.
set -euo pipefail

# shellcheck source=tests/container/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bundle=$work/bundle
criu=$build/criu/criu
name=$test_prefix-action
run_dir=$work/run  # lockcr's registrations and restore states: this test's own
data=$work/vol     # the container's /data: a bind-mounted volume
holder=

abort() {
    fail "$*"
    echo "action_test: stopped after $failures failure(s)"
    exit 1
}

cleanup() {
    [[ -z $holder ]] || kill "$holder" 2>/dev/null || true
    remove_demo_container
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# lockcr's environment in every runc call: runc hands it to CRIU, CRIU to the action script.
export LOCKCR_CONFIG=$work/lockcr.yaml LOCKCR_RUN_DIR=$run_dir
runc_command=(runc --criu "$criu")
lock_table() { "$python" "$repo/tests/container/lock_table.py" "$data" "$init_pid"; }

policies() {  # YAML lines: the host's config file for the next CRIU actions
    { echo "log-file: $work/lockcr.log"; echo "syslog: false"; echo "snapshot-store: $work/snapshots"
      printf '%s\n' "$@"; } >"$LOCKCR_CONFIG"
}

freezer_state_of() {  # CGROUP_NAME
    cat "/sys/fs/cgroup/freezer/$1/freezer.state" 2>/dev/null || echo "gone"
}

checkpoint() {  # IMAGE_DIR [FLAG...]
    local images=$1
    shift
    mkdir -p "$images"
    bounded "runc checkpoint $* $name" "$images" \
        "${runc_command[@]}" checkpoint --file-locks "$@" --image-path "$images" "$name" >"$images/checkpoint.out" 2>&1 ||
        abort "runc checkpoint --file-locks $* $name: $(criu_error "$images/dump.log") $(tail -n 1 "$images/checkpoint.out"); lockcr: $(grep -v ' ms)$' "$work/lockcr.log" | tail -n 1)"
    pass "runc checkpoint --file-locks $* (lockcr as CRIU's action script)"
}

# A host process holding POSIX WRITE [0,9] of posix.dat (the container's init holds [0,99]) for
# SECONDS; returns once it holds it.
hold_outside() {  # SECONDS
    rm -f "$work/holder.ready"
    "$python" - "$data/posix.dat" "$work/holder.ready" "$1" <<'PYTHON' &
import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
PYTHON
    holder=$!
    local deadline=$((SECONDS + 10))
    until [[ -e $work/holder.ready ]]; do
        ((SECONDS < deadline)) || die "the outside holder did not take its lock"
        sleep 0.05
    done
}

# --- Setup --------------------------------------------------------------------------------------
provision_criu_or_skip action_test "$work/provision.log"
echo "CRIU: $("$criu" --version | head -n 1)"
"$repo/scripts/build-rootfs.sh" "$bundle" "$build/workload" >"$work/build-rootfs.log" 2>&1 ||
    die "build-rootfs.sh: $(tail -n 1 "$work/build-rootfs.log")"
printf 'action-script %s\nfile-validation filesize\n' "$lockcr" >"$work/criu.conf"
# The container opts in the way users do: its CRIU config through org.criu.config, lockcr as its OCI
# hook (runc runs hooks with the environment the hook names, not its own).
"$python" - "$bundle/config.json" "$work/criu.conf" "$lockcr" "$LOCKCR_CONFIG" "$run_dir" <<'PYTHON'
import json, sys
path, criu_config, lockcr, config, run_dir = sys.argv[1:6]
spec = json.load(open(path))
spec.setdefault("annotations", {}).update({"org.criu.config": criu_config, "io.lockcr.conflict-wait": "20"})
# The workload's /data is a bind-mounted volume (what the snapshot stage records as a manifest).
spec["mounts"].append({"destination": "/data", "type": "bind", "source": run_dir.rsplit("/", 1)[0] + "/vol", "options": ["rbind", "rw"]})
hook = lambda stage: {"path": lockcr, "args": ["lockcr", "oci-hook", stage],
                      "env": [f"LOCKCR_CONFIG={config}", f"LOCKCR_RUN_DIR={run_dir}"], "timeout": 10}
spec["hooks"] = {"createRuntime": [hook("createRuntime")], "poststop": [hook("poststop")]}
json.dump(spec, open(path, "w"), indent=2)
PYTHON
policies
mkdir -p "$data"
DATA_DIR=$data bounded "demo-container.sh up $name" "" "$repo/scripts/demo-container.sh" up "$name" "$bundle" >"$work/up.log" 2>&1 ||
    die "demo-container.sh up: $(tail -n 1 "$work/up.log")"
declare -A role=()
while read -r who pid; do role[$who]=$pid; done <"$data/pids"
init_pid=$(container_init_pid)
lock_table >"$work/table-before.txt"
[[ $(wc -l <"$work/table-before.txt") -eq 8 ]] || die "lockholder does not hold its 7 locks and 1 waiter"
echo "container $name, init host pid $init_pid; locks:"
sed 's/^/  /' "$work/table-before.txt"

# --- registration -------------------------------------------------------------------------------
registration=$run_dir/containers/$name.json
if "$python" -c '
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(not (r["id"] == sys.argv[2] and r["pid"] == int(sys.argv[3]) and r["annotations"] == {"io.lockcr.conflict-wait": "20"}))' \
    "$registration" "$name" "$init_pid" 2>/dev/null; then
    pass "the OCI hook registered $name (pid $init_pid) with its io.lockcr.* annotations only"
else
    fail "no registration of $name with pid $init_pid and io.lockcr.conflict-wait: $(cat "$registration" 2>&1)"
fi

# --- leave-running ------------------------------------------------------------------------------
echo "== checkpoint --leave-running"
checkpoint "$work/running" --leave-running
same_table_as_before "after checkpoint --leave-running, the container runs on"
if [[ $(freezer_state_of "$name") == THAWED ]] &&
    "$python" -c '
import json, sys
r = json.load(open(sys.argv[1] + "/lockcr.checkpoint.json"))
sys.exit(not (r["container"]["id"] == sys.argv[2] and r["container"]["annotations"] == {"io.lockcr.conflict-wait": "20"}))' \
        "$work/running" "$name"; then
    pass "the container runs (THAWED) and the checkpoint's record names $name and its annotations"
else
    fail "after --leave-running: freezer $(freezer_state_of "$name"), record: $(cat "$work/running/lockcr.checkpoint.json" 2>&1 | tr '\n' ' ')"
fi

# --- outside holder, restore --file-locks -------------------------------------------------------
echo "== an outside holder, restore --file-locks (plain CRIU would block in F_SETLKW forever)"
checkpoint "$work/outside"
[[ ! -e $registration ]] && pass "runc ran poststop at checkpoint: the registration is gone" ||
    fail "the registration of $name outlived its checkpoint (poststop)"
hold_outside 300
: >"$work/lockcr.log"
restore "$work/outside" --file-locks
message=$(cat "$work/outside/restore.out" "$work/lockcr.log" "$work/outside/restore.log" 2>/dev/null |
    grep -m 1 -E "post-restore: .*held outside" || true)
if [[ $status -ne 0 && $message == *"/data/posix.dat"* && $message == *"held by pid $holder "* ]]; then
    pass "the restore failed fast (exit $status), naming the file and the holder: ${message#*lockcr: }"
else
    fail "restore --file-locks with an outside holder: exit $status, lockcr said: ${message:-nothing}"
    sed 's/^/  /' "$work/lockcr.log"
fi
if ! timeout -k 5 "$call_seconds" runc state "$name" >/dev/null 2>&1 && [[ $(freezer_state_of "$name") == gone ]]; then
    pass "no container $name is left, running or frozen"
else
    fail "after the aborted restore: runc state: $(runc state "$name" 2>&1 | tr '\n' ' '), freezer $(freezer_state_of "$name")"
fi
if [[ -e $work/outside/filelocks.img && ! -e $work/outside/lockcr.criu-filelocks.img ]]; then
    pass "CRIU's filelocks.img is back in the checkpoint"
else
    fail "filelocks.img not put back: $(ls "$work/outside" | tr '\n' ' ')"
fi

# --- policy wait --------------------------------------------------------------------------------
echo "== the same checkpoint, policy conflict: wait (the holder lets go after 2 s)"
kill "$holder"
wait "$holder" 2>/dev/null || true
policies "conflict: wait"
hold_outside 2
restore "$work/outside" --file-locks
if [[ $status -eq 0 ]]; then
    pass "restore --file-locks waited for the outside holder and succeeded"
else
    abort "restore with policy wait: exit $status: $(grep -v ' ms)$' "$work/lockcr.log" | tail -n 1)"
fi
wait "$holder" 2>/dev/null || true
holder=
same_table_as_before "restored after waiting"
[[ $(freezer_state_of "$name") == THAWED ]] && pass "the container runs (THAWED)" ||
    fail "the container is $(freezer_state_of "$name") after the restore"

# --- a holder that comes after post-restore: replay fails, the container stays frozen -----------
echo "== an outside holder appears after post-restore (default on-failure: freeze), then lockcr recover"
policies
checkpoint "$work/late"
: >"$work/lockcr.log"
LOCKCR_FAULT=post-restore:pause restore "$work/late" &
restoring=$!
deadline=$((SECONDS + 30))
until grep -q "post-restore: .*no lock of the checkpoint is held outside" "$work/lockcr.log" 2>/dev/null; do
    ((SECONDS < deadline)) || abort "post-restore never passed its check"
    sleep 0.05
done
hold_outside 300  # during the pause after post-restore's check, before pre-resume
wait "$restoring" || true
init_pid=$(container_init_pid)
if [[ $(freezer_state_of "$name") == FROZEN ]] &&
    grep -q "post-resume: .*held by pid $holder " "$work/lockcr.log"; then
    pass "the replay at post-resume failed naming the holder, and the container stays FROZEN"
else
    fail "late holder: freezer $(freezer_state_of "$name"); lockcr's log:"
    sed 's/^/  /' "$work/lockcr.log"
fi
"$lockcr" status >"$work/status.out" 2>&1 || true
key=$(awk -v pid="$init_pid" '$3 == "init" && $4 == pid":" { print $1; exit }' "$work/status.out")
if [[ -n $key ]] && grep -q "^$key .*: failed-frozen after pre-resume, container FROZEN" "$work/status.out" &&
    grep -q "lockcr recover $key" "$work/status.out"; then
    pass "lockcr status: $(head -n 1 "$work/status.out" | cut -c 1-160)"
else
    fail "lockcr status does not name the frozen, failed restore of init $init_pid:"
    sed 's/^/  /' "$work/status.out"
fi
kill "$holder"
wait "$holder" 2>/dev/null || true
holder=
if bounded "lockcr recover $key" "" "$lockcr" recover "$key" >"$work/recover.out" 2>&1; then
    pass "lockcr recover $key: $(tail -n 1 "$work/recover.out")"
else
    fail "lockcr recover $key failed: $(tail -n 1 "$work/recover.out")"
fi
same_table_as_before "after lockcr recover"
[[ $(freezer_state_of "$name") == THAWED ]] && pass "the container runs after recover (THAWED)" ||
    fail "the container is $(freezer_state_of "$name") after recover"

# --- lockcr killed mid-replay -------------------------------------------------------------------
echo "== lockcr SIGKILLed mid-replay, its tasks thawed in ptrace stops"
checkpoint "$work/killed"
LOCKCR_FAULT=barrier-thawed restore "$work/killed"
echo "INFO: runc restore exit $status (CRIU only logs a failed post-resume action)"
killed_init=$(timeout -k 5 "$call_seconds" runc state "$name" 2>/dev/null | "$python" -c 'import json,sys; print(json.load(sys.stdin)["pid"])' || echo 0)
deadline=$((SECONDS + 10))
while [[ $killed_init -ne 0 && -e /proc/$killed_init ]] && ((SECONDS < deadline)); do sleep 0.1; done
if [[ $killed_init -eq 0 || ! -e /proc/$killed_init ]] && ! grep -q "got POSIX WRITE" "$data/events.log" 2>/dev/null; then
    pass "the kernel killed the traced tasks when lockcr died (PTRACE_O_EXITKILL): none ran without its locks"
else
    fail "with lockcr killed mid-replay, init $killed_init lives on or the waiter took the lock: $(cat "$data/events.log" 2>/dev/null)"
fi
"$lockcr" status >"$work/status.out" 2>&1 || true
if grep -q ": interrupted after pre-resume" "$work/status.out" && grep -q "restore it again from the checkpoint" "$work/status.out"; then
    pass "lockcr status: the restore was interrupted, restore it again"
else
    fail "lockcr status after lockcr was killed:"
    sed 's/^/  /' "$work/status.out"
fi
timeout -k 5 "$call_seconds" runc delete --force "$name" >/dev/null 2>&1 || true
restore "$work/killed"
[[ $status -eq 0 ]] && pass "the same checkpoint restores again" || abort "restoring the checkpoint again: exit $status: $(tail -n 1 "$work/killed/restore.out")"
same_table_as_before "restored again after lockcr was killed"

# --- CRIU fails between pre-restore and post-restore -------------------------------------------
# lockcr is killed as post-restore starts (LOCKCR_FAULT=post-restore-entered): CRIU fails the
# restore with its filelocks.img still set aside by pre-restore. The next restore through lockcr,
# of another checkpoint, puts it back: the failed checkpoint restores as CRIU alone would again.
echo "== CRIU fails between pre-restore and post-restore: filelocks.img goes back"
checkpoint "$work/crashed"
cp -a "$work/crashed" "$work/crashed-copy"
LOCKCR_FAULT=post-restore-entered restore "$work/crashed"
if [[ $status -ne 0 && -e $work/crashed/lockcr.criu-filelocks.img && ! -e $work/crashed/filelocks.img ]]; then
    pass "the restore failed at post-restore, CRIU's filelocks.img still set aside"
else
    fail "restore with lockcr killed at post-restore: exit $status; $(ls "$work/crashed" | grep -i lock | tr '\n' ' ')"
fi
timeout -k 5 "$call_seconds" runc delete --force "$name" >/dev/null 2>&1 || true
restore "$work/crashed-copy"
[[ $status -eq 0 ]] || abort "restoring the copy of the checkpoint: exit $status: $(tail -n 1 "$work/crashed-copy/restore.out")"
if [[ -e $work/crashed/filelocks.img && ! -e $work/crashed/lockcr.criu-filelocks.img ]]; then
    pass "the next restore through lockcr put filelocks.img back into the failed restore's checkpoint"
else
    fail "filelocks.img of the failed restore: $(ls "$work/crashed" | grep -i lock | tr '\n' ' ')"
fi
same_table_as_before "restored from the copy after the failed restore"

# --- files changed between checkpoint and restore ----------------------------------------------
echo "== locked files of a bind-mounted volume changed at the same size and mtime (filesystem: strict, then rollback)"
policies
checkpoint "$work/files"
cp -p "$data/posix.dat" "$work/posix.dat.checkpoint"
cp -p "$data/flock.dat" "$work/flock.dat.checkpoint"
for changed in "$data/posix.dat" "$data/flock.dat"; do
    size=$(stat -c %s "$changed")
    touch -r "$changed" "$work/mtime"
    head -c "$size" /dev/zero | tr '\0' X >"$changed"
    touch -r "$work/mtime" "$changed"
done
: >"$work/lockcr.log"
restore "$work/files"
if [[ $status -ne 0 ]] && grep -q "changed since the checkpoint: /data/posix.dat: bytes changed" "$work/lockcr.log" &&
    grep -q "changed since the checkpoint: /data/flock.dat: bytes changed" "$work/lockcr.log"; then
    pass "filesystem: strict refused the restore naming /data/posix.dat and /data/flock.dat (bytes changed)"
else
    fail "filesystem: strict with changed files: restore exit $status; lockcr's log and the snapshot record's files:"
    sed 's/^/  /' "$work/lockcr.log"
    "$python" -c 'import json, sys
for part in json.load(open(sys.argv[1]))["parts"]:
    print("  ", part.get("mount_point"), part.get("source"), [f["path"] for f in part["files"]])' "$work/files/lockcr-snapshot.json" || true
fi
if ! timeout -k 5 "$call_seconds" runc state "$name" >/dev/null 2>&1; then
    pass "no container $name is left after the refused restore"
else
    fail "a container $name is left after the refused restore"
fi
policies "filesystem: rollback"
restore "$work/files"
[[ $status -eq 0 ]] && pass "filesystem: rollback: the restore succeeds" ||
    abort "filesystem: rollback: restore exit $status: $(grep -v ' ms)$' "$work/lockcr.log" | tail -n 1)"
if cmp -s "$data/posix.dat" "$work/posix.dat.checkpoint" && cmp -s "$data/flock.dat" "$work/flock.dat.checkpoint"; then
    pass "the checkpoint's bytes of /data/posix.dat and /data/flock.dat are back"
else
    fail "rollback did not restore the checkpoint's bytes"
fi
same_table_as_before "after the rollback, the locks are on the restored files"

# --- across hosts: the volume's files exported with the checkpoint, or not ---------------------
# Another host is this one with the snapshot store removed: the checkpoint's image directory is all
# that travels. A locked volume file is changed at the same size and mtime (common.sh).
echo "== another host (snapshot store removed): filesystem: rollback without, then with snapshot-export: volumes"
policies
checkpoint "$work/unexported"
rm -rf "$work/snapshots"
cp -p "$data/posix.dat" "$work/posix.dat.unexported"
change_keeping_size_and_mtime "$data/posix.dat"
cp -p "$data/posix.dat" "$work/posix.dat.changed"
: >"$work/lockcr.log"
policies "filesystem: rollback"
restore "$work/unexported"
message=$(grep -m 1 "cannot roll back /data/posix.dat" "$work/lockcr.log" || true)
if [[ $status -ne 0 && $message == *"is not on this host"*"carries no copy of it (snapshot-export: volumes) (nothing was written)"* ]] &&
    cmp -s "$data/posix.dat" "$work/posix.dat.changed"; then
    pass "without the export, rollback refuses the restore (exit $status), writing nothing: ${message#*lockcr: }"
else
    fail "rollback without the store or an export: restore exit $status, file $(cmp -s "$data/posix.dat" "$work/posix.dat.changed" && echo untouched || echo WRITTEN); lockcr said:"
    sed 's/^/  /' "$work/lockcr.log"
fi
if ! timeout -k 5 "$call_seconds" runc state "$name" >/dev/null 2>&1; then
    pass "no container $name is left after the refused rollback"
else
    fail "a container $name is left after the refused rollback"
fi
cat "$work/posix.dat.unexported" >"$data/posix.dat"  # the checkpoint's bytes, by hand, in place
touch -r "$work/posix.dat.unexported" "$data/posix.dat"
policies
restore "$work/unexported"
[[ $status -eq 0 ]] || abort "restoring with the checkpoint's bytes put back by hand: exit $status: $(grep -v ' ms)$' "$work/lockcr.log" | tail -n 1)"

policies "snapshot-export: volumes"
checkpoint "$work/exported"
exported=$("$python" -c 'import json, sys
record = json.load(open(sys.argv[1] + "/lockcr-snapshot.json"))
for part in record["parts"]:
    for f in part["files"]:
        if f["path"] == "/data/posix.dat" and f.get("exported"):
            print(part["exported"] + "/" + f["exported"])' "$work/exported")
if [[ -n $exported && $(stat -c %a "$work/exported/$exported") == 600 ]] && cmp -s "$work/exported/$exported" "$data/posix.dat"; then
    pass "snapshot-export: volumes: the checkpoint carries /data/posix.dat's bytes ($exported, 0600)"
else
    fail "no exported copy of /data/posix.dat in the checkpoint: $(ls -R "$work/exported" | tr '\n' ' ')"
fi
cp -p "$data/posix.dat" "$work/posix.dat.exported"
rm -rf "$work/snapshots"
change_keeping_size_and_mtime "$data/posix.dat"
inode_before=$(stat -c %i "$data/posix.dat")
: >"$work/lockcr.log"
policies "filesystem: rollback"
restore "$work/exported"
[[ $status -eq 0 ]] && pass "filesystem: rollback from the exported copies: the restore succeeds" ||
    abort "filesystem: rollback from the exported copies: restore exit $status: $(grep -v ' ms)$' "$work/lockcr.log" | tail -n 1)"
if cmp -s "$data/posix.dat" "$work/posix.dat.exported" && [[ $(stat -c %i "$data/posix.dat") == "$inode_before" ]]; then
    pass "the checkpoint's bytes of /data/posix.dat are back, from the copy that travelled with it (same inode)"
else
    fail "the rollback from the exported copies did not restore /data/posix.dat"
    sed 's/^/  /' "$work/lockcr.log"
fi
same_table_as_before "after the rollback from the exported copies, the locks are on the restored file"

# --- damaged or foreign lock images: refused at pre-restore -------------------------------------
# Each is a restore of one checkpoint whose lockcr.locks.json was replaced; pre-restore must refuse
# it before CRIU restores anything (no container, running or frozen), in one line of lockcr's log
# naming the file and what is wrong, and leave the checkpoint as it was (the intact image restores).
refused_at_pre_restore() {  # WHAT EXPECTED_TEXT
    : >"$work/lockcr.log"
    restore "$work/damaged"
    local message
    message=$(grep -m 1 -E "pre-restore: .*lockcr\.locks\.json" "$work/lockcr.log" || true)
    if [[ $status -ne 0 && $message == *"$work/damaged"*"lockcr.locks.json"* && $message == *"$2"* ]]; then
        pass "$1: the restore is refused (exit $status): ${message#*lockcr: }"
    else
        fail "$1: restore exit $status, lockcr said: ${message:-nothing}"
        sed 's/^/  /' "$work/lockcr.log"
    fi
    if ! timeout -k 5 "$call_seconds" runc state "$name" >/dev/null 2>&1 && [[ $(freezer_state_of "$name") == gone ]]; then
        pass "$1: no container $name was started, running or frozen"
    else
        fail "$1: runc state: $(runc state "$name" 2>&1 | tr '\n' ' '), freezer $(freezer_state_of "$name")"
        timeout -k 5 "$call_seconds" runc delete --force "$name" >/dev/null 2>&1 || true
    fi
    [[ -e $work/damaged/filelocks.img && ! -e $work/damaged/lockcr.criu-filelocks.img ]] ||
        fail "$1: CRIU's filelocks.img was moved: $(ls "$work/damaged" | tr '\n' ' ')"
}
echo "== truncated, corrupted and foreign lock images at restore"
checkpoint "$work/damaged"
image=$work/damaged/lockcr.locks.json
cp -p "$image" "$work/intact.locks.json"
head -c "$(($(stat -c %s "$image") / 2))" "$work/intact.locks.json" >"$image"
refused_at_pre_restore "a truncated image" "malformed JSON"
sed 's/"posix"/"posiz"/' "$work/intact.locks.json" >"$image"
refused_at_pre_restore "a corrupted image (an unknown lock kind)" "posiz"
# Another checkpoint's image (the --leave-running one, taken earlier from this container).
cp "$work/running/lockcr.locks.json" "$image"
refused_at_pre_restore "the image of an earlier checkpoint" "is the lock image of container $name taken"
# Another container's image: the same processes' image, as recorded for a container named other.
"$python" -c '
import json, sys
image = json.load(open(sys.argv[1]))
image["container"]["id"] = "lockcr-test-other"
json.dump(image, open(sys.argv[2], "w"))' "$work/intact.locks.json" "$image"
refused_at_pre_restore "another container's image" "is the lock image of container lockcr-test-other taken"
cp -p "$work/intact.locks.json" "$image"
restore "$work/damaged"
[[ $status -eq 0 ]] && pass "the checkpoint with its own image restores" ||
    abort "restoring with the intact image: exit $status: $(tail -n 1 "$work/damaged/restore.out")"
same_table_as_before "restored with its own image after the refused ones"

# --- a container process killed mid-dump -------------------------------------------------------
# Last: it leaves the container without its inheritor. lockcr stops itself in post-dump's
# collection (LOCKCR_FAULT=collect-listed:stop), the inheritor (POSIX WRITE [100,149]) is killed
# there (CRIU holds its tasks in ptrace stops, which SIGKILL does not wait for), lockcr goes on.
# CRIU's checkpoint would still have the inheritor: an image without its lock would restore it
# without. The post-dump run that saw it go must fail, naming it, and so the checkpoint. CRIU 4.1
# runs post-dump a second time even so: that run would find the inheritor gone before it looks and
# record the others, so it finds the first run's failure instead and fails again.
echo "== a container process SIGKILLed while post-dump records the locks"
stopped_lockcr() {  # this test's lockcr, stopped at its fault point
    local directory
    for directory in /proc/[0-9]*; do
        [[ $(cat "$directory/comm" 2>/dev/null) == lockcr && $(awk '{ print $3 }' "$directory/stat" 2>/dev/null) == T ]] ||
            continue
        tr '\0' '\n' <"$directory/environ" 2>/dev/null | grep -qx "LOCKCR_RUN_DIR=$run_dir" || continue
        echo "${directory#/proc/}"
        return 0
    done
    return 1
}
init_pid=$(container_init_pid)
victim=$(host_pid_of "$init_pid" "${role[inheritor]}") || abort "no host pid for the inheritor"
images=$work/killed-mid-dump
mkdir -p "$images"
LOCKCR_FAULT=collect-listed:stop timeout -k 5 "$call_seconds" "${runc_command[@]}" checkpoint --file-locks \
    --image-path "$images" "$name" >"$images/checkpoint.out" 2>&1 &
checkpointing=$!
wait_until 60 stopped_lockcr >/dev/null || abort "post-dump's lockcr never stopped at collect-listed"
kill -KILL "$victim"
# Its parent is held by CRIU and cannot reap it: a zombie, its locks gone.
wait_until 10 eval '[[ $(awk "{ print \$3 }" /proc/$victim/stat 2>/dev/null) == Z || ! -e /proc/$victim ]]' ||
    fail "the inheritor (pid $victim) did not die while CRIU held it"
kill -CONT "$(stopped_lockcr)" || true
# CRIU 4.1 runs post-dump a second time: that run stops at the point too, and goes on.
while kill -0 "$checkpointing" 2>/dev/null; do
    if dumper=$(stopped_lockcr); then kill -CONT "$dumper"; fi
    sleep 0.1
done
status=0
wait "$checkpointing" || status=$?
if [[ $status -ne 0 ]] &&
    grep -q "post-dump: .*pid ${role[inheritor]} (lockholder, host pid $victim) exited while the locks were read" \
        "$work/lockcr.log"; then
    pass "the checkpoint failed, post-dump naming the killed process: $(grep -o "pid ${role[inheritor]} (lockholder[^;]*" "$work/lockcr.log" | head -n 1)"
else
    fail "checkpoint exit $status; lockcr: $(grep post-dump "$work/lockcr.log" | tail -n 3 | tr '\n' ' ')"
fi
[[ $(freezer_state_of "$name") == THAWED ]] && kill -0 "$init_pid" 2>/dev/null &&
    pass "the container runs on (THAWED)" || fail "after the failed checkpoint: $(freezer_state_of "$name")"
# CRIU 4.1's second post-dump finds the first one's failure and fails again: it records nothing.
if [[ ! -e $images/lockcr.locks.json && ! -e $images/lockcr.checkpoint.json ]]; then
    pass "the failed checkpoint holds no lock image and no lockcr record"
else
    fail "the failed checkpoint holds: $(ls "$images" | grep lockcr | tr '\n' ' ')"
fi

if ((failures > 0)); then
    echo "action_test: $failures check(s) FAILED"
    exit 1
fi
echo "action_test: all checks passed"
