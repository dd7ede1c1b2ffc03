#!/usr/bin/env bash
# Installs the Debian packages lockcr needs and builds it (binary, tests, workloads) into
# ${LOCKCR_BUILD_DIR:-<repo>/build}. Idempotent; run as root on Debian 12.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${LOCKCR_BUILD_DIR:-$repo/build}
"$repo/scripts/install-deps.sh"
# lockcr-static needs a static simdjson, which Debian 12 does not ship: made once from Debian's own
# source package (nothing installed system-wide). Without it lockcr-static is not built, and the
# static_binary test fails saying so.
simdjson_archive=$build/simdjson-static/libsimdjson.a
if [[ ! -f $simdjson_archive ]] && ! "$repo/scripts/build-simdjson-static.sh" "$build/simdjson-static" \
        >"$build.simdjson-static.log" 2>&1; then
    echo "build: WARNING: no static simdjson, so no lockcr-static: $(tail -n 1 "$build.simdjson-static.log")" >&2
fi
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOCKCR_SIMDJSON_ARCHIVE="$simdjson_archive" >/dev/null
cmake --build "$build" -j"$(nproc)"
echo "build: $build/lockcr"
