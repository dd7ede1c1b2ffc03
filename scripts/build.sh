#!/usr/bin/env bash
# Installs the Debian packages lockcr needs and builds it (binary, tests, workloads) into
# ${LOCKCR_BUILD_DIR:-<repo>/build}. Idempotent; run as root on Debian 12.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${LOCKCR_BUILD_DIR:-$repo/build}
"$repo/scripts/install-deps.sh"
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
echo "build: $build/lockcr"
