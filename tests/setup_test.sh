#!/usr/bin/env bash
# `lockcr setup`, `--undo` and `--check` on real files, in a temporary root (--root): never the
# machine's /etc/criu or /etc/lockcr. criu and crun are small scripts that print the version lines
# of the releases each case is about (the real ones on this machine: CRIU 4.1 only, no crun).
#
# Usage: tests/setup_test.sh LOCKCR_BINARY
set -euo pipefail
lockcr=$1
work=$(mktemp -d /tmp/lockcr-test-setup-XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
expect_status() {  # STATUS DESCRIPTION COMMAND...
    local want=$1 what=$2 status=0
    shift 2
    "$@" >"$work/out" 2>&1 || status=$?
    [[ $status -eq $want ]] || { fail "$what: exit $status, expected $want"; sed 's/^/    /' "$work/out" >&2; }
}
expect_output() {  # PATTERN DESCRIPTION (in the last command's output)
    grep -qE -- "$1" "$work/out" || { fail "$2: no line matching /$1/"; sed 's/^/    /' "$work/out" >&2; }
}
fake_tool() {  # NAME OUTPUT
    printf '#!/bin/sh\nprintf "%s\\n"\n' "$2" >"$work/bin/$1"
    chmod +x "$work/bin/$1"
}
new_root() {
    root=$(mktemp -d "$work/lockcr-test-root-XXXXXX")
    mkdir -p "$root/usr/sbin" "$root/etc/criu"
    cp "$lockcr" "$root/usr/sbin/lockcr"
    conf=$root/etc/criu/runc.conf
}
mkdir -p "$work/bin"
fake_tool criu41 "Version: 4.1.1"
fake_tool criu42 "Version: 4.2"
fake_tool criu318 "Version: 3.18"
fake_tool criu317 "Version: 3.17"
fake_tool crun18 'crun version 1.8.1\nspec: 1.0.0\n+SYSTEMD +SELINUX +CAP +SECCOMP +YAJL'
fake_tool crun126 'crun version 1.26\nspec: 1.0.0\n+SYSTEMD +CAP +CRIU +YAJL'
check() { "$lockcr" setup --check --root "$root" --criu "$work/bin/criu41" "$@"; }

# --- setup: a fresh root --------------------------------------------------------------------------
new_root
expect_status 0 "setup on an empty root" "$lockcr" setup --root "$root"
grep -qx 'action-script /usr/sbin/lockcr' "$conf" || fail "runc.conf has no action-script line"
grep -qx 'file-locks' "$conf" || fail "runc.conf has no file-locks line"
grep -qx 'file-validation filesize' "$conf" || fail "runc.conf has no file-validation line"
[[ $(stat -c %a "$conf") == 644 ]] || fail "a new runc.conf is $(stat -c %a "$conf"), not 644"
cmp -s "$root/etc/lockcr/lockcr.yaml" "$(dirname "$0")/../examples/lockcr.yaml" || fail "lockcr.yaml is not the example"
cp "$conf" "$work/first"
expect_status 0 "setup again" "$lockcr" setup --root "$root"
expect_output "runc.conf: already set up" "setup again"
cmp -s "$conf" "$work/first" || fail "a second setup changed runc.conf"
expect_status 0 "check after setup" check
expect_output "^lockcr will run$" "check after setup"
expect_status 0 "undo" "$lockcr" setup --undo --root "$root"
[[ ! -e $conf ]] || fail "undo left a runc.conf that held only lockcr's block"
[[ -e $root/etc/lockcr/lockcr.yaml ]] || fail "undo removed lockcr.yaml"

# --- setup: a file with the operator's own lines ------------------------------------------------
new_root
printf '# site\ntcp-established\nlog-file "/var/log/criu run.log"\n' >"$conf"
chmod 640 "$conf"
cp "$conf" "$work/original"
mkdir -p "$root/etc/lockcr"
printf 'conflict: wait\n' >"$root/etc/lockcr/lockcr.yaml"
expect_status 0 "merge into an existing file" "$lockcr" setup --root "$root"
head -c "$(stat -c %s "$work/original")" "$conf" | cmp -s - "$work/original" || fail "merge changed the operator's lines"
[[ $(stat -c %a "$conf") == 640 ]] || fail "merge changed runc.conf's mode to $(stat -c %a "$conf")"
[[ $(cat "$root/etc/lockcr/lockcr.yaml") == "conflict: wait" ]] || fail "setup overwrote an existing lockcr.yaml"
expect_status 0 "undo after merge" "$lockcr" setup --undo --root "$root"
cmp -s "$conf" "$work/original" || fail "undo did not give back the original file"

# The operator's no-file-locks is kept, and --check says what it costs.
printf 'no-file-locks\n' >"$conf"
expect_status 0 "merge over no-file-locks" "$lockcr" setup --root "$root"
expect_output "line 1 says no-file-locks: kept" "merge over no-file-locks"
grep -qx 'file-locks' "$conf" && fail "setup added file-locks over the operator's no-file-locks"
expect_status 0 "check with no-file-locks (runc)" check
expect_output "^warning: .*no-file-locks" "check with no-file-locks (runc)"
expect_status 1 "check with no-file-locks (containerd)" check --engine containerd
expect_output "^error: .*containerd never passes --file-locks" "check with no-file-locks (containerd)"

# A broken block is refused, and the file is not rewritten.
printf '# lockcr: managed begin\nfile-locks\n' >"$conf"
cp "$conf" "$work/broken"
expect_status 2 "setup over a block without its end" "$lockcr" setup --root "$root"
expect_output "line 1: .* without an end" "setup over a block without its end"
cmp -s "$conf" "$work/broken" || fail "setup rewrote a file with a broken block"

# --- engines and --file ---------------------------------------------------------------------------
new_root
touch "$root/etc/criu/crun.conf"
expect_status 0 "setup --engine crun with crun.conf" "$lockcr" setup --root "$root" --engine crun --no-config
grep -q '^action-script' "$root/etc/criu/crun.conf" || fail "crun: crun.conf not written"
[[ ! -e $root/etc/criu/runc.conf ]] || fail "crun: runc.conf written though crun.conf hides it"
expect_status 0 "setup --engine podman" "$lockcr" setup --root "$root" --engine podman --no-config
grep -q '^action-script' "$root/etc/criu/runc.conf" || fail "podman: runc.conf not written"
annotation_file=$work/lockcr-test-container.conf
expect_status 0 "setup --file" "$lockcr" setup --file "$annotation_file" --no-config --root "$root"
grep -q '^action-script /usr/sbin/lockcr$' "$annotation_file" || fail "--file: no action-script line"

# --install-binary: the DaemonSet's way onto a node (this binary, at the action script's path).
new_root
expect_status 0 "setup --install-binary" "$lockcr" setup --root "$root" --install-binary --action-script /usr/local/sbin/lockcr
cmp -s "$root/usr/local/sbin/lockcr" "$lockcr" || fail "--install-binary: not a copy of lockcr"
[[ $(stat -c %a "$root/usr/local/sbin/lockcr") == 755 ]] || fail "--install-binary: mode is not 755"
expect_status 0 "check after --install-binary" check --action-script /usr/local/sbin/lockcr
expect_status 0 "setup --install-binary again" "$lockcr" setup --root "$root" --install-binary --action-script /usr/local/sbin/lockcr
expect_output "already this lockcr" "setup --install-binary again"

# --- check: what keeps lockcr from running --------------------------------------------------------
new_root
"$lockcr" setup --root "$root" >/dev/null
expect_status 1 'check: org.criu.config=""' check --annotation-config ""
expect_output '^error: .*org.criu.config annotation is ""' 'check: org.criu.config=""'
printf 'tcp-established\n' >"$root/lockcr-test-plain.conf"  # paths are the host's, under --root
expect_status 1 "check: annotation names a file without lockcr" check --annotation-config /lockcr-test-plain.conf
expect_output "^error: .*no action-script line runs lockcr" "check: annotation names a file without lockcr"
expect_status 1 "check: annotation names a missing file" check --annotation-config /nonexistent.conf
expect_output "does not exist \(CRIU ignores" "check: annotation names a missing file"
mkdir -p "$root/bundle"
printf '{"ociVersion":"1.0.2","annotations":{"org.criu.config":""}}' >"$root/bundle/config.json"
expect_status 1 "check --bundle with org.criu.config=\"\"" check --bundle /bundle
printf '{"ociVersion":"1.0.2","id":"c1","status":"running","bundle":"/b","pid":1,"annotations":{"io.lockcr.on-failure":"pause"}}' >"$work/state.json"
expect_status 1 "check --state with a bad io.lockcr annotation" check --state "$work/state.json"
expect_output '^error: .*on-failure: "pause"' "check --state with a bad io.lockcr annotation"
expect_status 1 "check: CRIU 3.18" "$lockcr" setup --check --root "$root" --criu "$work/bin/criu318"
expect_output "^error: CRIU 3.18.0: older than 3.19" "check: CRIU 3.18"
if [[ $(uname -r | cut -d. -f1) -gt 6 || ( $(uname -r | cut -d. -f1) -eq 6 && $(uname -r | cut -d. -f2) -ge 13 ) ]]; then
    expect_status 1 "check: CRIU 3.17 on this kernel" "$lockcr" setup --check --root "$root" --criu "$work/bin/criu317"
    expect_output "Debian 12's CRIU 3.17 fails on kernels >= 6.13" "check: CRIU 3.17 on this kernel"
fi
expect_status 1 "check: crun 1.8.1 without CRIU" check --engine crun --crun "$work/bin/crun18"
expect_output "^error: crun 1.8.1: built without CRIU" "check: crun 1.8.1 without CRIU"
expect_status 1 "check: crun 1.26 with CRIU 4.1" check --engine crun --crun "$work/bin/crun126"
expect_output "^error: CRIU 4.1.1: crun passes the config file through libcriu" "check: crun 1.26 with CRIU 4.1"
expect_status 0 "check: crun 1.26 with CRIU 4.2" "$lockcr" setup --check --root "$root" --engine crun \
    --crun "$work/bin/crun126" --criu "$work/bin/criu42"
expect_status 0 "check: podman with an old crun also on the host" check --engine podman --crun "$work/bin/crun18"
expect_output "^warning: crun 1.8.1: built without CRIU.*only containers run with crun" "check: podman with an old crun"
printf 'on-failure: pause\n' >"$root/etc/lockcr/lockcr.yaml"
expect_status 1 "check: invalid lockcr.yaml" check
expect_output '^error: .*lockcr.yaml: line 1: on-failure: "pause"' "check: invalid lockcr.yaml"
rm "$root/usr/sbin/lockcr" "$root/etc/lockcr/lockcr.yaml"
expect_status 1 "check: the action script is not there" check
expect_output "^error: .*action-script /usr/sbin/lockcr: not an executable file" "check: the action script is not there"

if [[ $failures -ne 0 ]]; then
    echo "setup_test: $failures failure(s)" >&2
    exit 1
fi
echo "setup_test: all passed"
