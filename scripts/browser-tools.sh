#!/usr/bin/env bash
# Prints the folder of the project's browser test tools, and nothing else
# on stdout (progress and errors go to stderr):
#
#   tools="$(scripts/browser-tools.sh)"
#   node tests/browser/live_page.mjs --tools "$tools" ...
#
# The tools are playwright-core from npm (pinned, with its integrity hash,
# in tests/browser/package.json and package-lock.json; bump there: 1.61 is
# the newest that runs on Debian bookworm's Node 18, 1.62 needs Node 20),
# which drives Debian's headless Chromium. `npm ci` installs them once into
# target/browser-tools/ and they are reused: a second run only checks that
# they are there. No browser is downloaded (playwright-core never does)
# and nothing is installed system-wide. Chromium, node and npm themselves
# come from Debian (scripts/install-test-deps.sh installs them).
#
# Made under a lock (flock) and marked complete last, so concurrent callers
# never see a half-made folder.
set -euo pipefail
shopt -s inherit_errexit

exec 3>&1 1>&2 # stdout is for the path only
TOOL=browser-tools
# shellcheck source=scripts/tool-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tool-lib.sh"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
spec="$repo/tests/browser"
tools="$repo/target/browser-tools"
# What the folder was made from: a change of the lock file remakes it.
stamp="$tools/.made-with"
want="$(sha256sum "$spec/package-lock.json" | cut -d' ' -f1)"

ready() {
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
        [ -f "$tools/node_modules/playwright-core/package.json" ]
}

need() { # COMMAND PACKAGE
    command -v "$1" >/dev/null ||
        die "$1 not found: install Debian's $2 (scripts/install-test-deps.sh does)"
}
need node nodejs
need chromium chromium

ready && found "$tools"

need npm npm
mkdir -p "$repo/target"
take_lock "$repo/target/.browser-tools.lock" 600
ready && found "$tools" # made by that other run

log "installing $(grep -o '"playwright-core": *"[^"]*"' "$spec/package.json") into $tools"
started=$(date +%s)
rm -rf "$tools"
mkdir -p "$tools"
cp "$spec/package.json" "$spec/package-lock.json" "$tools/"
if ! PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$tools" --no-audit --no-fund \
    --ignore-scripts --loglevel=error; then
    rm -rf "$tools"
    die "npm ci could not install tests/browser/package-lock.json from the npm registry (see above)"
fi
echo "$want" >"$stamp" # complete: marked last
ready || die "$tools was made but has no playwright-core"
log "installed in $(($(date +%s) - started)) s"
found "$tools"
