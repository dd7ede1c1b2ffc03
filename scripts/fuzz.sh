#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan; fuzz/*_fuzz.cpp) into ${LOCKCR_FUZZ_BUILD_DIR:-<repo>/build-fuzz}
# and runs one target, or all, for SECONDS each. The corpus of a target starts from the samples in
# tests/samples/ that are its kind of input and grows in BUILD/fuzz/corpus/TARGET across runs.
# A crash, a leak, a sanitizer report or a violated property stops the target and fails the script;
# libFuzzer leaves the input as BUILD/fuzz/artifacts/TARGET/crash-* (replay it: BUILD/fuzz/TARGET FILE).
#
# Usage: scripts/fuzz.sh TARGET|all SECONDS [libFuzzer options...]
#        scripts/fuzz.sh --list
# Example: scripts/fuzz.sh lock_image 600 -jobs=2 -workers=2
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${LOCKCR_FUZZ_BUILD_DIR:-$repo/build-fuzz}

# Each target's seeds: globs under tests/samples/.
declare -A seeds=(
    [lock_image_fuzz]="lock_image*.json"
    [oci_state_fuzz]="runc_state*.json oci_state*.json"
    [proc_locks_fuzz]="proc_locks*.txt"
    [fdinfo_fuzz]="fdinfo*.txt"
    [proc_status_fuzz]="status*.txt"
    [cgroup_fuzz]="cgroup*.txt"
    [criu_environment_fuzz]="criu_environ*.bin"
    [checkpoint_record_fuzz]="checkpoint_record*.json"
    [registration_fuzz]="registration*.json"
    [config_fuzz]="config*.yaml"
    [proc_stat_fuzz]="proc_stat*.txt"
    [mountinfo_fuzz]="mountinfo*.txt"
    [snapshot_record_fuzz]="snapshot_record*.json"
)
targets=$(printf '%s\n' "${!seeds[@]}" | sed 's/_fuzz$//' | sort)

if [[ ${1:-} == --list ]]; then
    echo "$targets"
    exit 0
fi
if [[ $# -lt 2 || ! $2 =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/fuzz.sh TARGET|all SECONDS [libFuzzer options...]; targets: $(echo $targets)" >&2
    exit 2
fi
which=$1
seconds=$2
shift 2
if [[ $which == all ]]; then
    run=$targets
elif [[ -n ${seeds[${which%_fuzz}_fuzz]:-} ]]; then
    run=${which%_fuzz}
else
    echo "fuzz: no target $which; targets: $(echo $targets)" >&2
    exit 2
fi

command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
# -O1: the targets are built in CI too, and an optimised build finds no more than this one.
CC=clang CXX=clang++ cmake -S "$repo" -B "$build" -DLOCKCR_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" >/dev/null
cmake --build "$build" --target fuzz_targets -j"$(nproc)" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for target in $run; do
    corpus=$build/fuzz/corpus/$target
    artifacts=$build/fuzz/artifacts/$target
    mkdir -p "$corpus" "$artifacts"
    for pattern in ${seeds[${target}_fuzz]}; do
        for sample in "$repo"/tests/samples/$pattern; do
            [[ -e $sample ]] && cp -n "$sample" "$corpus/"
        done
    done
    echo "fuzz: $target for ${seconds}s (corpus $(ls "$corpus" | wc -l) inputs)"
    dictionary=()
    [[ ${seeds[${target}_fuzz]} == *.json* ]] && dictionary=(-dict="$repo/fuzz/json.dict")
    log=$build/fuzz/$target.log
    # -max_len: every input lockcr reads whole is bounded far above this; larger inputs only slow it.
    if "$build/fuzz/${target}_fuzz" "$corpus" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
        -rss_limit_mb=2048 "${dictionary[@]}" -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" >"$log" 2>&1; then
        grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -1 | sed "s/^/fuzz: $target: /"
    else
        status=1
        echo "fuzz: $target: FAILED (log $log):"
        grep -E 'ERROR|SUMMARY|property violated|non-lockcr exception|Test unit written' "$log" | head -20 | sed 's/^/  /'
    fi
done
exit "$status"
