#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this).
#
#   1. installs what the tests need (curl; an HTTP/3-capable curl),
#   2. checks formatting and lints (warnings are errors),
#   3. checks that no crate has a cycle between its modules
#      (scripts/module-cycles.sh; cargo-modules, installed once),
#   4. runs unit tests and the end-to-end tests against the real binary,
#   5. fuzzes every cargo-fuzz target for 15 s (scripts/fuzz.sh; nightly).
#
# Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "test dependencies"
bash scripts/install-test-deps.sh
MIRRORGATE_H3_CURL="$(bash scripts/h3-curl.sh)"
export MIRRORGATE_H3_CURL
echo "HTTP/3 curl: $MIRRORGATE_H3_CURL" >&2

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "module cycles (scripts/module-cycles.sh)"
bash scripts/module-cycles.sh

step "cargo test (unit + end-to-end)"
cargo test --workspace --locked

step "fuzz (every target for 15 s; scripts/fuzz.sh --long N for longer)"
bash scripts/fuzz.sh
