#!/usr/bin/env bash
# Provides a working CRIU 4.x in a private directory, without installing anything system-wide.
#
# Usage: scripts/provision-criu.sh DEST_DIR
#   Afterwards DEST_DIR/criu is a wrapper that runs a CRIU >= 4: `runc --criu DEST_DIR/criu
#   checkpoint ...`, or put DEST_DIR first in PATH for podman. It is either a CRIU already installed
#   on the machine (`criu` in PATH, version >= 4) or, when there is none, Debian 13's criu with
#   Debian 13's own libc, unpacked into DEST_DIR/root.
#   Before a wrapper is used it must dump a process (a `sleep`) within 30 s: a CRIU that cannot dump
#   is a failure (exit 1), never a reason to skip. Running it again does nothing once DEST_DIR/criu
#   is a wrapper of this version that passed that test; exits 3 when there is no CRIU to be had
#   (none installed, and the packages cannot be fetched: the tests skip then, and only then); a wrapper of an older version is rewritten
#   (and tested again), keeping the unpacked tree.
#
# The wrapper exports CRIU_FAULT=130 unless the caller set CRIU_FAULT: CRIU's fault-injection code
# FI_NO_BREAKPOINTS, which makes CRIU follow its parasite by stepping over system calls instead of
# stopping it with a hardware breakpoint. In a VM that delivers no hardware breakpoints (debug
# registers), CRIU 4.1 otherwise waits forever at the end of every dump (dump.log ends with
# "Daemon N exited trapping"). It is set always, not probed: it is correct on real hardware too,
# only somewhat slower, and one behaviour everywhere is easier to reason about than a probe's guess.
#
# Why Debian 13's: Debian 12's criu 3.17 fails on kernels >= 6.13 ("Unexpected rt vDSO area
# bounds"). The .debs of Debian 13's criu, libcompel1, libc6 and their library dependencies are
# fetched with `apt-get download` through a temporary sources list whose URIs are copied from this
# machine's own apt sources (suite set to the next release), with private lists and cache
# directories: the system's apt state is never read for sources nor written. CRIU also needs
# iptables (installed by install-deps.sh) for network namespaces.
set -euo pipefail

die() { echo "provision-criu: $*" >&2; exit 1; }
# No CRIU to be had: none installed, and the packages cannot be fetched.
unobtainable() { echo "provision-criu: no CRIU >= 4 installed, and $*" >&2; exit 3; }

