#!/usr/bin/env bash
# Fails if a crate under crates/ has a cycle between its own modules
# (module a uses module b, which uses a again, directly or through
# others), naming the cycle. One concept per module only holds if the
# modules form layers; a cycle means two of them are one concept or a
# type sits in the wrong one.
#
#   scripts/module-cycles.sh                  # every library in crates/
#   scripts/module-cycles.sh mirrorgate-core  # some crates only
#
# The graph comes from `cargo modules dependencies` (cargo-modules, which
# reads the crate as rust-analyzer does: the `use`s that resolve, not
# text), modules only; scripts/module-cycles/find_cycles.py lifts each
# `uses` edge to the two sibling modules it connects and reports every
# cycle among siblings, with the edge behind each step. (A module and its
# own submodules may use each other: re-exports one way, shared items the
# other. cargo-modules' own --acyclic is not used: it works on items, where
# every type whose method names `Self` is a cycle.) It runs on each
# crate's library target; the binary crate's main.rs only calls its
# library. cargo-modules itself is installed once from crates.io (pinned
# below; bump here) into target/module-tools/ and reused: a second run
# installs nothing. Nothing is installed system-wide.
set -euo pipefail
shopt -s inherit_errexit

TOOL=module-cycles.sh
# shellcheck source=scripts/tool-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tool-lib.sh"

case "${1:-}" in
-h | --help)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
-*) die "unknown option $1 (see --help)" ;;
esac

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$repo"

# 0.27.0 is the newest release that builds with Rust 1.95 (0.28 needs 1.98).
cargo_modules_version=0.27.0
tools="$repo/target/module-tools"
cargo_modules="$tools/bin/cargo-modules"

command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs)"

# cargo-modules is rust-analyzer's crates: at the release profile's
# opt-level 3 its build is the longest step of the test command on a
# 2-core CI machine. Optimized lightly it builds faster and still reads
# our six crates in about a minute.
CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_LTO=false \
    cargo_install_once cargo-modules "$cargo_modules_version" "$tools" 1800

# The crates to check: the arguments, or every crate under crates/ that
# has a library.
crates=("$@")
if [ ${#crates[@]} -eq 0 ]; then
    for manifest in crates/*/Cargo.toml; do
        dir="$(dirname "$manifest")"
        [ -f "$dir/src/lib.rs" ] && crates+=("$(basename "$dir")")
    done
fi
[ ${#crates[@]} -gt 0 ] || die "no crates with a library under crates/"

failed=()
for crate in "${crates[@]}"; do
    manifest="crates/$crate/Cargo.toml"
    [ -f "$manifest" ] || die "no $manifest"
    log "$crate"
    graph="$("$cargo_modules" dependencies --manifest-path "$manifest" --package "$crate" \
        --lib --no-fns --no-types --no-traits --no-externs --no-sysroot --layout dot)" ||
        die "cargo-modules could not read $crate (see above)"
    python3 scripts/module-cycles/find_cycles.py "${crate//-/_}" <<<"$graph" >&2 ||
        failed+=("$crate")
done

if [ ${#failed[@]} -gt 0 ]; then
    die "module cycle in ${failed[*]} (above: each arrow is a module using the next, and the use behind it). Break it by moving what both need into a module of its own, or into the one that is used."
fi
echo "module-cycles: ${#crates[@]} crates, no cycle between modules" >&2
