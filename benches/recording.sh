#!/usr/bin/env bash
# Recording cost on the primary path, in one run, as ratios to "off".
#
# mirrorgate (HTTPS + HTTP/3) in front of an nginx origin answering
# `return 200`, with and without a recorder keeping 5% of the traffic:
# redaction on (`authorization`, `cookie:session`, `query:token`,
# `$.password`), zstd files, responses kept. The load is a JSON POST
# carrying every redacted kind of value, over HTTP/1.1 (wrk), HTTP/2
# (h2load) and HTTP/3 (oha). mirrorgate is pinned to core 0, the load
# generators and the origin to core 1 (../shared/BENCHMARKING.md). Writes
# benches/results/recording-DATE.md.
#
#   benches/recording.sh                  # 3 rounds, 8 s per row
#   ROUNDS=1 DURATION=4 benches/recording.sh
#   ONLY="h1 h3" benches/recording.sh     # some protocols only (h1 h2 h3)
#
# Runs on a shared VM vary by 20-30% from one minute to the next, so off
# and on take turns within each round (which one goes first alternates
# between rounds), each cell is the median over the rounds and each ratio
# the median of the same-round ratios: a slow minute hits both alike.
#
# Bounded: each row runs DURATION seconds per round; every process started
# here is stopped by PID on exit.
ROUNDS="${ROUNDS:-3}"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a whole number above 0" >&2; exit 2; }
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# zstd: to read the recordings back and look for secrets in clear.
bash scripts/apt-ensure.sh openssl:openssl zstd:zstd
OHA="$(bash scripts/oha.sh)"
cargo build --release -p mirrorgate >&2
bench_start_origins
PROXY=$(free_port)
PERCENT=5

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

# The request: a login, with a secret of each redacted kind in it.
URL="https://127.0.0.1:$PROXY/api/login?token=tok-4711-secret&page=1"
BODY='{"user":"ada","password":"hunter2-secret","remember":true}'
HEADERS=(-H "Authorization: Bearer bearer-4711-secret" -H "Cookie: session=sess-4711-secret; theme=dark"
    -H "Content-Type: application/json")
printf '%s' "$BODY" >"$work/body.json"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
LUA

config() { # $1 = recorder block or empty
    cat <<TOML
[listen]
https = ["127.0.0.1:$PROXY"]
http3 = ["127.0.0.1:$PROXY"]

[admin]
enabled = false

[[tls.certificates]]
cert = "$work/cert.pem"
key = "$work/key.pem"

[[services]]
name = "api"
backends = ["http://127.0.0.1:$ORIGIN"]
redact_key = "bench-redact-key-0123456789abcdef"
$1

[[routes]]
service = "api"
TOML
}

recorder() { # $1 = folder
    cat <<TOML
[[services.recorders]]
name = "baseline"
percent = $PERCENT
path = "$1"
max_file_size = "64MiB"
max_files = 20
compress = "zstd"
responses = true
redact = ["authorization", "cookie:session", "query:token", "\$.password"]
TOML
}

load() { # protocol
    case $1 in
        h1) load_wrk "$URL" -s "$work/post.lua" "${HEADERS[@]}" ;;
        h2) load_h2load "$URL" -d "$work/body.json" "${HEADERS[@]}" ;;
        h3) load_oha "$URL" -m POST -d "$BODY" "${HEADERS[@]}" ;;
    esac
}

PROTOCOLS=()
for p in h1 h2 h3; do [[ -z "${ONLY:-}" || " $ONLY " == *" $p "* ]] && PROTOCOLS+=("$p"); done
[ "${#PROTOCOLS[@]}" -gt 0 ] || { echo "ONLY=\"$ONLY\": name one of h1 h2 h3" >&2; exit 2; }