[[ $# -eq 1 ]] || die "usage: provision-criu.sh DEST_DIR"
[[ $(id -u) -eq 0 ]] || die "must run as root"
target_release=${LOCKCR_CRIU_RELEASE:-trixie}
machine_sources=/etc/apt/sources.list.d/debian.sources
mkdir -p "$1"
dest=$(cd "$1" && pwd)
wrapper=$dest/criu
# Written into every wrapper; a wrapper without this exact line is from an older provisioning and
# is replaced. Raise the number whenever what the wrapper does changes.
wrapper_marker="# lockcr-criu-wrapper 2: CRIU_FAULT=130 (FI_NO_BREAKPOINTS) unless set"
dump_test_seconds=30

# dump_test CRIU: CRIU dumps a sleeping process within $dump_test_seconds s (and kills it, as a dump
# without --leave-running does). On failure prints why, with the end of dump.log.
dump_test() {
    local criu=$1 scratch sleeper status=0
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/lockcr-criu-dump-test.XXXXXX")
    # Its own session, stdio on /dev/null: nothing CRIU would refuse to dump (a tty, a pipe).
    setsid sleep 1000 </dev/null >/dev/null 2>&1 &
    sleeper=$!
    timeout -k 5 "$dump_test_seconds" "$criu" dump -t "$sleeper" -D "$scratch" -o dump.log \
        </dev/null >"$scratch/out" 2>&1 || status=$?
    kill -KILL "$sleeper" 2>/dev/null || true
    wait "$sleeper" 2>/dev/null || true
    if [[ $status -ne 0 ]]; then
        if [[ $status -eq 124 || $status -eq 137 ]]; then
            echo "$criu dump of a sleep process did not end within $dump_test_seconds s (killed)"
        else
            echo "$criu dump of a sleep process failed (exit $status): $(tail -n 1 "$scratch/out")"
        fi
        echo "last lines of dump.log:"
        tail -n 5 "$scratch/dump.log" 2>/dev/null | sed 's/^/  /'
    fi
    rm -rf "$scratch"
    return "$status"
}

# The major version of CRIU at PATH (0 if it does not run).
criu_major() {
    "$@" --version 2>/dev/null | awk '/^Version:/ { split($2, v, "."); print v[1] + 0; found = 1 }
        END { if (!found) print 0 }'
}

# install_wrapper EXEC_LINE DESCRIPTION: writes DEST/criu (through .new, renamed once it dumps).
install_wrapper() {
    local exec_line=$1 description=$2 why
    {
        echo '#!/bin/sh'
        echo "# $description (scripts/provision-criu.sh)."
        echo "$wrapper_marker"
        # shellcheck disable=SC2016  # written for the wrapper to expand
        echo ': "${CRIU_FAULT:=130}"'
        echo 'export CRIU_FAULT'
        echo "$exec_line"
    } >"$wrapper.new"
    chmod 0755 "$wrapper.new"
    [[ $(criu_major "$wrapper.new") -ge 4 ]] ||
        die "$wrapper.new --version: $("$wrapper.new" --version 2>&1 | head -n 1)"
    why=$(dump_test "$wrapper.new") || die "$why"
    mv -f "$wrapper.new" "$wrapper"
    echo "provision-criu: $wrapper ready ($description): $("$wrapper" --version | head -n 1)"
}

# The wrapper's exec line for the tree unpacked in DEST/root. The wrapper finds the tree relative to
# itself, so DEST_DIR can move. Only the loader gets the private library path: programs criu starts
# (iptables, ip) run with the host's libraries.
tree_exec_line() {
    local loader directory library_dirs=()
    # The dynamic loader as a real file (the package's lib64 link may be absolute, i.e. the host's).
    loader=$(find "$dest/root" -name 'ld-linux-x86-64.so.2' -type f -print -quit)
    [[ -n $loader ]] || die "$dest/root has no ld-linux-x86-64.so.2 (libc6 for $target_release)"
    for directory in usr/lib/x86_64-linux-gnu lib/x86_64-linux-gnu usr/lib lib; do
        [[ -d $dest/root/$directory && ! -L $dest/root/$directory ]] && library_dirs+=("$directory")
    done
    # shellcheck disable=SC2016  # written for the wrapper to expand
    printf '%s; ' 'here=$(dirname "$(readlink -f "$0")")/root'
    printf 'libs='
    (IFS=:; printf '%s' "${library_dirs[*]/#/\$here/}")
    printf '; '
    echo "exec \"\$here/${loader#"$dest/root/"}\" --library-path \"\$libs\" \"\$here/usr/sbin/criu\" \"\$@\""
}

if [[ -x $wrapper ]] && grep -qxF "$wrapper_marker" "$wrapper" && [[ $(criu_major "$wrapper") -ge 4 ]]; then
    echo "provision-criu: $wrapper already works: $("$wrapper" --version | head -n 1)"
    exit 0
fi

# The unpacked tree of an earlier provisioning: only the wrapper is out of date.
if [[ -x $dest/root/usr/sbin/criu ]]; then
    echo "provision-criu: $wrapper is from an older provisioning: rewriting it"
    install_wrapper "$(tree_exec_line)" "CRIU from Debian $target_release with its own libc"
    exit 0
fi

# A CRIU >= 4 already installed (Debian 12's 3.17 does not count: it fails on kernels >= 6.13).
if installed=$(command -v criu) && [[ $(criu_major "$installed") -ge 4 ]]; then
    echo "provision-criu: using the installed $installed"
    install_wrapper "exec \"$installed\" \"\$@\"" "the installed $installed"
    exit 0
fi

for tool in apt-get apt-cache dpkg-deb /usr/bin/python3; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -r $machine_sources ]] || unobtainable "cannot read $machine_sources (the URIs are taken from it)"
# shellcheck disable=SC1091  # the machine's own file, read at run time
. /etc/os-release
current_release=${VERSION_CODENAME:?/etc/os-release has no VERSION_CODENAME}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"

