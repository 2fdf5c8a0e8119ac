#!/usr/bin/env bash
# Installs what the benchmarks drive, from Debian's packages: nginx (the
# origin), wrk (HTTP/1.1 load), taskset (pinning), curl.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/apt-ensure.sh" \
    nginx:nginx-light wrk:wrk taskset:util-linux curl:curl
