#!/usr/bin/env bash
# Starts, shows and removes the demo container: runc running the bundle from build-rootfs.sh,
# whose init (lockholder) holds every lock kind and has a child blocked on one of them.
#
# Usage: scripts/demo-container.sh up|down|state NAME BUNDLE
#   up     start NAME detached from BUNDLE; returns once BUNDLE/rootfs/data/ready exists and the
#          host's /proc/locks shows the waiter's "->" line (at most 20 s); prints the init's pid
#   state  print `runc state NAME` (JSON)
#   down   kill and delete NAME; succeeds if it does not exist or never finished starting
# Environment: RUNC (default runc), RUNC_ROOT (runc --root; default runc's own), DATA_DIR (the
# host directory the container sees as /data when the bundle bind-mounts a volume there; default
# BUNDLE/rootfs/data).
# runc's own log goes to /run/lockcr-demo/NAME.log; the init's pid to /run/lockcr-demo/NAME.pid.
set -euo pipefail

die() { echo "demo-container: $*" >&2; exit 1; }

[[ $# -eq 3 ]] || die "usage: demo-container.sh up|down|state NAME BUNDLE"
action=$1 name=$2 bundle=$3
[[ $(id -u) -eq 0 ]] || die "must run as root"
runc_command=("${RUNC:-runc}")
[[ -n ${RUNC_ROOT:-} ]] && runc_command+=(--root "$RUNC_ROOT")
data=${DATA_DIR:-$bundle/rootfs/data}
state_dir=/run/lockcr-demo
pid_file=$state_dir/$name.pid
log_file=$state_dir/$name.log
timeout_seconds=20

container_status() {
    "${runc_command[@]}" state "$name" 2>/dev/null |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null || true
}

# The "->" line of a process blocked on posix.dat, as the host's /proc/locks shows it.
waiter_is_blocked() {
    local inode
    inode=$(stat -c %i "$data/posix.dat" 2>/dev/null) || return 1
    grep -Eq -- "-> POSIX +ADVISORY +WRITE +[0-9]+ +[0-9a-f]+:[0-9a-f]+:$inode " /proc/locks
}

bring_up() {
    [[ -f $bundle/config.json && -d $bundle/rootfs ]] || die "$bundle is not a bundle (run build-rootfs.sh)"
    local status
    status=$(container_status)
    [[ -z $status ]] || die "container $name already exists ($status): run '$0 down $name $bundle' first"

    mkdir -p "$state_dir" "$data"
    rm -f "$data/ready" "$data/error.log" "$pid_file"
    # A container that never got ready is removed (set LOCKCR_KEEP_FAILED=1 to inspect it).
    [[ -n ${LOCKCR_KEEP_FAILED:-} ]] ||
        trap '"${runc_command[@]}" delete --force "$name" >/dev/null 2>&1 || true' EXIT
    # Detached, runc hands its own stdio to the container: /dev/null, never the caller's terminal
    # or pipes (CRIU cannot dump those, and a test's pipe would never see EOF).
    "${runc_command[@]}" --log "$log_file" run -d --pid-file "$pid_file" --bundle "$bundle" \
        "$name" </dev/null >/dev/null 2>&1 ||
        die "runc run $name failed: $(tail -n 1 "$log_file" 2>/dev/null)"

    local deadline=$((SECONDS + timeout_seconds))
    until [[ -e $data/ready ]] && waiter_is_blocked; do
        if [[ -s $data/error.log ]]; then
            die "lockholder failed: $(tail -n 1 "$data/error.log")"
        fi
        status=$(container_status)
        [[ $status == running ]] || die "container $name is ${status:-gone} before it was ready"
        ((SECONDS < deadline)) || die "container $name not ready after ${timeout_seconds} s"
        sleep 0.1
    done
    trap - EXIT
    echo "demo-container: $name running, init pid $(cat "$pid_file")"
}

bring_down() {
    if [[ -z $(container_status) ]]; then
        rm -f "$pid_file"
        echo "demo-container: $name does not exist"
        return
    fi
    # delete --force kills whatever state it is in (created, running, paused, stopped).
    "${runc_command[@]}" kill "$name" KILL >/dev/null 2>&1 || true
    "${runc_command[@]}" delete --force "$name" >/dev/null 2>&1 || true
    [[ -z $(container_status) ]] || die "runc could not delete $name"
    rm -f "$pid_file"
    echo "demo-container: $name deleted"
}

case $action in
    up) bring_up ;;
    down) bring_down ;;
    state) "${runc_command[@]}" state "$name" ;;
    *) die "unknown action '$action' (up, down or state)" ;;
esac
