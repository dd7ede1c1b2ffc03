#!/usr/bin/env bash
# The replay engine's per-architecture code for aarch64 (register layout, syscall restart
# fix-up, the injected lock loop) cannot run on this x86_64 machine, but it must always build:
# compile every source that has aarch64-specific paths with the cross compiler, to objects, so
# the file-scope assembly is assembled too.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
compiler=${AARCH64_CXX:-aarch64-linux-gnu-g++}
command -v "$compiler" >/dev/null || { echo "compile_aarch64: $compiler not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for source in hook/replay/inject_aarch64.cpp hook/replay/inject.cpp hook/replay/inject_image.cpp hook/replay/tracee.cpp \
              hook/util/ptrace.cpp hook/collect/waiters.cpp hook/replay/pending_calls.cpp; do
    "$compiler" -std=c++20 -O2 -Wall -Wextra -Werror -I "$repo/hook" -DLOCKCR_VERSION='"check"' \
        -c "$repo/$source" -o "$out/$(basename "$source").o"
    echo "compile_aarch64: $source ok"
done
