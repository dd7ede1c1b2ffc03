#!/usr/bin/env bash
# Container test: lockcr around a real CRIU checkpoint/restore of a runc container (CRIU 4.1,
# provisioned privately by scripts/provision-criu.sh). Kernel truth is the host's /proc/locks and
# the owning process's /proc/PID/fdinfo; container pids map to host pids through NSpid (CRIU
# restores the pids inside the container's namespace, the host pids differ).
#
#   (a) restore WITH --file-locks: CRIU brings back init's locks but drops the POSIX locks the
#       children took on inherited fds ([100,149], [150,199]). lockcr verify must name exactly
#       those; lockcr replay puts them back on the right restored processes; the waiter still waits.
#   (b) restore WITHOUT --file-locks (what CRI-O and containerd do): every lock is gone and the
#       waiter takes [0,99]. lockcr replay must refuse in one line naming /data/posix.dat and the
#       waiter as the holder inside the container, set nothing, and never hang.
#
# Usage: tests/container/criu_test.sh LOCKCR BUILD_DIR
#   LOCKCR     the lockcr binary
#   BUILD_DIR  the build tree: BUILD_DIR/workload holds the static workloads; CRIU is provisioned
#              into BUILD_DIR/criu; the bundle, images and logs go to BUILD_DIR/lockcr-test-PID-*
# Runs as root. Prints PASS/FAIL lines; exits 0 if all passed, 1 if a check failed (or a runc/CRIU
# call hung: it is killed after 60 s), 2 if the test could not be set up, 77 (SKIP) if no CRIU can
# be had at all (common.sh). The container and the work directory are removed on every path a
# signal allows; after SIGKILL, tests/container/sweep.sh removes them.
set -euo pipefail

# shellcheck source=tests/container/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bundle=$work/bundle  # and beside it: lock images, CRIU image directories, logs
criu=$build/criu/criu
name=$test_prefix-criu

# A failed step that later steps depend on: report it and stop (cleanup still runs).
abort() {
    fail "$*"
    echo "criu_test: stopped after $failures failure(s)"
    exit 1
}

