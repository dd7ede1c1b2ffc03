#!/usr/bin/env bash
# Installs, builds and runs the whole test suite: unit tests (parsers on real samples and hostile
# input), integration tests (real processes holding real locks, checked against /proc/locks,
# fdinfo and F_GETLK) and container tests (a real runc container; CRIU 4.1 provisioned privately
# by scripts/provision-criu.sh). Run as root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${LOCKCR_BUILD_DIR:-$repo/build}
"$repo/scripts/build.sh"
cd "$build"
ctest --output-on-failure --timeout 900 "$@"
