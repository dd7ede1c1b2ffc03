#!/usr/bin/env bash
# lockcr-static runs on any distribution's libc (the binary the Kubernetes DaemonSet copies onto
# nodes): `file` calls it statically linked, it names no program interpreter, and it runs:
# --version, and `setup` + `setup --check` under a temporary root (yaml-cpp, libcap-ng and the
# embedded example all linked in). scripts/build.sh builds it; a build without it fails here.
#
# Usage: tests/static_test.sh BUILD_DIR
set -euo pipefail
binary=$1/lockcr-static
[[ -x $binary ]] || {
    echo "static_test: FAIL: no $binary (scripts/build.sh could not make a static simdjson: see $1.simdjson-static.log)"
    exit 1
}
description=$(file -b "$binary")
echo "static_test: $description"
[[ $description == *"statically linked"* ]] || { echo "static_test: FAIL: not statically linked" >&2; exit 1; }
if readelf -l "$binary" | grep -q 'Requesting program interpreter'; then
    echo "static_test: FAIL: it names a program interpreter" >&2
    exit 1
fi
[[ $("$binary" --version) == lockcr* ]] || { echo "static_test: FAIL: --version" >&2; exit 1; }
root=$(mktemp -d /tmp/lockcr-test-$$-static-XXXXXX)
trap 'rm -rf "$root"' EXIT
"$binary" setup --root "$root" --install-binary >/dev/null
# No criu on this check's PATH matters: the lines about the files and lockcr.yaml must be "ok:".
"$binary" setup --check --root "$root" --criu /bin/true >"$root/check" || true
grep -q "^ok: .*action-script /usr/sbin/lockcr" "$root/check" || { cat "$root/check" >&2; exit 1; }
grep -q "^ok: .*lockcr.yaml: valid" "$root/check" || { cat "$root/check" >&2; exit 1; }
echo "static_test: passed"
