#!/usr/bin/env bash
# Installs Debian packages for commands that are missing, idempotently.
#
#   scripts/apt-ensure.sh COMMAND:PACKAGE ... pymod:MODULES:PACKAGE ...
#
# e.g. `scripts/apt-ensure.sh curl:curl wrk:wrk`: installs `wrk` only if
# no `wrk` command is found (on PATH or in /usr/sbin).
# `pymod:yaml:python3-yaml` installs python3-yaml unless Debian's own
# /usr/bin/python3 imports `yaml` (MODULES may be `a,b`). That interpreter
# by path, because another python3 (e.g. pyenv) may come first on PATH.
set -euo pipefail
missing=()
for pair in "$@"; do
    if [[ "$pair" == pymod:* ]]; then
        rest="${pair#pymod:}" modules="${rest%%:*}" pkg="${rest#*:}"
        /usr/bin/python3 -c "import $modules" >/dev/null 2>&1 || missing+=("$pkg")
        continue
    fi
    cmd="${pair%%:*}" pkg="${pair#*:}"
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null 2>&1 || {
    echo "apt-ensure: need ${missing[*]} but this is not a Debian system; install them by hand" >&2
    exit 1
}
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "apt-ensure: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2
