#!/usr/bin/env bash
# Builds the demo container's OCI bundle: a busybox rootfs with lockcr's static workloads in
# /usr/bin, and a config.json (from `runc spec`) that runs `/usr/bin/lockholder /data`.
#
# Usage: scripts/build-rootfs.sh OUT_DIR [WORKLOAD_DIR]
#   OUT_DIR       the bundle: OUT_DIR/rootfs and OUT_DIR/config.json (created or refreshed)
#   WORKLOAD_DIR  where the static workloads were built (default: $LOCKCR_BUILD_DIR/workload,
#                 LOCKCR_BUILD_DIR defaulting to <repo>/build)
#
# Runs as root; running it again refreshes binaries and config.json and keeps OUT_DIR/rootfs/data,
# even while a container runs from the bundle (files are replaced by rename, never rewritten).
set -euo pipefail

die() { echo "build-rootfs: $*" >&2; exit 1; }

[[ $# -ge 1 && $# -le 2 ]] || die "usage: build-rootfs.sh OUT_DIR [WORKLOAD_DIR]"
[[ $(id -u) -eq 0 ]] || die "must run as root"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$1
workloads=${2:-${LOCKCR_BUILD_DIR:-$repo/build}/workload}
python=/usr/bin/python3  # Debian's, not a pyenv one first in PATH

busybox=$(command -v busybox) || die "busybox not found (apt-get install busybox-static)"
file -L "$busybox" | grep -q 'statically linked' || die "$busybox is not static (install busybox-static)"
command -v runc >/dev/null || die "runc not found"
[[ -x $workloads/lockholder ]] || die "no $workloads/lockholder: build the project first (cmake --build)"

mkdir -p "$out"
out=$(cd "$out" && pwd)
rootfs=$out/rootfs
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# Replaces DEST by SOURCE atomically (a running binary cannot be rewritten in place: ETXTBSY).
install_atomically() {
    local source=$1 dest=$2 mode=$3
    install -m "$mode" "$source" "$dest.new"
    mv -f "$dest.new" "$dest"
}

mkdir -p "$rootfs"/{bin,dev,proc,sys,tmp,data,etc,root,usr/bin,run}
chmod 1777 "$rootfs/tmp"

install_atomically "$busybox" "$rootfs/bin/busybox" 0755
for applet in $("$rootfs/bin/busybox" --list); do
    [[ $applet == busybox ]] && continue
    [[ -e $rootfs/bin/$applet || -L $rootfs/bin/$applet ]] || ln -s busybox "$rootfs/bin/$applet"
done

copied=()
for program in "$workloads"/*; do
    [[ -f $program && -x $program ]] || continue
    # Only static binaries run in a rootfs without a libc.
    file -L "$program" | grep -q 'statically linked' || continue
    install_atomically "$program" "$rootfs/usr/bin/$(basename "$program")" 0755
    copied+=("$(basename "$program")")
done

[[ -e $rootfs/etc/passwd ]] || echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
[[ -e $rootfs/etc/group ]] || echo 'root:x:0:' >"$rootfs/etc/group"
echo lockcr-demo >"$rootfs/etc/hostname"

# runc spec refuses to overwrite config.json: generate beside, edit, then rename over.
(cd "$scratch" && runc spec)
"$python" - "$scratch/config.json" <<'EOF'
import json, sys
path = sys.argv[1]
with open(path) as f:
    config = json.load(f)
process = config["process"]
process["terminal"] = False
process["args"] = ["/usr/bin/lockholder", "/data"]
process["cwd"] = "/"
config["root"] = {"path": "rootfs", "readonly": False}
config["hostname"] = "lockcr-demo"
# Keep runc's default namespaces (pid, network, ipc, uts, mount); cgroupsPath is left to runc,
# so several containers can run from one bundle.
with open(path, "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
EOF
mv -f "$scratch/config.json" "$out/config.json"

echo "build-rootfs: bundle $out (workloads: ${copied[*]:-none})"
