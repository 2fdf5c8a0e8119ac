#!/usr/bin/env bash
# Installs the Debian packages the test suite drives: curl (HTTP/1.1 and
# HTTP/2 client). The HTTP/3 curl comes from scripts/h3-curl.sh, which
# installs nothing system-wide.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/apt-ensure.sh" curl:curl
