#!/usr/bin/env bash
# How long checkpointctl-locks takes to answer --plugin-description (checkpointctl gives a plugin
# 500 ms, on every `checkpointctl plugin list` and every help), beside `true` started the same way:
# the median of N runs, in milliseconds. Nothing is asserted.
#
# Usage: bench/plugin.sh [LOCKCR [RUNS]]   (default BUILD/lockcr, 51 runs)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
lockcr=$(readlink -f "${1:-${LOCKCR_BUILD_DIR:-$repo/build}/lockcr}")
runs=${2:-51}
work=$(mktemp -d /tmp/lockcr-bench-plugin.XXXXXX)
trap 'rm -rf "$work"' EXIT
ln -s "$lockcr" "$work/checkpointctl-locks"
python3 - "$work/checkpointctl-locks" "$runs" <<'PYTHON'
import statistics, subprocess, sys, time
plugin, runs = sys.argv[1], int(sys.argv[2])
def median_ms(command, expected):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        status = subprocess.run(command, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL).returncode
        times.append((time.perf_counter() - start) * 1000)
        if status != expected:
            sys.exit(f"{command}: exit {status}, expected {expected}")
    return statistics.median(times), max(times)
plugin_median, plugin_max = median_ms([plugin, "--plugin-description"], 42)
true_median, _ = median_ms(["/bin/true"], 0)
print(f"checkpointctl-locks --plugin-description: median {plugin_median:.1f} ms, max {plugin_max:.1f} ms "
      f"over {runs} runs (checkpointctl's limit 500 ms); /bin/true: median {true_median:.1f} ms")
PYTHON