# The machine's deb822 stanzas with every suite renamed: bookworm -> trixie, bookworm-security ->
# trixie-security... Same URIs, components and keyring: no host name is written anywhere.
/usr/bin/python3 - "$machine_sources" "$current_release" "$target_release" \
    >"$work/target.list" <<'EOF'
import re, sys
sources, current, target = sys.argv[1:4]
for stanza in re.split(r"\n\s*\n", open(sources).read()):
    fields = {}
    for line in stanza.splitlines():
        if line.lstrip().startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        fields[key.strip().lower()] = value.strip()
    if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
        continue
    options = f" [signed-by={fields['signed-by']}]" if fields.get("signed-by", "").startswith("/") else ""
    for uri in fields.get("uris", "").split():
        for suite in fields.get("suites", "").split():
            if suite == current or suite.startswith(current + "-"):
                suite = target + suite[len(current):]
            print(f"deb{options} {uri} {suite} {fields.get('components', 'main')}")
EOF
[[ -s $work/target.list ]] || unobtainable "no 'deb' source found in $machine_sources"

apt_options=(
    -o "Dir::Etc::SourceList=$work/target.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
    # The private directories are root's: no privilege drop to _apt for downloads.
    -o "APT::Sandbox::User=root" -o "Debug::NoLocking=true"
)

echo "provision-criu: reading the $target_release package lists"
apt-get "${apt_options[@]}" -q update </dev/null >"$work/update.log" 2>&1 ||
    unobtainable "apt-get update for $target_release failed: $(grep -E '^(E|W):' "$work/update.log" | head -n 1)"

# criu plus the closure of its library dependencies (packages named lib*: tools such as iproute2
# or python3 are the host's). A "|" alternative takes its first choice.
direct_dependencies() {
    apt-cache "${apt_options[@]}" depends --no-recommends --no-suggests --no-conflicts \
        --no-breaks --no-replaces --no-enhances "$1" 2>/dev/null |
        awk '/^ *\|?(Pre)?Depends: [^<]/ { print $2 }' | sort -u
}
wanted=(criu libcompel1 libc6)
declare -A seen=()
queue=("${wanted[@]}")
while [[ ${#queue[@]} -gt 0 ]]; do
    package=${queue[0]}
    queue=("${queue[@]:1}")
    [[ -n ${seen[$package]:-} ]] && continue
    seen[$package]=1
    for dependency in $(direct_dependencies "$package"); do
        [[ $dependency == lib* && -z ${seen[$dependency]:-} ]] && queue+=("$dependency")
    done
done
packages=("${!seen[@]}")

echo "provision-criu: downloading ${#packages[@]} packages: ${packages[*]}"
(cd "$work/debs" && apt-get "${apt_options[@]}" -q download "${packages[@]}" </dev/null \
    >"$work/download.log" 2>&1) ||
    unobtainable "apt-get download failed: $(grep -E '^(E|W):' "$work/download.log" | head -n 1)"

# Unpack into a fresh tree, then swap it in: a half-unpacked DEST never looks usable.
rm -rf "$dest/root.new"
mkdir -p "$dest/root.new"
for deb in "$work"/debs/*.deb; do
    dpkg-deb -x "$deb" "$dest/root.new"
done
[[ -x $dest/root.new/usr/sbin/criu ]] || die "the criu package has no usr/sbin/criu"
rm -rf "$dest/root"
mv "$dest/root.new" "$dest/root"
(cd "$work/debs" && ls) >"$dest/packages.txt"

install_wrapper "$(tree_exec_line)" "CRIU from Debian $target_release with its own libc"
