#!/usr/bin/env bash
# Provides a working CRIU 4.x in a private directory, without installing anything system-wide.
#
# Usage: scripts/provision-criu.sh DEST_DIR
#   Afterwards DEST_DIR/criu is a wrapper that runs Debian 13's criu with Debian 13's own libc:
#   `runc --criu DEST_DIR/criu checkpoint ...`, or put DEST_DIR first in PATH for podman.
#   Running it again does nothing once DEST_DIR/criu --version works.
#
# Why: Debian 12's criu 3.17 fails on kernels >= 6.13 ("Unexpected rt vDSO area bounds"). The .debs
# of Debian 13's criu, libcompel1, libc6 and their library dependencies are fetched with
# `apt-get download` through a temporary sources list whose URIs are copied from this machine's own
# apt sources (suite set to the next release), with private lists and cache directories: the
# system's apt state is never read for sources nor written. CRIU also needs iptables (installed by
# install-deps.sh) for network namespaces.
set -euo pipefail

die() { echo "provision-criu: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: provision-criu.sh DEST_DIR"
[[ $(id -u) -eq 0 ]] || die "must run as root"
target_release=${LOCKCR_CRIU_RELEASE:-trixie}
machine_sources=/etc/apt/sources.list.d/debian.sources
mkdir -p "$1"
dest=$(cd "$1" && pwd)
wrapper=$dest/criu

if [[ -x $wrapper ]] && version=$("$wrapper" --version 2>/dev/null); then
    echo "provision-criu: $wrapper already works: $(echo "$version" | head -n 1)"
    exit 0
fi

for tool in apt-get apt-cache dpkg-deb /usr/bin/python3; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -r $machine_sources ]] || die "cannot read $machine_sources (the URIs are taken from it)"
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
[[ -s $work/target.list ]] || die "no 'deb' source found in $machine_sources"

apt_options=(
    -o "Dir::Etc::SourceList=$work/target.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
    # The private directories are root's: no privilege drop to _apt for downloads.
    -o "APT::Sandbox::User=root" -o "Debug::NoLocking=true"
)

echo "provision-criu: reading the $target_release package lists"
apt-get "${apt_options[@]}" -q update </dev/null >"$work/update.log" 2>&1 ||
    die "apt-get update for $target_release failed: $(grep -E '^(E|W):' "$work/update.log" | head -n 1)"

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
    die "apt-get download failed: $(grep -E '^(E|W):' "$work/download.log" | head -n 1)"

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

# The dynamic loader as a real file (the package's lib64 link may be absolute, i.e. the host's).
loader=$(find "$dest/root" -name 'ld-linux-x86-64.so.2' -type f -print -quit)
[[ -n $loader ]] || die "libc6 for $target_release has no ld-linux-x86-64.so.2"
library_dirs=()
for directory in usr/lib/x86_64-linux-gnu lib/x86_64-linux-gnu usr/lib lib; do
    [[ -d $dest/root/$directory && ! -L $dest/root/$directory ]] && library_dirs+=("$directory")
done

# The wrapper finds its tree relative to itself, so DEST_DIR can move. Only the loader gets the
# private library path: programs criu starts (iptables, ip) run with the host's libraries.
{
    echo '#!/bin/sh'
    echo "# CRIU from Debian $target_release with its own libc (scripts/provision-criu.sh)."
    # shellcheck disable=SC2016  # written for the wrapper to expand
    echo 'here=$(dirname "$(readlink -f "$0")")/root'
    printf 'libs='
    (IFS=:; printf '%s' "${library_dirs[*]/#/\$here/}")
    echo
    echo "exec \"\$here/${loader#"$dest/root/"}\" --library-path \"\$libs\" \"\$here/usr/sbin/criu\" \"\$@\""
} >"$wrapper.new"
chmod 0755 "$wrapper.new"
mv -f "$wrapper.new" "$wrapper"

version=$("$wrapper" --version 2>&1) || die "$wrapper --version fails: $version"
echo "provision-criu: $wrapper ready: $(echo "$version" | head -n 1)"
