#!/usr/bin/env bash
# Removes what test runs that were killed (ctest's timeout sends SIGKILL) left behind: processes,
# runc containers, mounts, cgroups, files and directories whose name starts with lockcr-test-PID-,
# where PID is the process that made them (a container test script, the integration test binary).
# Only leftovers whose PID no longer exists are touched: other test runs, from other build
# directories, may be running on this machine at the same time, and theirs are alive. (A PID the
# kernel has given to another process meanwhile keeps its leftovers until a later sweep: too careful,
# never too eager.)
#
# Usage: tests/container/sweep.sh [BUILD_DIR...]
#   Looks in /tmp, /run/lockcr-demo and each BUILD_DIR for files and directories. Run by the ctest
#   fixtures container_sweep_setup and container_sweep_cleanup, and by every container test as it
#   starts (tests/container/common.sh). Prints one line per thing removed; exits 0 unless something
#   could not be removed.
set -uo pipefail

prefix=lockcr-test-
runc_bound=30
problems=0

# The owner PID in NAME (anything with lockcr-test-PID- in it), or nothing.
owner_of() {
    [[ $1 =~ $prefix([0-9]+)- ]] && echo "${BASH_REMATCH[1]}"
}
# NAME carries the prefix and its owner is gone.
abandoned() {
    local owner
    owner=$(owner_of "$1") || return 1
    [[ -n $owner && ! -e /proc/$owner ]]
}
removed() { echo "sweep: removed $*"; }
problem() { echo "sweep: could not remove $*" >&2; problems=$((problems + 1)); }

# 1. Processes working for a dead run: runc or CRIU still busy with (or hung on) one of its
#    containers or image directories. Killed first, or they would hold what follows.
for status in /proc/[0-9]*/cmdline; do
    pid=${status#/proc/}
    pid=${pid%/cmdline}
    [[ $pid == "$$" ]] && continue
    cmdline=$(tr '\0' ' ' 2>/dev/null <"$status") 2>/dev/null || continue  # gone meanwhile
    [[ $cmdline == *"$prefix"* ]] || continue
    owner=$(owner_of "$cmdline") || continue
    [[ -n $owner && ! -e /proc/$owner && $pid != "$owner" ]] || continue
    kill -KILL "$pid" 2>/dev/null && removed "process $pid ($cmdline)"
done

# 2. runc containers (runc's default root), killed and deleted whatever their state.
if command -v runc >/dev/null; then
    while read -r name; do
        abandoned "$name" || continue
        timeout -k 5 "$runc_bound" runc kill "$name" KILL >/dev/null 2>&1
        if timeout -k 5 "$runc_bound" runc delete --force "$name" >/dev/null 2>&1; then
            removed "container $name"
        else
            problem "container $name (runc delete --force $name)"
        fi
    done < <(timeout -k 5 "$runc_bound" runc list -q 2>/dev/null)
fi

# 3. Mounts under a dead run's directories, deepest first.
while read -r mount_point; do
    abandoned "$mount_point" || continue
    if umount -l "$mount_point" 2>/dev/null; then removed "mount $mount_point"; else problem "mount $mount_point"; fi
done < <(awk '{ print $5 }' /proc/self/mountinfo | grep -F "$prefix" | sort -r)

# 4. cgroups in every hierarchy (v1 controllers, the unified one), and those below them (podman's
#    libpod-ID and conmon under a test's cgroup parent), children before parents: thawed, emptied
#    with SIGKILL, removed.
sweep_cgroup() {
    local group=$1 task
    [[ -f $group/freezer.state ]] && echo THAWED >"$group/freezer.state" 2>/dev/null
    [[ -f $group/cgroup.freeze ]] && echo 0 >"$group/cgroup.freeze" 2>/dev/null
    for _ in $(seq 50); do
        while read -r task; do kill -KILL "$task" 2>/dev/null; done <"$group/cgroup.procs" 2>/dev/null
        rmdir "$group" 2>/dev/null && { removed "cgroup $group"; return; }
        sleep 0.1
    done
    problem "cgroup $group"
}
while read -r group; do
    abandoned "${group#/sys/fs/cgroup/}" && sweep_cgroup "$group"
done < <(find /sys/fs/cgroup -mindepth 1 -maxdepth 4 -type d -path "*/$prefix*" 2>/dev/null | sort -r)

# 5. Files and directories: work directories, bundles, image directories, runc logs.
for directory in /tmp /run/lockcr-demo "$@"; do
    [[ -d $directory ]] || continue
    for path in "$directory/$prefix"*; do
        [[ -e $path || -L $path ]] || continue
        abandoned "$(basename "$path")" || continue
        if rm -rf "$path" 2>/dev/null; then removed "$path"; else problem "$path"; fi
    done
done

exit $((problems > 0))
