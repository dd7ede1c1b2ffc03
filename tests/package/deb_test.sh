#!/usr/bin/env bash
# The Debian package: CPack makes it from the build tree (`cpack -G DEB`); it is unpacked into a
# clean root (dpkg-deb -x: nothing is installed on the machine) and checked there:
#   - Depends names the shared libraries the binary links to (dpkg-shlibdeps), and never criu
#     (Debian 12's criu 3.17 fails on kernels >= 6.13);
#   - every file in its Debian place, nothing under /etc/criu; the hooks.d files apply only to
#     containers that opt in (a `when` on the io.lockcr.enabled annotation) and name the installed
#     binary; the CRIU config snippet names it as action-script;
#   - the installed lockcr runs (--version), the installed checkpointctl-locks link answers
#     --plugin-description with exit 42, and `man -l` renders the installed man page;
#   - the man page names every command `lockcr --help` lists and every option each one takes.
#
# Usage: tests/package/deb_test.sh BUILD_DIR (lockcr and its man page built there)
set -uo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d "/tmp/lockcr-test-$$-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
die() { echo "FAIL: setup: $*"; exit 2; }

(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) || die "cpack: $(tail -n 5 "$work/cpack.log")"
deb=$(ls "$work"/out/lockcr_*.deb 2>/dev/null | head -n 1)
[[ -f $deb ]] || die "cpack made no lockcr_*.deb: $(tail -n 3 "$work/cpack.log")"
echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes"

depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
# lockcr links its C++ libraries from their archives (start-up: only libc is bound), and dlopens
# libarchive for `show`: shlibdeps sees libc6, the package adds libarchive13.
missing=()
for library in libarchive13 libc6; do
    [[ $depends == *"$library"* ]] || missing+=("$library")
