#!/usr/bin/env bash
# Checkpoints a running runc container with CRIU and restores it at once, printing the locks on its
# data files (host /proc/locks) before and after: the baseline lockcr improves on.
#
# Usage: scripts/criu-roundtrip.sh NAME BUNDLE IMAGE_DIR [--file-locks]
#   NAME, BUNDLE  a running container and its bundle (scripts/demo-container.sh up NAME BUNDLE)
#   IMAGE_DIR     emptied, then holds the CRIU images and dump.log / restore.log
#   --file-locks  also pass --file-locks to the restore. The checkpoint always gets it: CRIU refuses
#                 to dump a process tree holding locks without it. Without it on restore, CRIU
#                 succeeds and every lock is gone.
# Environment: CRIU (default $LOCKCR_BUILD_DIR/criu/criu, LOCKCR_BUILD_DIR defaulting to
#   <repo>/build; make it with scripts/provision-criu.sh), RUNC (default runc), RUNC_ROOT.
# Exit status: 0 if checkpoint and restore both succeeded, whatever became of the locks.
set -euo pipefail

die() { echo "criu-roundtrip: $*" >&2; exit 1; }

[[ $# -eq 3 || ( $# -eq 4 && $4 == --file-locks ) ]] ||
    die "usage: criu-roundtrip.sh NAME BUNDLE IMAGE_DIR [--file-locks]"
[[ $(id -u) -eq 0 ]] || die "must run as root"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
name=$1 bundle=$2 images=$3
restore_options=()
[[ ${4:-} == --file-locks ]] && restore_options+=(--file-locks)
criu=${CRIU:-${LOCKCR_BUILD_DIR:-$repo/build}/criu/criu}
runc_command=("${RUNC:-runc}")
[[ -n ${RUNC_ROOT:-} ]] && runc_command+=(--root "$RUNC_ROOT")
pid_file=/run/lockcr-demo/$name.pid

[[ -x $criu ]] || die "no CRIU at $criu: run scripts/provision-criu.sh DIR and set CRIU=DIR/criu"
[[ -d $bundle/rootfs/data ]] || die "$bundle/rootfs/data does not exist"
status=$("${runc_command[@]}" state "$name" 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null) || true
[[ $status == running ]] || die "container $name is ${status:-not there}, not running"

# /proc/locks lines (waiters included) for the regular files in the container's data directory.
data_locks() {
    local inodes
    inodes=$(find "$bundle/rootfs/data" -maxdepth 1 -type f -printf '%i\n' | paste -sd '|')
    [[ -n $inodes ]] || return 0
    grep -E -- " [0-9a-f]+:[0-9a-f]+:($inodes) " /proc/locks || true
}

# The last error line of a CRIU log, for a one-line failure message.
criu_error() { grep -h 'Error' "$@" 2>/dev/null | tail -n 1; }

rm -rf "$images"
mkdir -p "$images" "$(dirname "$pid_file")"
images=$(cd "$images" && pwd)

echo "== before checkpoint"
data_locks

"${runc_command[@]}" --criu "$criu" checkpoint --file-locks --image-path "$images" "$name" ||
    die "checkpoint of $name failed: $(criu_error "$images/dump.log")"
echo "== after checkpoint (container gone)"
data_locks

# Detached: runc gives the restored tree its own stdio (/dev/null), not this script's.
if ! "${runc_command[@]}" --criu "$criu" restore -d "${restore_options[@]}" --image-path "$images" \
        --pid-file "$pid_file" --bundle "$bundle" "$name" </dev/null >"$images/runc-restore.out" 2>&1; then
    die "restore of $name failed: $(criu_error "$images/restore.log") $(tail -n 1 "$images/runc-restore.out")"
fi
# Restored tasks resume running: let a waiter block again before looking.
sleep 0.5
echo "== after restore${restore_options[*]:+ with ${restore_options[*]}} (init pid $(cat "$pid_file"))"
data_locks
if [[ -s $bundle/rootfs/data/events.log ]]; then
    echo "== workload events"
    cat "$bundle/rootfs/data/events.log"
fi
