#!/usr/bin/env bash
# -DLOCKCR_STATIC=ON gives one binary that runs on any distribution's libc: configures a second
# build tree (BUILD/static), builds only lockcr, and checks that `file` calls it statically linked,
# that it has no program interpreter, and that it runs: --version, and `setup` + `setup --check`
# under a temporary root (yaml-cpp, libcap-ng and the embedded example all linked in).
# Debian 12 has no static simdjson: scripts/build-simdjson-static.sh builds it from Debian's source
# package; without network access to the package mirror this test is skipped (exit 77).
#
# Usage: tests/static_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source=$1
build=$2/static
archive_dir=$2/simdjson-static
if [[ ! -f $archive_dir/libsimdjson.a ]] && ! "$source/scripts/build-simdjson-static.sh" "$archive_dir" >"$2/simdjson-static.log" 2>&1; then
    echo "static_test: skipped: could not build libsimdjson.a (see $2/simdjson-static.log)"
    exit 77
fi
cmake -S "$source" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOCKCR_STATIC=ON \
    -DLOCKCR_SIMDJSON_ARCHIVE="$archive_dir/libsimdjson.a" >/dev/null
cmake --build "$build" -j"$(nproc)" --target lockcr >/dev/null
binary=$build/lockcr
description=$(file -b "$binary")
echo "static_test: $description"
[[ $description == *"statically linked"* ]] || { echo "static_test: FAIL: not statically linked" >&2; exit 1; }
if readelf -l "$binary" | grep -q 'Requesting program interpreter'; then
    echo "static_test: FAIL: it names a program interpreter" >&2
    exit 1
fi
[[ $("$binary" --version) == lockcr* ]] || { echo "static_test: FAIL: --version" >&2; exit 1; }
root=$(mktemp -d /tmp/lockcr-test-static-XXXXXX)
trap 'rm -rf "$root"' EXIT
"$binary" setup --root "$root" --install-binary >/dev/null
# No criu on this check's PATH matters: the lines about the files and lockcr.yaml must be "ok:".
"$binary" setup --check --root "$root" --criu /bin/true >"$root/check" || true
grep -q "^ok: .*action-script /usr/sbin/lockcr" "$root/check" || { cat "$root/check" >&2; exit 1; }
grep -q "^ok: .*lockcr.yaml: valid" "$root/check" || { cat "$root/check" >&2; exit 1; }
echo "static_test: passed"
