#!/usr/bin/env bash
# checkpointctl's plugin contract (cmd/plugin.go in checkpoint-restore/checkpointctl), tested
# directly because checkpointctl is not packaged here: checkpointctl lists any executable
# `checkpointctl-NAME` on PATH, runs it with the single argument --plugin-description, and takes the
# first line of its standard output as the description only if it exits 42 (within 500 ms: the time
# is printed, not asserted; bench/plugin.sh measures it); `checkpointctl NAME ARGS...` then execs
# the plugin with ARGS. The plugin is a link named checkpointctl-locks to lockcr, as installed.
#
# Usage: tests/package/plugin_contract_test.sh LOCKCR
set -uo pipefail
lockcr=$(readlink -f "$1")
work=$(mktemp -d "/tmp/lockcr-test-$$-plugin.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

mkdir "$work/bin"
ln -s "$lockcr" "$work/bin/checkpointctl-locks"

# As checkpointctl does it: found on PATH, absolute path, only --plugin-description, no stdin.
start=$(date +%s%N)
output=$(PATH=$work/bin:$PATH checkpointctl-locks --plugin-description </dev/null 2>"$work/err")
status=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
echo "checkpointctl-locks --plugin-description: exit $status in $elapsed_ms ms (checkpointctl waits 500 ms)"
[[ $status -eq 42 ]] && pass "--plugin-description exits 42" || fail "--plugin-description exits $status: $(cat "$work/err")"
first_line=$(head -n 1 <<<"$output")
[[ -n $first_line && $first_line == *lock* && $(wc -l <<<"$output") -eq 1 ]] &&
    pass "one description line: \"$first_line\"" || fail "description: \"$output\""
[[ ! -s $work/err ]] && pass "nothing on stderr" || fail "stderr: $(cat "$work/err")"

# lockcr itself under its own name is not the plugin: --plugin-description is no lockcr option.
status=0
"$lockcr" --plugin-description >/dev/null 2>&1 || status=$?
[[ $status -eq 2 ]] && pass "lockcr under its own name refuses --plugin-description (exit 2)" ||
    fail "lockcr --plugin-description: exit $status"

# `checkpointctl locks ARGS` execs the plugin with ARGS: lockcr show's behaviour.
status=0
"$work/bin/checkpointctl-locks" --help >"$work/help" 2>&1 || status=$?
[[ $status -eq 0 ]] && grep -q -- "--json" "$work/help" && pass "checkpointctl-locks --help: lockcr show's options" ||
    fail "checkpointctl-locks --help: exit $status $(head -n 3 "$work/help")"
status=0
"$work/bin/checkpointctl-locks" >/dev/null 2>"$work/err" || status=$?
[[ $status -eq 2 ]] && grep -q "checkpoint" "$work/err" && pass "no checkpoint given: exit 2 saying so" ||
    fail "checkpointctl-locks without arguments: exit $status $(cat "$work/err")"
status=0
"$work/bin/checkpointctl-locks" "$work/absent.tar" >/dev/null 2>"$work/err" || status=$?
[[ $status -ne 0 ]] && grep -q "absent.tar" "$work/err" && pass "a missing archive: exit $status naming it" ||
    fail "missing archive: exit $status $(cat "$work/err")"

echo "plugin_contract_test: $failures failure(s)"
[[ $failures -eq 0 ]]
