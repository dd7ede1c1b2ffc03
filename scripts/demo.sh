#!/usr/bin/env bash
# The built-in demo: a real runc container whose workload holds every lock kind (POSIX, OFD,
# flock inherited across fork, a lease, a POSIX lock on an inherited fd, a multi-threaded holder)
# and has a process blocked in F_SETLKW; then `lockcr inspect` of it, and a lock image from
# `lockcr dump`. The container is removed on exit.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${LOCKCR_BUILD_DIR:-$repo/build}
name=lockcr-demo-$$
"$repo/scripts/build.sh"
"$repo/scripts/build-rootfs.sh" "$build/demo-bundle" "$build/workload" >/dev/null
trap '"$repo/scripts/demo-container.sh" down "$name" "$build/demo-bundle" >/dev/null 2>&1 || true' EXIT
"$repo/scripts/demo-container.sh" up "$name" "$build/demo-bundle" >/dev/null
echo "== runc container $name: lockcr inspect (OCI state on stdin)"
runc state "$name" | "$build/lockcr" inspect --state -
echo
echo "== lockcr dump (frozen while collecting) -> $build/demo-image.json"
runc state "$name" > "$build/demo-state.json"
"$build/lockcr" dump --state "$build/demo-state.json" -o "$build/demo-image.json"
/usr/bin/python3 "$repo/tests/schema_check.py" "$repo/schema/lock-image.schema.json" "$build/demo-image.json"
echo "image valid against schema/lock-image.schema.json; container status after dump: $(runc state "$name" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
