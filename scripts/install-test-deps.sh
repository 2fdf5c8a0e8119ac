#!/usr/bin/env bash
# Installs the Debian packages the test suite drives: curl (HTTP/1.1 and
# HTTP/2 client). The HTTP/3 curl comes from scripts/h3-curl.sh, which
# installs nothing system-wide.
#
# For the deploy/ checks (tests/tests/deploy/): systemd-analyze
# (package systemd) verifies deploy/mirrorgate.service, logrotate checks
# deploy/logrotate-mirrorgate; Debian's /usr/bin/python3 with PyYAML
# (python3-yaml) parses deploy/k8s/*.yaml, and with python3-venv makes
# target/py-tools/ (scripts/py-tools.sh: dockerfile-parse from PyPI, for
# deploy/Dockerfile). The tests call /usr/bin/python3 by its path because
# another python3 (pyenv) may come first on PATH, so these are checked
# there, not on PATH.
#
# For the live page's browser test (tests/tests/e2e/live_page.rs):
# Debian's chromium (run headless), nodejs and npm; then
# scripts/browser-tools.sh puts playwright-core from npm into
# target/browser-tools/ to drive it.
#
# Idempotent and fast when everything is there: nothing is downloaded.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"

bash "$here/apt-ensure.sh" curl:curl systemd-analyze:systemd logrotate:logrotate \
    pymod:sys:python3 pymod:yaml:python3-yaml pymod:venv,ensurepip:python3-venv \
    chromium:chromium node:nodejs npm:npm

# Project-local Python tools (target/py-tools/); prints its python's path.
bash "$here/py-tools.sh" >/dev/null
# Project-local browser driver (target/browser-tools/); prints its folder.
bash "$here/browser-tools.sh" >/dev/null
