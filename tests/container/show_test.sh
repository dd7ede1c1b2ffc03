#!/usr/bin/env bash
# Container test: `lockcr show` and `checkpointctl-locks` on a real checkpoint. The demo container
# (lockholder: every lock kind, locks children took on inherited fds, a blocked waiter) is
# checkpointed by runc + CRIU 4.1 with --file-locks and lockcr as CRIU's action script (through the
# container's org.criu.config, never /etc/criu). Then, for the image directory and for archives laid
# out as podman --export and CRI-O/kubelet write them (checkpoint/ beside config.dump; plain tar,
# gzip, zstd):
#   - the lock table shows every lock the kernel showed before the checkpoint;
#   - CRIU's filelocks.img is decoded (every entry read, none unknown) and the comparison names
#     exactly the POSIX locks the children took on inherited fds ([100,149] and [150,199], which
#     CRIU drops: discard_dup_locks_tail) as only in lockcr's record, with nothing only in CRIU's;
#   - --json gives the same lock image as the file, whatever the container of the checkpoint;
#   - checkpointctl-locks (a link to lockcr) answers the same.
# Leaves the images in BUILD_DIR/show-sample/ when LOCKCR_KEEP_SAMPLE is set (tests/samples/ was
# made so).
#
# Usage: tests/container/show_test.sh LOCKCR BUILD_DIR (see criu_test.sh for the conventions:
# exit 0 passed, 1 a check failed, 2 setup failed, 77 no CRIU to be had).
set -euo pipefail

# shellcheck source=tests/container/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bundle=$work/bundle
criu=$build/criu/criu
name=$test_prefix-show
run_dir=$work/run