# Per protocol and state (off/on), one line "rps p50 p99 errors" per round.
declare -A RUNS
WRITTEN=""
run_state() { # state round
    local state="$1" round="$2"
    local folder="$work/record-$round" block=""
    if [ "$state" = on ]; then block="$(recorder "$folder")"; fi
    config "$block" >"$work/$state.toml"
    "$BIN" check --config "$work/$state.toml" >/dev/null
    RUST_LOG=warn taskset -c 0 "$BIN" run --config "$work/$state.toml" 2>>"$work/mirrorgate-$state.log" &
    local pid=$!
    pids+=("$pid")
    wait_for "https://127.0.0.1:$PROXY/"
    for p in "${PROTOCOLS[@]}"; do
        local result
        result="$(load "$p")"
        RUNS[$p,$state]+="$result"$'\n'
        echo "round $round: $p recording $state: $result" >&2
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
    if [ "$state" = on ]; then record_facts "$folder" "$round"; fi
}

# What the recorder of round $2 left in $1: entries (when this build has
# `record inspect`) and bytes on disk; exits when a secret is in clear.
record_facts() {
    local folder="$1" round="$2" bytes entries=""
    bytes=$(find "$folder" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
    if [ "$bytes" = 0 ]; then
        echo "round $round: the recorder wrote nothing to $folder: does this build record? ($BIN)" >&2
        exit 1
    fi
    if "$BIN" record inspect --help >/dev/null 2>&1; then
        entries=$("$BIN" record inspect "$folder"/* | awk '/^entries:/ { print $2 }')
    fi
    # Decompressed to a file first: `grep -q` ending a pipe early would
    # fail the pipe under pipefail and hide what it found.
    zstd -dcq "$folder"/* >"$work/record-$round.jsonl"
    if grep -q -e '-4711-secret' -e 'hunter2-secret' "$work/record-$round.jsonl"; then
        echo "round $round: a secret is in clear in $folder" >&2
        exit 1
    fi
    [ "$round" = 1 ] && WRITTEN="${entries:-?} entries, $bytes bytes (zstd) in round 1"
    return 0
}

for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then run_state off "$round"; run_state on "$round"
    else run_state on "$round"; run_state off "$round"; fi
done

ms() { awk -v us="$1" 'BEGIN { printf "%.2f ms", us / 1000 }'; }
label() { case $1 in h1) echo "HTTPS HTTP/1.1";; h2) echo "HTTPS HTTP/2";; h3) echo "HTTP/3";; esac; }
out="benches/results/recording-$(date -u +%Y%m%d-%H%M%S).md"
{
    echo "# Recording cost on the primary path"
    echo
    machine
    echo "mirrorgate $("$BIN" --version | awk '{print $2}') (release) on core 0; load generators and the origin (nginx \`return 200\`) on core 1."
    echo "HTTP/1.1: wrk -t1 -c$CONNECTIONS; HTTP/2: h2load -c10 -m10; HTTP/3: oha -c$CONNECTIONS ($("$OHA" --version)); ${DURATION} s per row."
    echo "Load: POST of a ${#BODY}-byte JSON body with an Authorization header, a session cookie and a token in the query."
    echo "Recording on: $PERCENT% to zstd files, responses kept, redact = authorization, cookie:session, query:token, \$.password."
    echo "Each cell is the median of $ROUNDS rounds (off and on take turns in each); each ratio the median of the same-round ratios."
    echo
    echo "| protocol | recording | req/s | p50 | p99 | errors | req/s on/off | p99 on/off |"
    echo "|---|---|---|---|---|---|---|---|"
    for p in "${PROTOCOLS[@]}"; do
        for state in off on; do
            read -r rps p50 p99 errors <<<"$(median_of_runs "${RUNS[$p,$state]}")"
            if [ "$state" = on ]; then
                ratios="$(median_ratio_of "${RUNS[$p,on]}" "${RUNS[$p,off]}" 1) | $(median_ratio_of "${RUNS[$p,on]}" "${RUNS[$p,off]}" 3)"
            else
                ratios="1.000 | 1.000"
            fi
            echo "| $(label "$p") | $state | $rps | $(ms "$p50") | $(ms "$p99") | $errors | $ratios |"
        done
    done
    echo
    echo "Recorded: $WRITTEN; no secret in clear in any round's files (zstd -dc | grep)."
    echo
    for p in "${PROTOCOLS[@]}"; do
        for state in off on; do
            echo "- $(label "$p") recording $state, req/s by round: $(awk '{ printf "%s ", $1 }' <<<"${RUNS[$p,$state]}")"
        done
    done
} >"$out"
cat "$out"
echo "written: $out" >&2
