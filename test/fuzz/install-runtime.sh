#!/usr/bin/env bash
# Makes the fuzzer's native part loadable and writes the launcher the fuzz runs start Node with
# (node_modules/.cache/legate-fuzz/launcher; make fuzz-deps, make test and make fuzz call this).
#
# @jazzer.js/fuzzer ships its libFuzzer addon prebuilt only; the Linux build needs glibc >= 2.38 and GCC 13's
# libstdc++, and Debian 12 has glibc 2.36 and GCC 12 (dlopen fails), while its older releases fetch their builds
# from outside the package registries at install time. So when the addon does not load with the system's
# libraries, this fetches Debian 13's libc6, libstdc++6 and libgcc-s1 with apt-get download (a private apt state
# under node_modules/.cache: the system's sources, lists and packages stay untouched; the mirror is the one the
# system's own sources name), unpacks them there, and the launcher runs Node through that glibc's dynamic loader.
# Only the fuzz processes run that way; Legate and every other test use the system's libraries.
set -euo pipefail
cd "$(dirname "$0")/../.."
node=node_modules/node/bin/node
addon=node_modules/@jazzer.js/fuzzer/prebuilds/fuzzer-linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/').node
dir=node_modules/.cache/legate-fuzz
launcher=$dir/launcher
mkdir -p "$dir"
[ -f "$addon" ] || { echo "fuzz-deps: $addon is missing (run make deps)" >&2; exit 1; }

probe() { "$@" -e 'require(process.argv[1])' "$PWD/$addon" >/dev/null 2>&1; }

write_launcher() {
  printf '#!/bin/sh\n# Written by test/fuzz/install-runtime.sh: starts Node for a fuzz run.\n%s\n' "$1" >"$launcher.tmp"
  chmod +x "$launcher.tmp"
  mv "$launcher.tmp" "$launcher"
}

if probe "$node"; then
  write_launcher "exec \"$PWD/$node\" \"\$@\""
  exit 0
fi

root=$PWD/$dir/root
ldso=$(ls "$root"/usr/lib/*/ld-linux*.so.* 2>/dev/null | head -1 || true)
if [ -z "$ldso" ]; then
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || {
    echo "fuzz-deps: $addon needs a newer glibc/libstdc++ than this system has, and apt-get is not here to fetch them" >&2
    exit 1
  }
  # The Debian mirror the system already uses (deb822 or one-line sources), for the next release's packages.
  mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\([^[:space:]]*\/debian\)\/\{0,1\}[[:space:]].*/\2/p' /etc/apt/sources.list 2>/dev/null | head -1)
  [ -n "$mirror" ] || { echo "fuzz-deps: no Debian mirror in /etc/apt/sources*" >&2; exit 1; }
  apt=$PWD/$dir/apt
  rm -rf "$apt" "$root"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs" "$root"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$apt/sources.list"
  opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root -qq)
  echo "fuzz-deps: fetching Debian 13's libc6, libstdc++6 and libgcc-s1 for the fuzzer's prebuilt addon" >&2
  apt-get "${opts[@]}" update
  (cd "$apt/debs" && apt-get "${opts[@]}" download libc6 libstdc++6 libgcc-s1)
  for deb in "$apt"/debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
  rm -rf "$apt"
  ldso=$(ls "$root"/usr/lib/*/ld-linux*.so.* | head -1)
fi
libdir=$(dirname "$ldso")
probe "$ldso" --library-path "$libdir" "$node" || {
  echo "fuzz-deps: $addon does not load even with the libraries in $root" >&2
  exit 1
}
write_launcher "exec \"$ldso\" --library-path \"$libdir\" \"$PWD/$node\" \"\$@\""