done
linked=$(ldd "$build/lockcr" | awk '/=>/ { print $1 }' | tr '\n' ' ')
[[ ${#missing[@]} -eq 0 ]] && pass "Depends names libc6 (shlibdeps; the binary links $linked) and libarchive13 (dlopen)" ||
    fail "Depends lacks ${missing[*]}"
grep -Eq '(^|[ ,])criu([ ,(]|$)' <<<"$depends" && fail "Depends names criu" || pass "Depends does not name criu"

root=$work/root
mkdir "$root"
dpkg-deb -x "$deb" "$root" || die "dpkg-deb -x failed"
for file in usr/sbin/lockcr usr/share/man/man1/lockcr.1.gz usr/share/containers/oci/hooks.d/lockcr.json \
    usr/share/containers/oci/hooks.d/lockcr-poststop.json usr/share/lockcr/criu/runc.conf \
    usr/share/doc/lockcr/examples/lockcr.yaml; do
    [[ -f $root/$file ]] || fail "the package has no /$file"
done
[[ $(readlink "$root/usr/bin/checkpointctl-locks") == ../sbin/lockcr ]] &&
    pass "/usr/bin/checkpointctl-locks -> ../sbin/lockcr" || fail "checkpointctl-locks: $(ls -l "$root/usr/bin" 2>&1)"
[[ ! -e $root/etc/criu ]] && pass "nothing under /etc/criu" || fail "the package writes /etc/criu"

if python3 - "$root/usr/share/containers/oci/hooks.d" <<'PYTHON'
import glob, json, sys
problems = []
for path in sorted(glob.glob(sys.argv[1] + "/*.json")):
    hook = json.load(open(path))
    if hook.get("version") != "1.0.0" or hook["hook"]["path"] != "/usr/sbin/lockcr":
        problems.append(f"{path}: version or path")
    when = hook.get("when", {})
    # podman/CRI-O: "always": true, or no annotation condition, would apply it to every container.
    if when.get("always") or not when.get("annotations") or not any("io\\.lockcr" in key for key in when["annotations"]):
        problems.append(f"{path}: not opt-in by an io.lockcr annotation: {when}")
if problems:
    print("; ".join(problems)); sys.exit(1)
PYTHON
then pass "hooks.d files: schema 1.0.0, /usr/sbin/lockcr, only for containers annotated io.lockcr.*"
else fail "hooks.d files"; fi
grep -qx 'action-script /usr/sbin/lockcr' "$root/usr/share/lockcr/criu/runc.conf" &&
    pass "the CRIU config snippet names /usr/sbin/lockcr as action-script" || fail "runc.conf: $(cat "$root/usr/share/lockcr/criu/runc.conf")"

version=$("$root/usr/sbin/lockcr" --version 2>&1)
[[ $version =~ ^lockcr\ [0-9]+\.[0-9]+\.[0-9]+$ ]] && pass "installed lockcr --version: $version" || fail "lockcr --version: $version"
status=0
"$root/usr/bin/checkpointctl-locks" --plugin-description >/dev/null 2>&1 || status=$?
[[ $status -eq 42 ]] && pass "installed checkpointctl-locks --plugin-description: exit 42" || fail "plugin: exit $status"

# As in a container started with podman's default capabilities (no CAP_DAC_READ_SEARCH): show keeps
# none then, instead of failing to keep one it never had.
samples=$(cd "$(dirname "${BASH_SOURCE[0]}")/../samples/checkpoint" && pwd)
status=0
setpriv --bounding-set -dac_read_search "$root/usr/sbin/lockcr" show "$samples" >"$work/show.txt" 2>&1 || status=$?
[[ $status -eq 0 ]] && grep -q "only in lockcr's record (2)" "$work/show.txt" &&
    pass "installed lockcr show of the sample checkpoint, also without CAP_DAC_READ_SEARCH" ||
    fail "lockcr show without CAP_DAC_READ_SEARCH: exit $status $(head -c 300 "$work/show.txt")"

man_text=$work/man.txt
if MANWIDTH=200 man -l "$root/usr/share/man/man1/lockcr.1.gz" >"$man_text" 2>"$work/man.err" && grep -q "^NAME" "$man_text"; then
    pass "man -l renders the installed lockcr(1) ($(wc -l <"$man_text") lines)"
else
    fail "man -l: $(cat "$work/man.err")"
fi
for section in SYNOPSIS DESCRIPTION MODES COMMANDS "EXIT STATUS" FILES ENVIRONMENT; do
    grep -q "^$section" "$man_text" || fail "the man page has no $section section"
done
for variable in LOCKCR_CONFIG LOCKCR_RUN_DIR LOCKCR_FAULT CRTOOLS_SCRIPT_ACTION CRTOOLS_IMAGE_DIR CRTOOLS_INIT_PID; do
    grep -q "$variable" "$man_text" || fail "the man page does not name $variable"
done

# Every command and option of the binary, in the man page.
lockcr=$root/usr/sbin/lockcr
undocumented=()
commands=$("$lockcr" --help | awk '/^Subcommands:/ { on = 1; next } on && NF { print $1 }')
for command in $commands oci-hook; do
    grep -Eq "^ +$command( |$)" "$man_text" || undocumented+=("command $command")
    [[ $command == oci-hook ]] && continue
    for option in $("$lockcr" "$command" --help | grep -Eo -- '--[a-z][a-z-]+' | sort -u); do
        grep -q -- "$option" "$man_text" || undocumented+=("$command $option")
    done
done
for option in $("$lockcr" --help | grep -Eo -- '--[a-z][a-z-]+' | sort -u); do
    grep -q -- "$option" "$man_text" || undocumented+=("$option")
done
[[ ${#undocumented[@]} -eq 0 ]] && pass "the man page documents every command ($(wc -w <<<"$commands") + oci-hook) and option" ||
    fail "not in the man page: ${undocumented[*]}"

echo "deb_test: $failures failure(s)"
[[ $failures -eq 0 ]]
