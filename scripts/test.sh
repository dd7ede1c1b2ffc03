#!/usr/bin/env bash
# Installs, builds and runs the whole test suite: unit tests (parsers on real samples and hostile
# input), integration tests (real processes holding real locks, checked against /proc/locks,
# fdinfo and F_GETLK) and container tests (a real runc container; CRIU 4.1 provisioned privately
# by scripts/provision-criu.sh); then the unit and integration tests again, built with ASan+UBSan
# into ${LOCKCR_SANITIZE_BUILD_DIR:-<repo>/build-asan}; then every fuzz target for a few seconds
# (scripts/fuzz.sh, clang, build-fuzz). Run as root. Arguments go to the first ctest.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${LOCKCR_BUILD_DIR:-$repo/build}
"$repo/scripts/build.sh"
cd "$build"
ctest --output-on-failure --timeout 900 "$@"

# The same unit and integration tests with ASan+UBSan: lockcr, its library and the tests are
# instrumented (the lock workloads are not: static, and the kernel's fixtures). A sanitizer report
# aborts the process that made it, which fails its test. detect_leaks stays on: LeakSanitizer works
# in a ptrace tracer (lockcr), not in a tracee, and no test traces an instrumented process.
asan_build=${LOCKCR_SANITIZE_BUILD_DIR:-$repo/build-asan}
cmake -S "$repo" -B "$asan_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOCKCR_SANITIZE=ON >/dev/null
cmake --build "$asan_build" -j"$(nproc)" --target lockcr unit_tests integration_tests lockagent lockholder >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd "$asan_build" && ctest --output-on-failure --timeout 900 -R '^(unit|integration|container_sweep_(setup|cleanup))$')

# Every parser's fuzz target for a few seconds from its seeds (the findings so far are regression
# samples in tests/samples/); scripts/fuzz.sh TARGET SECONDS runs one longer.
"$repo/scripts/fuzz.sh" all "${LOCKCR_FUZZ_SMOKE_SECONDS:-4}"