cleanup() {
    remove_demo_container
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

export LOCKCR_CONFIG=$work/lockcr.yaml LOCKCR_RUN_DIR=$run_dir
printf 'log-file: %s\nsyslog: false\n' "$work/lockcr.log" >"$LOCKCR_CONFIG"
lock_table() { "$python" "$repo/tests/container/lock_table.py" "$bundle/rootfs/data" "$init_pid"; }

# --- Setup --------------------------------------------------------------------------------------
provision_criu_or_skip show_test "$work/provision.log"
"$repo/scripts/build-rootfs.sh" "$bundle" "$build/workload" >"$work/build-rootfs.log" 2>&1 ||
    die "build-rootfs.sh: $(tail -n 1 "$work/build-rootfs.log")"
printf 'action-script %s\nfile-validation filesize\n' "$lockcr" >"$work/criu.conf"
"$python" - "$bundle/config.json" "$work/criu.conf" <<'PYTHON'
import json, sys
path, criu_config = sys.argv[1:3]
spec = json.load(open(path))
spec.setdefault("annotations", {}).update({"org.criu.config": criu_config, "io.lockcr.conflict-wait": "20"})
json.dump(spec, open(path, "w"), indent=2)
PYTHON
bounded "demo-container.sh up $name" "" "$repo/scripts/demo-container.sh" up "$name" "$bundle" >"$work/up.log" 2>&1 ||
    die "demo-container.sh up: $(tail -n 1 "$work/up.log")"
init_pid=$(container_init_pid)
lock_table >"$work/table-before.txt"
[[ $(wc -l <"$work/table-before.txt") -eq 8 ]] || die "lockholder does not hold its 7 locks and 1 waiter"

images=$work/images
mkdir -p "$images"
bounded "runc checkpoint --file-locks $name" "$images" \
    runc --criu "$criu" checkpoint --file-locks --image-path "$images" "$name" >"$work/checkpoint.out" 2>&1 ||
    die "runc checkpoint: $(criu_error "$images/dump.log") $(tail -n 1 "$work/checkpoint.out")"
for file in lockcr.locks.json lockcr.checkpoint.json filelocks.img inventory.img; do
    [[ -s $images/$file ]] || die "the checkpoint has no $file"
done
if [[ -n ${LOCKCR_KEEP_SAMPLE:-} ]]; then
    rm -rf "$build/show-sample" && mkdir -p "$build/show-sample"
    cp "$images"/{lockcr.locks.json,lockcr.checkpoint.json,filelocks.img} "$build/show-sample/"
    cp "$work/table-before.txt" "$build/show-sample/"
fi

# Archives as the engines write them: checkpoint/ holds the CRIU images, config.dump beside it.
layout=$work/layout
mkdir -p "$layout"
cp -a "$images" "$layout/checkpoint"
printf '{"id": "0123456789ab", "name": "%s", "rootfsImageName": "local/lockholder"}\n' "$name" >"$layout/config.dump"
echo '{}' >"$layout/spec.dump"
tar -C "$layout" -cf "$work/export.tar" .
tar -C "$layout" --zstd -cf "$work/export.tar.zst" checkpoint config.dump spec.dump
tar -C "$layout" -czf "$work/kubelet-checkpoint.tar" checkpoint config.dump spec.dump  # gzip, named .tar

# --- Checks -------------------------------------------------------------------------------------
# check_show LABEL SOURCE [COMMAND...]: the text and JSON of one source against the kernel's table
# before the checkpoint and the lock image in the image directory.
check_show() {
    local label=$1 source=$2 status=0
    shift 2
    local command=("$@")
    [[ ${#command[@]} -gt 0 ]] || command=("$lockcr" show)
    "${command[@]}" "$source" >"$work/show.txt" 2>"$work/show.err" || status=$?
    "${command[@]}" "$source" --json >"$work/show.json" 2>>"$work/show.err" || status=$?
    if [[ $status -ne 0 ]]; then
        fail "$label: exit $status: $(head -c 300 "$work/show.err")"
        return
    fi
    if "$python" - "$work/show.json" "$images/lockcr.locks.json" "$work/table-before.txt" "$work/show.txt" <<'PYTHON'
import json, re, sys
show = json.load(open(sys.argv[1]))
image = json.load(open(sys.argv[2]))
before = open(sys.argv[3]).read().splitlines()
text = open(sys.argv[4]).read()
problems = []
if show["lock_image"] != image:
    problems.append("--json lock_image differs from lockcr.locks.json")
criu = show["criu_file_locks"] or []
if not criu or any(lock["kind"] is None or lock["type"] is None for lock in criu):
    problems.append(f"CRIU's entries not all decoded: {criu}")
comparison = show["comparison"]
only = sorted((l["kind"], l["start"], l["end"], l["path"]) for l in comparison["only_lockcr"])
if only != [("posix", 100, 149, "/data/posix.dat"), ("posix", 150, 199, "/data/posix.dat")]:
    problems.append(f"only in lockcr's record: {only}, expected the two inherited-fd POSIX locks")
if comparison["only_criu"] or comparison["matched"] != len(criu):
    problems.append(f"CRIU entries not all matched: {comparison['matched']} of {len(criu)}, only CRIU {comparison['only_criu']}")
if comparison["waiters_only_lockcr"] != 1:
    problems.append("the waiter is not counted")
# Every lock and the waiter the kernel showed before the checkpoint is in the text table: each
# (kind, mode, start, end) of a /proc/locks line.
for line in before:
    m = re.match(r"(-> )?(\w+) \w+ (\w+) \[(\d+),(\w+)\] (\S+)", line)
    kind, mode, start, end, path = m.group(2), m.group(3), m.group(4), m.group(5), m.group(6)
    kind = {"OFDLCK": "OFDLCK", "DELEG": "LEASE"}.get(kind, kind)
    pattern = rf"\b{kind}\S* +{mode}\*? +{start} +{end} +{re.escape(path)}"
    if not re.search(pattern, text):
        problems.append(f"no table row for {line!r}")
for needle in ["lockcr's record (lockcr.locks.json)", "CRIU's record (filelocks.img)", "only in lockcr's record (2)"]:
    if needle not in text:
        problems.append(f"text lacks {needle!r}")
if problems:
    print("; ".join(problems))
    sys.exit(1)
PYTHON
    then
        pass "$label: every lock and the waiter, CRIU's $(grep -c '"flag"' "$work/show.json") entries decoded, the 2 inherited-fd POSIX locks named as dropped by CRIU"
    else
        fail "$label: $(tail -n 1 "$work/show.err")"
        sed 's/^/    /' "$work/show.txt" | head -60
    fi
}

echo "== lockcr show"
check_show "CRIU image directory" "$images"
check_show "unpacked archive directory (checkpoint/ inside)" "$layout"
check_show "podman --export layout, plain tar" "$work/export.tar"
check_show "podman --export layout, zstd" "$work/export.tar.zst"
check_show "CRI-O/kubelet layout, gzip" "$work/kubelet-checkpoint.tar"
format=$("$lockcr" show "$work/export.tar.zst" --json | "$python" -c 'import json,sys; d=json.load(sys.stdin); print(d["format"], d["container"]["name"])')
[[ $format == "tar+zstd $name" ]] && pass "the archive's format (tar+zstd) and the engine's container name are shown" ||
    fail "format and name: $format"

echo "== checkpointctl-locks"
ln -s "$lockcr" "$work/checkpointctl-locks"
check_show "checkpointctl-locks (a link to lockcr)" "$work/export.tar.zst" "$work/checkpointctl-locks"

echo "== refusals"
printf 'not an archive' >"$work/junk.tar"
status=0
"$lockcr" show "$work/junk.tar" >/dev/null 2>"$work/junk.err" || status=$?
[[ $status -eq 2 ]] && grep -q "junk.tar" "$work/junk.err" && pass "a file that is no archive: exit 2 naming it" ||
    fail "junk archive: exit $status, $(cat "$work/junk.err")"
cp -a "$images" "$work/damaged"
head -c 13 "$images/filelocks.img" >"$work/damaged/filelocks.img"
status=0
"$lockcr" show "$work/damaged" >/dev/null 2>"$work/damaged.err" || status=$?
[[ $status -eq 2 ]] && grep -q "filelocks.img" "$work/damaged.err" && pass "a cut filelocks.img: exit 2 naming it" ||
    fail "cut filelocks.img: exit $status, $(cat "$work/damaged.err")"

echo "show_test: $failures failure(s)"
[[ $failures -eq 0 ]]
