#!/usr/bin/env bash
# The container image: `podman build` of the Dockerfile from a local Debian 12 base
# (scripts/make-base-image.sh: debootstrap from the machine's own mirror, podman import; no
# registry), then the image is checked: lockcr --version, the installed files of the package,
# checkpointctl-locks --plugin-description (exit 42), and lockcr show of the sample checkpoint
# mounted read-only. Opt-in: it installs a Debian build environment in the image and compiles
# lockcr there, many minutes on a small machine; exits 77 (skipped) unless LOCKCR_TEST_IMAGE=1.
# The base image is kept (a later run reuses it); the built image is removed.
#
# Usage: LOCKCR_TEST_IMAGE=1 tests/package/image_test.sh BUILD_DIR
set -uo pipefail
if [[ ${LOCKCR_TEST_IMAGE:-} != 1 ]]; then
    echo "SKIP: image_test: set LOCKCR_TEST_IMAGE=1 to build the container image with podman (many minutes)"
    exit 77
fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
base=localhost/lockcr-debian-base:bookworm
image=localhost/lockcr-test-$$:latest
work=$(mktemp -d "/tmp/lockcr-test-$$-image.XXXXXX")
trap 'podman rmi -f "$image" >/dev/null 2>&1; rm -rf "$work"' EXIT
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
die() { echo "FAIL: setup: $*"; exit 2; }
# This machine's hard limits are below podman's defaults (DESIGN.md).
limits=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

start=$SECONDS
"$repo/scripts/make-base-image.sh" "$base" >"$work/base.log" 2>&1 || die "make-base-image: $(tail -n 3 "$work/base.log")"
echo "base image: $(tail -n 1 "$work/base.log") ($((SECONDS - start)) s)"
start=$SECONDS
podman build --network host "${limits[@]}" --build-arg "BASE=$base" -t "$image" -f "$repo/Dockerfile" "$repo" \
    >"$work/build.log" 2>&1 || die "podman build: $(tail -n 15 "$work/build.log")"
echo "podman build: $((SECONDS - start)) s"
grep -E "test cases:" "$work/build.log" | tail -n 1

run() { podman run --rm --network none "${limits[@]}" "$@"; }
version=$(run "$image" --version 2>&1)
[[ $version =~ ^lockcr\ [0-9.]+$ ]] && pass "the image's lockcr --version: $version" || fail "--version: $version"
listing=$(run --entrypoint /bin/sh "$image" -c 'ls -l /usr/sbin/lockcr /usr/bin/checkpointctl-locks \
    /usr/share/man/man1/lockcr.1.gz /usr/share/containers/oci/hooks.d/lockcr.json \
    /usr/share/lockcr/criu/runc.conf /usr/share/doc/lockcr/examples/lockcr.yaml && dpkg -s lockcr | grep ^Status' 2>&1)
[[ $listing == *"Status: install ok installed"* && $listing != *"No such file"* ]] &&
    pass "the package's files are installed in the image (dpkg -s lockcr: installed)" || fail "files: $listing"
status=0
run --entrypoint /usr/bin/checkpointctl-locks "$image" --plugin-description >/dev/null 2>&1 || status=$?
[[ $status -eq 42 ]] && pass "checkpointctl-locks --plugin-description in the image: exit 42" || fail "plugin: exit $status"
output=$(run -v "$repo/tests/samples/checkpoint:/checkpoint:ro" "$image" show /checkpoint 2>&1)
[[ $output == *"only in lockcr's record (2)"* ]] && pass "lockcr show of the sample checkpoint in the image" ||
    fail "show: $(head -c 400 <<<"$output")"

echo "image_test: $failures failure(s)"
[[ $failures -eq 0 ]]
