#!/usr/bin/env bash
# Installs the Debian packages the test suite drives: curl (HTTP/1.1 and
# HTTP/2 client). Does nothing when they are already there. The HTTP/3
# curl comes from scripts/h3-curl.sh, which installs nothing system-wide.
set -euo pipefail

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v apt-get >/dev/null 2>&1 || { [ ${#missing[@]} -eq 0 ] && exit 0; echo "install-test-deps: need ${missing[*]} but this is not a Debian system; install them by hand" >&2; exit 1; }
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "install-test-deps: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2
