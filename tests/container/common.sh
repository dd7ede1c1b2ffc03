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

# provision_criu_or_skip TEST LOG: CRIU 4.1 into $build/criu (scripts/provision-criu.sh). Only an
# unreachable package mirror is a reason to skip (exit 77, loudly); any other provisioning failure
# is a setup failure (exit 2).
provision_criu_or_skip() {
    local test=$1 log=$2 reason
    "$repo/scripts/provision-criu.sh" "$build/criu" >"$log" 2>&1 && return 0
    if reason=$(mirror_unreachable_reason); then
        echo "SKIP: ****************************************************************************"
        echo "SKIP: CRIU 4.1 could not be provisioned: the package mirror cannot be reached."
        echo "SKIP: provision-criu.sh: $(tail -n 1 "$log")"
        echo "SKIP: mirror: $reason"
        echo "SKIP: $test did NOT run: lockcr with CRIU is untested on this machine."
        echo "SKIP: ****************************************************************************"
        exit 77
    fi
    die "scripts/provision-criu.sh $build/criu failed with the mirror reachable: $(tail -n 1 "$log")"
}
