#!/usr/bin/env bash
# bench/startup.sh [LOCKCR] [RUNS]: what `lockcr --version` costs over /bin/true, the start-up every
# CRIU action pays (CRIU 4.1 runs each action twice). Each side runs RUNS times (default 500) under
# `perf stat -r`, alternating in three rounds; the medians of the rounds are printed with the
# difference (issue 16's goal: at most +0.5 ms). perf's task-clock (CPU time) is printed beside the
# wall time: on a busy shared machine the CPU time is the steadier figure.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
lockcr=${1:-${LOCKCR_BUILD_DIR:-$repo/build}/lockcr}
runs=${2:-500}
command -v perf >/dev/null || { echo "startup: perf not found (apt-get install linux-perf)" >&2; exit 1; }
[[ -x $lockcr ]] || { echo "startup: no $lockcr (build first)" >&2; exit 1; }

# One round of RUNS runs of COMMAND: "WALL_MS CPU_MS".
round() {
    perf stat -x, -e task-clock -r "$runs" "$@" 2>&1 >/dev/null | awk -F, '
        /task-clock/ { cpu = $1 }
        END { printf "%.4f\n", cpu }' | tr -d '\n'
    local start end
    start=$(date +%s%N)
    for ((i = 0; i < runs; i++)); do "$@" >/dev/null; done
    end=$(date +%s%N)
    awk -v s="$start" -v e="$end" -v n="$runs" 'BEGIN { printf " %.4f\n", (e - s) / n / 1000000 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -a lockcr_cpu lockcr_wall true_cpu true_wall
for r in 1 2 3; do
    read -r cpu wall < <(round "$lockcr" --version)
    lockcr_cpu+=("$cpu"); lockcr_wall+=("$wall")
    read -r cpu wall < <(round /bin/true)
    true_cpu+=("$cpu"); true_wall+=("$wall")
done
lc=$(printf '%s\n' "${lockcr_cpu[@]}" | median); tc=$(printf '%s\n' "${true_cpu[@]}" | median)
lw=$(printf '%s\n' "${lockcr_wall[@]}" | median); tw=$(printf '%s\n' "${true_wall[@]}" | median)
echo "start-up ($runs runs x 3 rounds, medians): $lockcr --version vs /bin/true"
awk -v l="$lc" -v t="$tc" 'BEGIN { printf "  CPU (task-clock): %.3f ms vs %.3f ms: +%.3f ms (goal <= +0.5 ms)\n", l, t, l - t }'
awk -v l="$lw" -v t="$tw" 'BEGIN { printf "  wall (fork+exec loop): %.3f ms vs %.3f ms: +%.3f ms\n", l, t, l - t }'
echo "  shared libraries: $(ldd "$lockcr" | awk '/=>/ { print $1 }' | tr '\n' ' ')"