cleanup() {
    remove_demo_container
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

runc_command=(runc --criu "$criu")

# Every /proc/locks line on the bundle's data files, one per line, sorted:
#   [-> ]KIND MODE TYPE [START,END] /data/NAME[ pid CONTAINER_PID]
# A POSIX lock's host pid becomes its container pid (NSpid); other kinds show no pid (a description
# lock shows whoever set it). /proc/locks is read a page at a time, each page under its own lock:
# while other workloads on the host add and drop locks one read may skip or repeat lines, so the
# truth is two reads in a row that agree.
lock_table() { "$python" "$repo/tests/container/lock_table.py" "$bundle/rootfs/data" "$init_pid"; }

posix_inode=
# Whether the lock table has a line matching the ERE (anchored at both ends).
table_has() {
    lock_table >"$work/table-now.txt" || return 1
    grep -Eq "^$1\$" "$work/table-now.txt"
}
# A POSIX lock on posix.dat held by CONTAINER_PID: in /proc/locks, and in the fdinfo of an fd of
# that process.
posix_held_by() {  # CONTAINER_PID TYPE START END
    local owner=$1 type=$2 start=$3 end=$4 host
    table_has "POSIX ADVISORY $type \[$start,$end\] /data/posix\.dat pid $owner" || return 1
    host=$(host_pid_of "$init_pid" "$owner") || return 1
    grep -Eqs "^lock:\s+[0-9]+: POSIX +ADVISORY +$type +$host +[0-9a-f]+:[0-9a-f]+:$posix_inode +$start +$end\s*$" \
        "/proc/$host/fdinfo/"*
}
# Anyone's POSIX WRITE [START,END] on posix.dat.
posix_range_held() { table_has "POSIX ADVISORY WRITE \[$1,$2\] /data/posix\.dat pid [0-9]+"; }
# The waiter's "->" line: blocked on POSIX WRITE [0,99].
waiter_blocked() { table_has "-> POSIX ADVISORY WRITE \[0,99\] /data/posix\.dat pid ${role[waiter]}"; }

freezer_state() {
    local path
    path=$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$1/cgroup")
    cat "/sys/fs/cgroup/freezer$path/freezer.state"
}

checkpoint() {  # IMAGE_DIR
    mkdir -p "$1"
    bounded "runc checkpoint --file-locks $name" "$1" \
        "${runc_command[@]}" checkpoint --file-locks --image-path "$1" "$name" >"$1/runc-checkpoint.out" 2>&1 ||
        abort "runc checkpoint --file-locks $name: $(criu_error "$1/dump.log") $(tail -n 1 "$1/runc-checkpoint.out")"
    pass "runc --criu $criu checkpoint --file-locks"
}

# Detached, runc hands its own stdio to the restored tree: /dev/null and files, never this
# script's pipes (a pipe would be held open by the container and never reach EOF).
restore() {  # IMAGE_DIR [--file-locks]
    local images=$1
    shift
    bounded "runc restore -d $* $name" "$images" "${runc_command[@]}" restore -d "$@" --image-path "$images" --pid-file "$images/init.pid" \
        --bundle "$bundle" "$name" </dev/null >"$images/runc-restore.out" 2>&1 ||
        abort "runc restore $* $name: $(criu_error "$images/restore.log") $(tail -n 1 "$images/runc-restore.out")"
    pass "runc --criu $criu restore -d${*:+ $*} (init host pid $(cat "$images/init.pid"))"
}

# --- CRIU ---------------------------------------------------------------------------------------
provision_criu_or_skip criu_test "$work/provision.log"
echo "CRIU: $("$criu" --version | head -n 1)"

# --- The container ------------------------------------------------------------------------------
"$repo/scripts/build-rootfs.sh" "$bundle" "$build/workload" >"$work/build-rootfs.log" 2>&1 ||
    die "build-rootfs.sh: $(tail -n 1 "$work/build-rootfs.log")"
bounded "demo-container.sh up $name" "" "$repo/scripts/demo-container.sh" up "$name" "$bundle" >"$work/up.log" 2>&1 ||
    die "demo-container.sh up: $(tail -n 1 "$work/up.log")"
declare -A role=()
while read -r who pid; do role[$who]=$pid; done <"$bundle/rootfs/data/pids"
for who in init inheritor threaded waiter; do
    [[ -n ${role[$who]:-} ]] || die "$bundle/rootfs/data/pids names no $who"
done
posix_inode=$(stat -c %i "$bundle/rootfs/data/posix.dat")
init_pid=$(container_init_pid)
echo "container $name, init host pid $init_pid; container pids: init ${role[init]}," \
    "inheritor ${role[inheritor]}, threaded ${role[threaded]}, waiter ${role[waiter]}"
lock_table >"$work/table-before.txt"
echo "locks before the checkpoint:"
sed 's/^/  /' "$work/table-before.txt"
[[ $(wc -l <"$work/table-before.txt") -eq 8 ]] || die "lockholder does not hold its 7 locks and 1 waiter"

timeout -k 5 "$call_seconds" runc state "$name" >"$work/state.json"
bounded "lockcr dump" "" "$lockcr" dump --state "$work/state.json" -o "$work/locks.json" >"$work/dump.out" 2>&1 ||
    abort "lockcr dump: $(tail -n 1 "$work/dump.out")"
pass "lockcr dump --state -o locks.json"

# --- (a) restore WITH --file-locks ----------------------------------------------------------------
echo "== (a) CRIU restore with --file-locks"
checkpoint "$work/criu-a"
restore "$work/criu-a" --file-locks
init_pid=$(container_init_pid)
inheritor_host=$(host_pid_of "$init_pid" "${role[inheritor]}") || abort "no process has container pid ${role[inheritor]} after restore"
threaded_host=$(host_pid_of "$init_pid" "${role[threaded]}") || abort "no process has container pid ${role[threaded]} after restore"
waiter_host=$(host_pid_of "$init_pid" "${role[waiter]}") || abort "no process has container pid ${role[waiter]} after restore"
echo "restored host pids: init $init_pid, inheritor $inheritor_host, threaded $threaded_host, waiter $waiter_host"
if wait_until 20 waiter_blocked; then
    pass "the restored waiter (pid ${role[waiter]}) blocks again on POSIX WRITE [0,99]"
else
    fail "the restored waiter (pid ${role[waiter]}, host $waiter_host) is not blocked after 20 s"
fi

# CRIU's hole, seen by the kernel: init's locks are back, the children's inherited-fd locks are not.
if posix_held_by "${role[init]}" WRITE 0 99 && posix_held_by "${role[init]}" READ 200 EOF &&
    ! posix_range_held 100 149 && ! posix_range_held 150 199; then
    pass "kernel: CRIU restored init's POSIX locks and dropped [100,149] and [150,199]"
else
    fail "kernel: after restore with --file-locks, expected init's locks without [100,149]/[150,199]:"
    lock_table | sed 's/^/  /'
fi

timeout -k 5 "$call_seconds" runc state "$name" >"$work/state-a.json"
status=0
bounded "lockcr verify" "" "$lockcr" verify "$work/locks.json" --state "$work/state-a.json" >"$work/verify-a.out" 2>"$work/verify-a.err" || status=$?
# Each difference line names a dropped lock and its owner; nothing else may differ.
unexpected=$(grep -Ev "^pid (${role[inheritor]}) .*/data/posix\.dat: POSIX WRITE \[100,149\] missing$|^pid (${role[threaded]}) .*/data/posix\.dat: POSIX WRITE \[150,199\] missing$" \
    "$work/verify-a.out" || true)
if [[ $status -eq 1 && -z $unexpected ]] &&
    grep -Eq "^pid ${role[inheritor]} .*POSIX WRITE \[100,149\] missing$" "$work/verify-a.out" &&
    grep -Eq "^pid ${role[threaded]} .*POSIX WRITE \[150,199\] missing$" "$work/verify-a.out"; then
    pass "lockcr verify exits 1 naming exactly the dropped [100,149] (pid ${role[inheritor]}) and [150,199] (pid ${role[threaded]})"
else
    fail "lockcr verify after CRIU's restore: exit $status (want 1), output:"
    sed 's/^/  /' "$work/verify-a.out" "$work/verify-a.err"
fi
# One missing lock is one difference, whichever fds share its open file description.
if [[ $(wc -l <"$work/verify-a.out") -eq 2 ]]; then
    pass "lockcr verify reports each dropped lock once (2 lines)"
else
    fail "lockcr verify reports $(wc -l <"$work/verify-a.out") lines for the 2 dropped locks:"
    sed 's/^/  /' "$work/verify-a.out"
fi

status=0
timeout 60 "$lockcr" replay "$work/locks.json" --state "$work/state-a.json" >"$work/replay-a.out" 2>&1 || status=$?
if [[ $status -eq 0 ]]; then
    pass "lockcr replay exits 0: $(tail -n 1 "$work/replay-a.out")"
else
    fail "lockcr replay exit $status$([[ $status -eq 124 ]] && echo ' (hung: killed after 60 s)'):"
    sed 's/^/  /' "$work/replay-a.out"
fi

status=0
bounded "lockcr verify" "" "$lockcr" verify "$work/locks.json" --state "$work/state-a.json" >"$work/verify-a2.out" 2>&1 || status=$?
if [[ $status -eq 0 ]]; then
    pass "lockcr verify exits 0 after replay"
else
    fail "lockcr verify after replay: exit $status:"
    sed 's/^/  /' "$work/verify-a2.out"
fi

if posix_held_by "${role[inheritor]}" WRITE 100 149; then
    pass "kernel: POSIX WRITE [100,149] is back, owned by the restored inheritor (pid ${role[inheritor]}, host $inheritor_host)"
else
    fail "kernel: POSIX WRITE [100,149] not held by host pid $inheritor_host (/proc/locks + fdinfo)"
fi
if posix_held_by "${role[threaded]}" WRITE 150 199; then
    pass "kernel: POSIX WRITE [150,199] is back, owned by the restored threaded process (pid ${role[threaded]}, host $threaded_host)"
else
    fail "kernel: POSIX WRITE [150,199] not held by host pid $threaded_host (/proc/locks + fdinfo)"
fi
if waiter_blocked && [[ ! -s $bundle/rootfs/data/events.log ]]; then
    pass "kernel: the waiter still waits (its \"->\" line), and never got [0,99]"
else
    fail "kernel: the waiter is not waiting any more: $(cat "$bundle/rootfs/data/events.log" 2>/dev/null)"
fi
lock_table >"$work/table-a.txt"
if cmp -s "$work/table-before.txt" "$work/table-a.txt"; then
    pass "kernel: the lock table after replay equals the one before the checkpoint (container pids)"
else
    fail "kernel: the lock table after replay differs from the one before the checkpoint:"
    diff "$work/table-before.txt" "$work/table-a.txt" | sed 's/^/  /'
fi
state=$(freezer_state "$init_pid")
if [[ $state == THAWED ]]; then
    pass "the container runs again after replay (freezer THAWED)"
else
    fail "the container is $state after replay"
fi

# --- (b) restore WITHOUT --file-locks -------------------------------------------------------------
echo "== (b) CRIU restore without --file-locks"
checkpoint "$work/criu-b"
restore "$work/criu-b"
init_pid=$(container_init_pid)
waiter_host=$(host_pid_of "$init_pid" "${role[waiter]}") || abort "no process has container pid ${role[waiter]} after restore"
waiter_got_it() {
    posix_held_by "${role[waiter]}" WRITE 0 99 && grep -q "got POSIX WRITE \[0,99\]" "$bundle/rootfs/data/events.log" 2>/dev/null
}
if wait_until 20 waiter_got_it; then
    pass "kernel: with every lock dropped, the waiter (pid ${role[waiter]}) took POSIX WRITE [0,99]"
else
    fail "kernel: the waiter (host pid $waiter_host) did not take [0,99] within 20 s:"
    lock_table | sed 's/^/  /'
fi
lock_table >"$work/table-b.txt"
if [[ $(cat "$work/table-b.txt") == "POSIX ADVISORY WRITE [0,99] /data/posix.dat pid ${role[waiter]}" ]]; then
    pass "kernel: the waiter's lock is the only lock left on the data files"
else
    fail "kernel: expected only the waiter's lock, found:"
    sed 's/^/  /' "$work/table-b.txt"
fi

timeout -k 5 "$call_seconds" runc state "$name" >"$work/state-b.json"
status=0
timeout 60 "$lockcr" replay "$work/locks.json" --state "$work/state-b.json" >"$work/replay-b.out" 2>&1 || status=$?
output=$(grep -v '^\s*$' "$work/replay-b.out" || true)
if [[ $status -eq 1 ]]; then
    pass "lockcr replay exits 1 against the waiter's lock"
elif [[ $status -eq 124 ]]; then
    fail "lockcr replay hung (killed after 60 s)"
else
    fail "lockcr replay exit $status, want 1"
fi
# The holder is named the way the line names the lock's owner: by its pid inside the container.
holder="held by pid ${role[waiter]} \([^)]*inside the container\)"
if [[ $(printf '%s\n' "$output" | wc -l) -eq 1 && $output == *"/data/posix.dat"* ]] &&
    grep -Eq "$holder" <<<"$output"; then
    pass "lockcr replay's one line names /data/posix.dat and the waiter (pid ${role[waiter]}) inside the container: $output"
else
    fail "lockcr replay should print one line naming /data/posix.dat and 'held by pid ${role[waiter]} (..., inside the container)' (the waiter; host pid $waiter_host), got:"
    sed 's/^/  /' "$work/replay-b.out"
fi
lock_table >"$work/table-b2.txt"
if cmp -s "$work/table-b.txt" "$work/table-b2.txt"; then
    pass "kernel: the failed replay set nothing (all or nothing)"
else
    fail "kernel: the failed replay changed the locks:"
    diff "$work/table-b.txt" "$work/table-b2.txt" | sed 's/^/  /'
fi
# --on-failure resume (the default): the container runs on as it was, with the waiter's lock.
state=$(freezer_state "$init_pid")
if [[ $state == THAWED ]]; then
    pass "the container runs on after the failed replay (freezer THAWED, --on-failure resume)"
else
    fail "the container is $state after the failed replay, want THAWED (--on-failure resume)"
fi

if ((failures > 0)); then
    echo "criu_test: $failures check(s) FAILED"
    exit 1
fi
echo "criu_test: all checks passed"
