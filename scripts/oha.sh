#!/usr/bin/env bash
# Prints the path of an `oha` binary built with HTTP/3 support, and nothing
# else on stdout (progress and errors go to stderr):
#
#   oha="$(scripts/oha.sh)"
#   "$oha" --insecure --http-version 3 -c 10 -z 8s --no-tui --output-format json URL
#
# Requests per second: take the count of answers over the load duration,
#   sum(.statusCodeDistribution[]) / DURATION   (or only the 2xx ones)
# not `.summary.requestsPerSec`. That field is (answers + errors, including
# the `aborted due to deadline` ones cut off at -z) / `.summary.total`, and
# `.summary.total` is the whole run until oha exits. Checked with 1.16.0:
# against mirrorgate a `-z 8s` run exits after 8.1 s (`total` 8.00), so both
# agree to 0.1%. But after the deadline oha 1.16.0 sends HTTP/3 GOAWAY and
# waits for each QUIC connection to close (read in its source, not seen
# here): mirrorgate closes on GOAWAY, while a server that keeps the
# connection open leaves oha waiting for the QUIC idle timeout (about 30 s,
# as ../shared/BENCHMARKING.md saw), and `total`/`requestsPerSec` include
# that wait. So check `.summary.total` against DURATION. Non-2xx answers are
# in `.statusCodeDistribution`, failed requests in `.errorDistribution`.
#
# oha is built once from crates.io (pinned below; bump here) with
# `cargo install --locked --features http3` into target/bench-tools/ and
# reused: a second run only checks that it is complete (`--version` is the
# pinned one, `--help` lists `--http-version` and HTTP/3 is built in).
# Nothing is installed system-wide. The build takes about 8 minutes on 2 cores; it runs under a
# lock (flock) and is marked complete last, so concurrent callers wait for
# one build instead of racing, and never see a half-made one.
# CARGO_BUILD_JOBS limits the build's parallelism, as for any cargo build.
set -euo pipefail
shopt -s inherit_errexit

exec 3>&1 1>&2 # stdout is for the path only
TOOL=oha.sh
source "$(dirname "${BASH_SOURCE[0]}")/tool-lib.sh"

version=1.16.0
features=http3

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
root="$repo/target/bench-tools"
oha="$root/bin/oha"
# What the binary was built from: a change of version or features rebuilds.
stamp="$root/.oha-made-with"
want="oha $version --locked --features $features"

# `--help` lists --http-version even without HTTP/3; a build without the
# feature has the message below in place of the HTTP/3 client.
ready() {
    [ -x "$oha" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
        [ "$("$oha" --version 2>/dev/null)" = "oha $version" ] &&
        grep -q -- '--http-version' <<<"$("$oha" --help 2>/dev/null)" &&
        ! grep -aqF 'has not been built with HTTP/3 support' "$oha"
}

ready && found "$oha"

command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) to build oha"
command -v cc >/dev/null || die "no C compiler (cc) found: oha's TLS (aws-lc-rs) and SQLite need one (Debian: build-essential)"

mkdir -p "$root"
take_lock "$repo/target/.oha.lock" 1800
ready && found "$oha" # built by that other run

log "building oha $version with --features $features into $root (about 8 minutes)"
rm -f "$stamp"
# A build directory of our own (not a temporary one) so an interrupted build
# resumes where it stopped; removed once the binary is in place.
if ! cargo install "oha@$version" --locked --features "$features" --force \
    --root "$root" --target-dir "$root/build"; then
    partial=""
    [ -d "$root/build" ] && partial="
The partial build is kept in $root/build: a rerun resumes it (remove it to start over)."
    die "cargo install oha@$version --locked --features $features failed (see above).
It needs crates.io (or a configured mirror) and a C compiler (cc).$partial"
fi
rm -rf "$root/build"
echo "$want" >"$stamp" # complete: marked last
ready || die "$oha was built but is not oha $version with HTTP/3 (--http-version 3):
$("$oha" --version 2>&1 || true)"
found "$oha"
