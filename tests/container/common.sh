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
