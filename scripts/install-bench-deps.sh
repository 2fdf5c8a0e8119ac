#!/usr/bin/env bash
# Installs what the benchmarks drive, from Debian's packages: nginx (the
# origin and a peer), haproxy (a peer), wrk (HTTP/1.1 load), h2load
# (HTTP/2 load, nghttp2-client), taskset (pinning), curl. oha (HTTP/3 load) is not in Debian bookworm:
# scripts/oha.sh builds it.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/apt-ensure.sh" \
    nginx:nginx-light haproxy:haproxy wrk:wrk h2load:nghttp2-client taskset:util-linux curl:curl
