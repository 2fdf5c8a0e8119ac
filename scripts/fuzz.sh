#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time, one after the
# other, and fails on the first crash, naming the input that caused it.
#
#   scripts/fuzz.sh                  # 15 s per target (the test command's run)
#   scripts/fuzz.sh --long 600       # 10 minutes per target
#   scripts/fuzz.sh h1_request       # some targets only (default: all)
#
# Targets (fuzz/fuzz_targets/):
#   config          bytes as a config file through `mirrorgate check`'s parse
#                   and build: no panic, errors say what and where
#   h1_request      bytes as a client's HTTP/1.1 connection through the real
#                   listener and core to a backend that checks what it gets
#                   (no smuggling, no hop-by-hop headers, valid values)
#   headers         arbitrary headers through the core's header hygiene
#   pseudo_headers  HTTP/2 and HTTP/3 pseudo-header fields built into
#                   requests as h2/h3 do, through the core to the backend
#
# Needs the nightly toolchain (`rustup toolchain install nightly`): libFuzzer
# builds need `-Zsanitizer`. cargo-fuzz itself is installed once from
# crates.io (pinned below; bump here) into target/fuzz-tools/ and reused; a
# second run installs nothing. Nothing is installed system-wide.
#
# The seed inputs in fuzz/corpus/TARGET/ are read only; what libFuzzer
# learns is kept in fuzz/target/grown-corpus/TARGET/ (git-ignored), so
# later runs start where earlier ones stopped. A crash leaves its input in
# fuzz/artifacts/TARGET/; replay it with
#   cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...
# (with target/fuzz-tools/bin on PATH).
set -euo pipefail
shopt -s inherit_errexit

TOOL=fuzz.sh
# shellcheck source=scripts/tool-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/tool-lib.sh"

seconds=15
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
    --long)
        if [ $# -lt 2 ] || ! [[ "$2" =~ ^[1-9][0-9]*$ ]]; then
            die "--long needs a number of seconds per target"
        fi
        seconds="$2"
        shift 2
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
        targets+=("$1")
        shift
        ;;
    esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$repo"

cargo_fuzz_version=0.13.2
tools="$repo/target/fuzz-tools"

command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs)"
cargo +nightly --version >/dev/null 2>&1 ||
    die "the nightly toolchain is missing: rustup toolchain install nightly (libFuzzer builds need -Zsanitizer)"

cargo_install_once cargo-fuzz "$cargo_fuzz_version" "$tools" 900
export PATH="$tools/bin:$PATH"

if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
[ ${#targets[@]} -gt 0 ] || die "no fuzz targets found in fuzz/"

log "building ${targets[*]} (the first build takes several minutes)"
started=$(date +%s)
cargo +nightly fuzz build
log "built in $(($(date +%s) - started)) s"

logs="$repo/fuzz/target/logs"
mkdir -p "$logs"
# The config target writes each input to a scratch file (the binary reads
# configs from files): keep those in the git-ignored build folder.
export TMPDIR="$repo/fuzz/target/tmp"
mkdir -p "$TMPDIR"
summary=()
for target in "${targets[@]}"; do
    grown="$repo/fuzz/target/grown-corpus/$target"
    seeds="$repo/fuzz/corpus/$target"
    mkdir -p "$grown" "$seeds"
    args=(
        -max_total_time="$seconds"
        -timeout=60          # one input; the harness gives up on a hang after 30 s
        -rss_limit_mb=4096
        -max_len=16384
        -print_final_stats=1
    )
    [ -f "$repo/fuzz/dict/$target.dict" ] && args+=(-dict="$repo/fuzz/dict/$target.dict")
    log "fuzzing $target for $seconds s (log: fuzz/target/logs/$target.log)"
    if ! cargo +nightly fuzz run "$target" "$grown" "$seeds" -- "${args[@]}" \
        >"$logs/$target.log" 2>&1; then
        tail -n 60 "$logs/$target.log" >&2
        artifact="$(grep -o 'Test unit written to [^ ]*' "$logs/$target.log" | tail -n 1 | cut -d' ' -f5 || true)"
        die "$target FAILED: ${artifact:+the input is in $artifact; }full log in $logs/$target.log
Replay: PATH=\"$tools/bin:\$PATH\" cargo +nightly fuzz run $target ${artifact:-ARTIFACT}"
    fi
    # libFuzzer aligns these with spaces: "stat::average_exec_per_sec:     287".
    runs="$(awk '/^stat::number_of_executed_units:/ {n = $2} END {print n}' "$logs/$target.log")"
    rate="$(awk '/^stat::average_exec_per_sec:/ {n = $2} END {print n}' "$logs/$target.log")"
    summary+=("$target: ${runs:-?} runs, ${rate:-?} per second, no crash")
done
printf '%s\n' "${summary[@]}" >&2
echo "fuzz: ${#targets[@]} passed, 0 failed"
