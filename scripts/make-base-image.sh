#!/usr/bin/env bash
# Makes a local Debian 12 base image for the Dockerfile (`podman build --build-arg BASE=NAME`),
# without any registry: debootstrap --variant=minbase bookworm into a temporary directory from the
# machine's own Debian mirror (the first URIs of /etc/apt/sources.list.d/debian.sources, or of
# /etc/apt/sources.list, read at run time), then `podman import` of a tar of it. The image's apt
# sources are that mirror's bookworm suite. Running it again with the image present does nothing.
#
# Usage: scripts/make-base-image.sh [NAME]   (default localhost/lockcr-debian-base:bookworm)
# Needs root, debootstrap and podman (scripts/install-deps.sh).
set -euo pipefail
name=${1:-localhost/lockcr-debian-base:bookworm}
die() { echo "make-base-image: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root"

if podman image exists "$name"; then
    echo "make-base-image: $name already exists"
    exit 0
fi

mirror=
if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
fi
if [[ -z $mirror && -r /etc/apt/sources.list ]]; then
    mirror=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
fi
[[ -n $mirror ]] || die "no Debian mirror found in the machine's apt sources"

work=$(mktemp -d /tmp/lockcr-base-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
start=$SECONDS
echo "make-base-image: debootstrap --variant=minbase bookworm from the machine's mirror"
debootstrap --variant=minbase bookworm "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    die "debootstrap failed: $(tail -n 3 "$work/debootstrap.log")"
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
tar --numeric-owner -C "$work/root" -c . | podman import - "$name" >/dev/null ||
    die "podman import failed"
echo "make-base-image: $name made in $((SECONDS - start)) s"
