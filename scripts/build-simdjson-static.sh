#!/usr/bin/env bash
# Builds libsimdjson.a from Debian's own simdjson source package (the same version as the
# installed libsimdjson-dev header), for lockcr-static (CMakeLists.txt): Debian 12 ships no static
# simdjson archive. Nothing is installed system-wide: apt reads a private sources list (deb-src,
# URIs copied from the machine's own /etc/apt/sources.list.d/debian.sources) and the archive is
# written to OUTPUT_DIR/libsimdjson.a.
#
# Usage: scripts/build-simdjson-static.sh OUTPUT_DIR
set -euo pipefail
out=$(mkdir -p "$1" && cd "$1" && pwd)
version=$(dpkg-query -W -f='${Version}' libsimdjson-dev)
work=$(mktemp -d /tmp/lockcr-simdjson-XXXXXX)
trap 'rm -rf "$work"' EXIT
uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
suite=$(awk '/^Suites:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
mkdir -p "$work/lists/partial"
printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" "$suite" >"$work/sources.sources"
apt_options=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work" -o "Dir::State::Lists=$work/lists")
apt-get "${apt_options[@]}" update -qq </dev/null
(cd "$work" && apt-get "${apt_options[@]}" source --download-only -qq "simdjson=$version" </dev/null)
tar -xf "$work"/simdjson_*.orig.tar.* -C "$work"
source_file=$(find "$work" -path '*singleheader/simdjson.cpp' | head -1)
[[ -n $source_file ]] || { echo "build-simdjson-static: no singleheader/simdjson.cpp in the source package" >&2; exit 1; }
# The installed header, not the package's copy: the archive must match what lockcr compiles against.
g++ -std=c++20 -O2 -fPIC -I/usr/include -include /usr/include/simdjson.h -c "$source_file" -o "$work/simdjson.o"
ar rcs "$out/libsimdjson.a" "$work/simdjson.o"
echo "build-simdjson-static: $out/libsimdjson.a (simdjson $version)"
