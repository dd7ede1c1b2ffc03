# Sourced by the container tests (TEST LOCKCR BUILD_DIR): checks the arguments and sets repo,
# lockcr, build and python. A setup failure exits 2, distinct from a failed check (1).
die() { echo "FAIL: setup: $*"; exit 2; }

[[ $# -eq 2 ]] || die "usage: $(basename "$0") LOCKCR BUILD_DIR"
[[ $(id -u) -eq 0 ]] || die "must run as root"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
lockcr=$(readlink -f "$1")
build=$(cd "$2" && pwd)
[[ -x $lockcr ]] || die "$1 is not executable"
python=/usr/bin/python3  # Debian's, whatever python comes first in PATH

failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

wait_until() {  # SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# Everything a test makes is named $test_prefix-...: containers, their runc logs, cgroups, the work
# directory (bundle, images, logs; TMPDIR too, so scripts' temporary files land in it). The pid in
# the name lets tests/container/sweep.sh tell a dead run's leftovers from those of a run still going
# (several runs may share the machine). Sweep what killed runs left before making anything.
test_prefix=lockcr-test-$$
"$repo/tests/container/sweep.sh" "$build" || echo "WARNING: the sweep of dead test runs' leftovers left some (lines above)"
work=$(mktemp -d "$build/$test_prefix-$(basename "$0" .sh).XXXXXX")
export TMPDIR=$work

# Each runc or CRIU call runs under its own bound, far below ctest's TIMEOUT, so a hang fails its
# check at once and says where it hangs instead of the whole test being killed without a word.
call_seconds=${LOCKCR_TEST_CALL_SECONDS:-60}

# diagnose_hang LOG_DIR GROUP: the end of CRIU's logs in LOG_DIR and the state of the hung call's
# processes (process group GROUP: runc, CRIU) and of the container's tasks ($name, which the test
# sets): what each waits in (wchan) and its kernel stack.
# shellcheck disable=SC2154
diagnose_hang() {
    local logs=$1 group=$2 log init cgroup pid pids=()
    for log in "$logs/dump.log" "$logs/restore.log"; do
        [[ -n $logs && -s $log ]] || continue
        echo "  --- last 15 lines of $log"
        tail -n 15 "$log" | sed 's/^/  | /'
    done
    for pid in $(ps -e -o pid=,pgid= | awk -v group="$group" '$2 == group { print $1 }'); do pids+=("$pid"); done
    init=$(timeout 5 runc state "$name" 2>/dev/null | "$python" -c 'import json,sys; print(json.load(sys.stdin)["pid"])' 2>/dev/null) || init=
    if [[ -n $init && -r /proc/$init/cgroup ]]; then
        cgroup=/sys/fs/cgroup/freezer$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$init/cgroup")
        echo "  --- container $name: init host pid $init, freezer $(cat "$cgroup/freezer.state" 2>/dev/null)"
        while read -r pid; do pids+=("$pid"); done <"$cgroup/tasks"
    else
        echo "  --- container $name: no init pid (runc state: $(timeout 5 runc state "$name" 2>&1 | tail -n 1))"
    fi
    for pid in "${pids[@]}"; do
        [[ -r /proc/$pid/status ]] || continue
        echo "  --- pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)): $(grep -E '^(State|TracerPid):' "/proc/$pid/status" 2>/dev/null | tr -s '\t\n' '  ')wchan $(cat "/proc/$pid/wchan" 2>/dev/null)"
        head -n 12 "/proc/$pid/stack" 2>/dev/null | sed 's/^/  |   /'
    done
}

# bounded WHAT LOG_DIR COMMAND...: runs COMMAND (its stdio is the caller's) in its own process group
# under the bound; returns its exit status. If it is still running after $call_seconds s, prints the
# diagnosis, kills its whole process group, and the test fails at once (exit 1; the test's EXIT trap
# cleans up). LOG_DIR is where CRIU writes dump.log/restore.log ("" if none).
bounded() {
    local what=$1 logs=$2 pid status=0 expired=$work/.expired.$BASHPID.$RANDOM
    shift 2
    setsid "$@" 0<&0 &
    pid=$!
    # The watchdog is never signalled: a signal that reaches a subshell before it has reset the
    # test's traps runs them there (bash), and the test's EXIT trap would remove its own container
    # and work directory under its feet. It looks every second instead, and ends as soon as the
    # command is no longer this test's child (it ended and was reaped) or the test is gone (killed:
    # then it never signals anything).
    (
        for ((second = 0; second < call_seconds; second++)); do
            sleep 1
            [[ -e /proc/$$ && $(awk '{ print $4 }' "/proc/$pid/stat" 2>/dev/null) == "$$" ]] || exit 0
        done
        # Still running: say where it hangs, then kill its process group.
        diagnose_hang "$logs" "$pid" >"$expired.txt" 2>&1
        mv "$expired.txt" "$expired"
        kill -KILL -- "-$pid" 2>/dev/null
    ) </dev/null >/dev/null 2>&1 &
    wait "$pid" || status=$?
    if [[ -e $expired ]]; then
        fail "$what: still running after $call_seconds s: killed. Where it hung:"
        cat "$expired"
        echo "$(basename "$0"): stopped after $failures failure(s)"
        exit 1
    fi
    return "$status"
}

# Whether the machine's Debian mirrors answer at all (any HTTP answer counts, even an error status),
# through apt's proxy if it has one. Prints why not on stdout.
mirror_unreachable_reason() {
    local proxy=
    eval "$(apt-config shell proxy Acquire::http::Proxy)"
    http_proxy=${proxy:-${http_proxy:-}} "$python" - <<'PYTHON'
import glob, re, sys, urllib.error, urllib.request
uris = []
for name in glob.glob("/etc/apt/sources.list.d/*.sources"):  # deb822, Debian 12's default
    uris += [u for line in re.findall(r"^URIs:\s*(.+)$", open(name).read(), re.M) for u in line.split()]
for name in ["/etc/apt/sources.list"] + glob.glob("/etc/apt/sources.list.d/*.list"):  # one-line style
    try:
        uris += re.findall(r"^\s*deb(?:-src)?\s+(?:\[[^]]*\]\s+)?(\S+)", open(name).read(), re.M)
    except OSError:
        pass
reasons = []
for uri in uris:
    try:
        urllib.request.urlopen(urllib.request.Request(uri.rstrip("/") + "/dists/", method="HEAD"), timeout=20)
        sys.exit(1)
    except urllib.error.HTTPError:
        sys.exit(1)  # the server answered: reachable
    except Exception as error:  # DNS, connection, timeout
        reasons.append(f"{uri}: {getattr(error, 'reason', error)}")
print("; ".join(reasons) or "no URIs in /etc/apt/sources.list or sources.list.d")
PYTHON
}

# provision_criu_or_skip TEST LOG: a working CRIU >= 4 in $build/criu (scripts/provision-criu.sh:
# the one installed on the machine, or Debian 13's fetched from the machine's package mirror). The
# only reason to skip (exit 77, loudly) is that none can be had at all: none installed and the
# mirror unreachable (provision-criu.sh exits 3). A CRIU that is there but cannot dump, or any other
# provisioning failure, is a setup failure (exit 2). scripts/test.sh fails a CI run that skipped.
provision_criu_or_skip() {
    local test=$1 log=$2 reason status=0
    "$repo/scripts/provision-criu.sh" "$build/criu" >"$log" 2>&1 || status=$?
    [[ $status -eq 0 ]] && return 0
    if [[ $status -eq 3 ]] && reason=$(mirror_unreachable_reason); then
        echo "SKIP: ****************************************************************************"
        echo "SKIP: no CRIU >= 4 is installed and none could be provisioned: the package mirror"
        echo "SKIP: cannot be reached."
        echo "SKIP: provision-criu.sh: $(tail -n 1 "$log")"
        echo "SKIP: mirror: $reason"
        echo "SKIP: $test did NOT run: lockcr with CRIU is untested on this machine."
        echo "SKIP: ****************************************************************************"
        exit 77
    fi
    die "scripts/provision-criu.sh $build/criu failed (exit $status): $(tail -n 3 "$log" | tr '\n' ' ')"
}

# The last error line of CRIU's logs, for a one-line failure message.
criu_error() { grep -h 'Error' "$@" 2>/dev/null | tail -n 1; }

# The host pid of container $name's init (runc state).
container_init_pid() {
    timeout -k 5 "$call_seconds" runc state "$name" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["pid"])'
}

# Container pid -> host pid: the process in init's pid namespace whose last NSpid field is it.
host_pid_of() {
    local init=$1 container_pid=$2 namespace directory
    namespace=$(readlink "/proc/$init/ns/pid")
    for directory in /proc/[0-9]*; do
        [[ $(readlink "$directory/ns/pid" 2>/dev/null) == "$namespace" ]] || continue
        if awk -v pid="$container_pid" '/^NSpid:/ { found = ($NF == pid) } END { exit !found }' \
                "$directory/status" 2>/dev/null; then
            echo "${directory#/proc/}"
            return 0
        fi
    done
    return 1
}

# The test's demo container ($name, $bundle) and its log and pid files, gone; a warning, not a
# failure, when runc cannot remove it (the cleanup traps of every container test).
remove_demo_container() {
    timeout -k 5 "$call_seconds" "$repo/scripts/demo-container.sh" down "$name" "$bundle" >/dev/null 2>&1 ||
        echo "WARNING: could not remove container $name (runc delete --force $name)"
    rm -f "/run/lockcr-demo/$name.log" "/run/lockcr-demo/$name.pid"
}

# FILE rewritten in place with other bytes of the same size, its mtime put back: only a digest
# tells it changed (the filesystem stage's case for another host, or a careful intruder).
change_keeping_size_and_mtime() {  # FILE
    touch -r "$1" "$work/mtime"
    head -c "$(stat -c %s "$1")" /dev/zero | tr '\0' Y >"$1"
    touch -r "$work/mtime" "$1"
}

# --- runc tests of the lockholder container ($name, $bundle, ${runc_command[@]}, lock_table) ------

# runc restore -d of IMAGE_DIR, bounded; runc's output in IMAGE_DIR/restore.out.
restore() {  # IMAGE_DIR [FLAG...]: exit status in $status
    local images=$1
    shift
    status=0
    bounded "runc restore -d $* $name" "$images" "${runc_command[@]}" restore -d "$@" --image-path "$images" \
        --bundle "$bundle" "$name" </dev/null >"$images/restore.out" 2>&1 || status=$?
}

# The kernel's lock table now ($work/table-now.txt) against $work/table-before.txt.
same_table_as_before() {  # WHAT
    init_pid=$(container_init_pid)
    lock_table >"$work/table-now.txt"
    if cmp -s "$work/table-before.txt" "$work/table-now.txt"; then
        pass "kernel: $1: the lock table equals the one before the checkpoint (container pids)"
    else
        fail "kernel: $1: the lock table differs from the one before the checkpoint:"
        diff "$work/table-before.txt" "$work/table-now.txt" | sed 's/^/  /'
    fi
}
