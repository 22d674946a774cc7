#!/usr/bin/env bash
# Installs the Debian tools the tests drive, when missing (make test and .ci/run both call this): curl, openssl,
# nghttp2's h2load/nghttp, and grpcio for Debian's python3 (the gRPC tests' C-core peer). Fails with one clear line
# when something is missing and cannot be installed, so no test waits on a peer that cannot start.
set -euo pipefail
need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
command -v nghttp >/dev/null 2>&1 || need+=(nghttp2-client)
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || need+=(python3-grpcio)
[ ${#need[@]} -eq 0 ] && exit 0
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo -n); else
  echo "make test: missing Debian packages: ${need[*]} (install them: apt-get install -y ${need[*]})" >&2
  exit 1
fi
echo "make test: installing ${need[*]} from Debian" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
