#!/usr/bin/env bash
# Prints the path of a Python interpreter that has the project's Python test
# tools, and nothing else on stdout (progress and errors go to stderr):
#
#   python="$(scripts/py-tools.sh)"
#
# The tools live in a virtual environment under target/py-tools/, made once
# with Debian's /usr/bin/python3 (not whatever python3 is first on PATH)
# and reused: a second run only checks that it is complete. Nothing is
# installed system-wide. The venv is made under a lock (flock) and marked
# complete last, so concurrent callers never see a half-made one.
#
# Tools (pinned; bump here):
#   dockerfile-parse   parses deploy/Dockerfile (tests/tests/deploy/)
#   prometheus-client  parses /metrics (tests/tests/e2e/metrics.rs)
#   h2                 crafts raw HTTP/2 frames for the attack tests
#   aioquic            crafts raw QUIC/HTTP/3 for the attack tests and the RFC 9220 client
#   websockets         WebSocket echo backend and HTTP/1.1 client (tests/ws/)
#   wsproto            WebSocket frames over HTTP/2 and HTTP/3 streams (tests/ws/)
#   grpcio             gRPC client and backend (tests/tests/e2e/grpc.rs)
set -euo pipefail
shopt -s inherit_errexit

exec 3>&1 1>&2 # stdout is for the path only
TOOL=py-tools
source "$(dirname "${BASH_SOURCE[0]}")/tool-lib.sh"

packages=(dockerfile-parse==2.0.1 prometheus-client==0.21.1 h2==4.2.0 aioquic==1.2.0
    websockets==15.0.1 wsproto==1.2.0 grpcio==1.76.0)
# Every module the tools provide, imported to check the venv.
modules=(dockerfile_parse prometheus_client h2 aioquic websockets wsproto grpc)

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
venv="$repo/target/py-tools"
python=/usr/bin/python3
# What the venv was made from: a change of packages remakes it.
stamp="$venv/.made-with"
want="$(printf '%s\n' "${packages[@]}")"

ready() {
    [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
        "$venv/bin/python" -c "import $(IFS=,; echo "${modules[*]}")" 2>/dev/null
}

ready && found "$venv/bin/python"

[ -x "$python" ] || die "$python not found: install Debian's python3 (scripts/install-test-deps.sh does)"
"$python" -c 'import venv, ensurepip' 2>/dev/null ||
    die "$python cannot make virtual environments: install python3-venv (scripts/install-test-deps.sh does)"

mkdir -p "$repo/target"
take_lock "$repo/target/.py-tools.lock" 600
ready && found "$venv/bin/python" # made by that other run

log "making $venv with $("$python" --version) and ${packages[*]}"
rm -rf "$venv"
"$python" -m venv "$venv" || die "python3 -m venv $venv failed (see above)"
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}"; then
    rm -rf "$venv"
    die "pip could not install ${packages[*]} from PyPI (see above). With no access to PyPI,
install them by hand into $venv from wheels you have:
    $python -m venv $venv && $venv/bin/python -m pip install --no-index --find-links DIR ${packages[*]}
    printf '%s\\n' ${packages[*]} > $stamp"
fi
echo "$want" >"$stamp" # complete: marked last
ready || die "$venv was made but cannot import ${modules[*]}"
found "$venv/bin/python"
