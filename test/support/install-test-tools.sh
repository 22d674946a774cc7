#!/usr/bin/env bash
# Installs the Debian tools the tests drive, when missing (make test and .ci/run both call this): curl, openssl,
# nghttp2's h2load/nghttp and nghttpd (an HTTP/2 upstream of Legate's client codec), grpcio for Debian's python3
# (the gRPC tests' C-core peer), chromium (the admin dashboard's browser test) and prometheus (promtool checks
# /stats/prometheus). `apt-get update` runs once, only
# when something is missing. Fails with one clear line when something is missing and cannot be installed, so no test
# waits on a peer that cannot start.
set -euo pipefail

need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
command -v nghttp >/dev/null 2>&1 || need+=(nghttp2-client)
command -v nghttpd >/dev/null 2>&1 || need+=(nghttp2-server)
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || need+=(python3-grpcio)
# Large packages: without their recommendations (a headless browser and one binary are all the tests use).
lean=()
command -v chromium >/dev/null 2>&1 || lean+=(chromium)
command -v promtool >/dev/null 2>&1 || lean+=(prometheus)
[ ${#need[@]} -eq 0 ] && [ ${#lean[@]} -eq 0 ] && exit 0
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u | sed '/^$/d')
all=("${need[@]}" "${lean[@]}")
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo -n); else
  echo "make test: missing Debian packages: ${all[*]} (install them: apt-get install -y ${all[*]})" >&2
  exit 1
fi
echo "make test: installing ${all[*]} from Debian" >&2
"${sudo[@]}" apt-get update -qq
export DEBIAN_FRONTEND=noninteractive
[ ${#need[@]} -eq 0 ] || "${sudo[@]}" apt-get install -o DPkg::Lock::Timeout=120 -y -qq "${need[@]}" >/dev/null
[ ${#lean[@]} -eq 0 ] || "${sudo[@]}" apt-get install -o DPkg::Lock::Timeout=120 -y -qq --no-install-recommends "${lean[@]}" >/dev/null
