#!/usr/bin/env bash
# Soak: the real release binary under mixed HTTP/1.1, HTTP/2 and HTTP/3
# traffic with mirroring, the protocol attacks of tests/attacks/, slow
# clients and smuggling attempts, for a bounded time; then checks that it
# leaked nothing: open descriptors, the live heap and the in-flight gauges
# are back where they were (RSS within a loose bound).
#
#   scripts/soak.sh                    # 300 s measured, about 8 minutes in all
#   scripts/soak.sh --duration 60      # a quick run, about 3 minutes
#
# Options (all in seconds unless said):
#   --duration N    the measured phase (default 300)
#   --warmup N      the warm-up phase before it (default 30)
#   --settle N      quiet time after each phase (default 15)
#   --heap-bound M  allowed growth of the live heap, MiB (default 8)
#   --rss-bound M   allowed RSS growth, MiB (default 128: a gross-leak
#                   backstop; the heap bound is the leak check)
#   --fd-slack N    allowed growth of open descriptors (default 8)
#   --sources LIST  only these traffic sources, comma-separated (default all:
#                   wrk,h2load,h3,edge,h2-attacks,quic-attacks,slowloris,
#                   slow-body,smuggle), to find which one a growth comes from
#   --keep          keep the work directory (configs, logs, raw outputs)
#
# On loopback: mirrorgate (its own config, self-signed certificate,
# HTTP/1.1 + HTTP/2 over TLS, plain HTTP/1.1, HTTP/3) in front of nginx
# (`return 200`, and /slow/ answered after 1 s), with three mirrors:
# another nginx over h2c at 50%, a blackhole that accepts and never reads
# at 100% (its in-flight cap drops most copies), and a closed port at 10%.
#
# The same traffic mix runs twice, concurrently within each phase: a
# warm-up, then the measured phase. RSS, descriptors, the live heap and
# /metrics are read after each phase plus a settle longer than
# every idle and request timeout of the soak config (so every connection
# the clients left has been closed). The leak check is the live heap:
# `mirrorgate_allocator_allocated_bytes` (jemalloc's `stats.allocated`,
# bytes allocated and not yet freed, read fresh at each scrape). RSS is
# not: the allocator keeps freed pages for a while and RSS creeps up with
# traffic although nothing is kept, so RSS only has a loose bound that a
# gross leak would pass.
#
# Traffic (each source bounded by the phase's deadline and by timeout(1)):
# wrk (HTTPS GET, paced) and wrk (plain HTTP POST 16 KiB), h2load (GET,
# and POST 64 KiB, at fixed rates), two HTTP/3 curl loops (GETs and
# 64 KiB POSTs, many requests per connection), an edge-case loop over all
# three protocols (bodies over the mirror's size limit and over the
# request body limit, requests cut by the client while the backend is
# slow, oversized headers and URIs), the h2_* and quic_* attack scripts
# round after round, 300 slowloris and 40 slow-body connections, and
# HTTP/1.1 smuggling attempts.
#
# Writes benches/results/soak-DATE.md (also printed). Exits 1 when
# descriptors grew by more than the slack, the live heap or RSS by more
# than its bound, an in-flight or open-connection gauge is not 0 after the
# settle, or the proxy died or panicked. Every process started here is stopped by PID on
# exit; everything binds 127.0.0.1 (and the QUIC attacker 127.0.0.2).
set -euo pipefail
shopt -s inherit_errexit

ALL_SOURCES=wrk,h2load,h3,edge,h2-attacks,quic-attacks,slowloris,slow-body,smuggle
DURATION=300 WARMUP=30 SETTLE=15 HEAP_BOUND_MIB=8 RSS_BOUND_MIB=128 FD_SLACK=8 KEEP=0 SOURCES=$ALL_SOURCES
usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}
# value OPTION ARG: ARG, checked to be a whole number.
value() {
    [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "soak: $1 needs a whole number" >&2 && usage; }
    echo "$2"
}
while [ $# -gt 0 ]; do
    case "$1" in
    --duration) DURATION="$(value "$1" "${2:-}")" && shift ;;
    --warmup) WARMUP="$(value "$1" "${2:-}")" && shift ;;
    --settle) SETTLE="$(value "$1" "${2:-}")" && shift ;;
    --heap-bound) HEAP_BOUND_MIB="$(value "$1" "${2:-}")" && shift ;;
    --rss-bound) RSS_BOUND_MIB="$(value "$1" "${2:-}")" && shift ;;
    --fd-slack) FD_SLACK="$(value "$1" "${2:-}")" && shift ;;
    --sources) SOURCES="${2:-}" && shift ;;
    --keep) KEEP=1 ;;
    -h | --help) usage ;;
    *) echo "soak: unknown option $1" >&2 && usage ;;
    esac
    shift
done
for source in ${SOURCES//,/ }; do
    [[ ",$ALL_SOURCES," == *",$source,"* ]] || { echo "soak: unknown source $source" >&2 && usage; }
done
if [ "$DURATION" -lt 10 ] || [ "$WARMUP" -lt 10 ]; then
    echo "soak: --duration and --warmup must be at least 10" >&2
    exit 2
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh # free_port, wait_for
log() { echo "soak: $*" >&2; }

# --- tools and the binary -------------------------------------------------------

bash scripts/install-bench-deps.sh
PY="$(bash scripts/py-tools.sh)"      # h2, aioquic, prometheus_client
H3CURL="$(bash scripts/h3-curl.sh)"
cargo build --release -p mirrorgate >&2
BIN="$PWD/target/release/mirrorgate"
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
# 300 slowloris connections and the load generators, with room to spare.
ulimit -n "$(ulimit -Hn)"

work="$(mktemp -d)"
report="$work/report"
mkdir -p "$report"
pids=()    # servers and the sampler, for the whole run
running=() # the current phase's traffic sources

# Stops a process and everything it started, children first, by PID.
# shellcheck disable=SC2317 # reached from the EXIT trap
kill_tree() {
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$child"; done
    kill "$1" 2>/dev/null || true
}
# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
    local pid
    for pid in "${running[@]}" "${pids[@]}"; do kill_tree "$pid"; done
    wait 2>/dev/null || true
    if [ "$KEEP" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

PROXY=$(free_port) HTTP=$(free_port) ADMIN=$(free_port) ORIGIN=$(free_port) MIRROR=$(free_port)
SLOW=$(free_port) SINK=$(free_port) BLACKHOLE=$(free_port) REFUSED=$(free_port)

# --- backends -------------------------------------------------------------------

# One nginx: the origin (HTTP/1.1) and the good mirror (h2c). The origin
# answers at once, except /slow/ (proxied to a server that answers after
# 1 s) and /post/ (proxied to a sink, so that nginx reads each body whole
# before answering: a `return` would answer before the body arrived, and
# the proxy would never stream it nor wait for it). Bodies of any size
# are taken: the proxy's limits are under test, not nginx's.
# keepalive_requests makes both close their keep-alive connections now
# and then, so the proxy's pools reconnect during the soak.
cat >"$work/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 20000; }
http {
    access_log off;
    client_max_body_size 0;
    keepalive_requests 10000;
    client_body_buffer_size 1m;
    client_body_temp_path $work/nginx-body;
    proxy_temp_path $work/nginx-proxy;
    upstream sink { server 127.0.0.1:$SINK; keepalive 16; }
    server {
        listen 127.0.0.1:$ORIGIN;
        location / { return 200 "origin\n"; }
        location /slow/ { proxy_pass http://127.0.0.1:$SLOW; }
        location /post/ {
            proxy_pass http://sink;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
    server { listen 127.0.0.1:$SINK; location / { return 200 "origin read the body\n"; } }
    server { listen 127.0.0.1:$MIRROR http2; location / { return 200 "mirror\n"; } }
}
NGINX
# nginx makes its temporary folders for its worker's user (www-data when
# run as root), who must be able to reach them.
chmod 755 "$work"
"$NGINX" -c "$work/nginx.conf" -e "$work/nginx-error.log" &
pids+=($!)
python3 benches/slow_mirror.py "$SLOW" 2>/dev/null &
pids+=($!)
# Holds what it accepts for longer than the whole run: to the proxy it
# never reads and never answers.
python3 scripts/soak/blackhole.py "$BLACKHOLE" --hold $((WARMUP + DURATION + 2 * SETTLE + 300)) &
pids+=($!)

# --- mirrorgate -----------------------------------------------------------------

# Short timeouts so that a 15 s settle outlasts every one of them: TLS
# handshake 3 s, HTTP/1.1 head and keep-alive 3 s, HTTP/2 keep-alive
# ping 4 s + 3 s, QUIC idle 5 s and handshake 3 s, body stall 3 s, backend
# request 5 s and pooled idle 5 s, mirror request 2 s. Retry under load
# from 16 pending handshakes and 16 QUIC connections per address (instead
# of 128 and 64), so the attacks reach them: the attackers are slower
# than real ones, and connections they leave idle time out meanwhile.
# Request bodies up to 8 MiB (9 MiB ones get 413). No [tls]: a
# self-signed certificate for localhost.
cat >"$work/mirrorgate.toml" <<TOML
[listen]
http = ["127.0.0.1:$HTTP"]
https = ["127.0.0.1:$PROXY"]
http3 = ["127.0.0.1:$PROXY"]
tls_handshake_timeout = "3s"

[admin]
listen = "127.0.0.1:$ADMIN"

[http1]
header_read_timeout = "3s"

[http2]
keep_alive_interval = "4s"
keep_alive_timeout = "3s"

[http3]
idle_timeout = "5s"
handshake_timeout = "3s"
retry_above_handshakes = 16
max_connections_per_ip = 16

[proxy]
max_request_body_size = 8388608
body_read_timeout = "3s"

[[services]]
name = "origin"
backends = ["http://127.0.0.1:$ORIGIN"]
connect_timeout = "2s"
request_timeout = "5s"
idle_timeout = "5s"

[[services.mirrors]]
name = "staging"
backends = ["http://127.0.0.1:$MIRROR"]
percent = 50
request_timeout = "2s"

[[services.mirrors]]
name = "blackhole"
backends = ["http://127.0.0.1:$BLACKHOLE"]
percent = 100
protocol = "http1"
max_in_flight = 64
connect_timeout = "1s"
request_timeout = "2s"

[[services.mirrors]]
name = "refused"
backends = ["http://127.0.0.1:$REFUSED"]
percent = 10
connect_timeout = "1s"
request_timeout = "2s"

[[routes]]
service = "origin"
TOML
"$BIN" check --config "$work/mirrorgate.toml" >/dev/null
RUST_LOG=warn "$BIN" run --config "$work/mirrorgate.toml" 2>"$work/mirrorgate.log" &
MG=$!
pids+=("$MG")

wait_for "https://127.0.0.1:$PROXY/" "$work/mirrorgate.log"
wait_for "http://127.0.0.1:$ADMIN/metrics" "$work/mirrorgate.log"
wait_for "http://127.0.0.1:$SLOW/" "$work/mirrorgate.log"
log "mirrorgate (pid $MG) on https/h3 $PROXY, http $HTTP, admin $ADMIN; work dir $work"

# --- measuring ------------------------------------------------------------------

metrics() { curl -sf --max-time 10 "http://127.0.0.1:$ADMIN/metrics"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$MG/status"; }
fds() { find "/proc/$MG/fd" -mindepth 1 -maxdepth 1 | wc -l; }
# Sum of every sample of gauge $1 in the /metrics text on stdin.
gauge_sum() { awk -v name="$1" 'index($0, name "{") == 1 || $1 == name { s += $NF } END { print s + 0 }'; }

# RSS, descriptors and the gauges every 5 s, with the phase they are in.
echo warmup >"$work/phase"
sampler() {
    local start=$SECONDS text
    while kill -0 "$MG" 2>/dev/null; do
        text="$(metrics || true)"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$((SECONDS - start))" "$(cat "$work/phase")" "$(rss_kib)" "$(fds)" \
            "$(gauge_sum mirrorgate_connections_open <<<"$text")" \
            "$(gauge_sum mirrorgate_requests_in_flight <<<"$text")" \
            "$(gauge_sum mirrorgate_mirror_in_flight <<<"$text")" >>"$report/samples.tsv"
        sleep 5
    done
}
sampler &
pids+=($!)

snapshot() { # before|after
    metrics >"$report/metrics-$1.txt"
    # The live heap in bytes, from that scrape (0 if it failed: the
    # verdict fails).
    local heap
    heap="$(gauge_sum mirrorgate_allocator_allocated_bytes <"$report/metrics-$1.txt")"
    printf '{"rss_kib": %s, "fds": %s, "heap_bytes": %s}\n' "$(rss_kib)" "$(fds)" "$heap" >"$report/proc-$1.json"
    log "$1: RSS $(($(rss_kib) / 1024)) MiB, live heap $((heap / 1024)) KiB, $(fds) descriptors"
}

# --- traffic --------------------------------------------------------------------

head -c 16384 /dev/zero | tr '\0' x >"$work/body-16k"
head -c 65536 /dev/zero | tr '\0' x >"$work/body-64k"
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' x >"$work/body-2m"  # over the mirror's 1 MiB
head -c $((9 * 1024 * 1024)) /dev/zero | tr '\0' x >"$work/body-9m"  # over the 8 MiB limit
# wrk: a pause after each answer paces it (wrk has no rate option), so
# the attacks and slow clients get their share of the two cores.
cat >"$work/get.lua" <<'LUA'
function delay() return 10 end
LUA
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = string.rep("x", 16384)
wrk.headers["Content-Type"] = "application/octet-stream"
function delay() return 20 end
LUA

# curl's URLs name localhost (the certificate's name: an IP address as
# SNI is not allowed, rustls warns) and pin it to 127.0.0.1.
URL="https://localhost:$PROXY"
RESOLVE=(--resolve "localhost:$PROXY:127.0.0.1")

# Appends "LABEL<TAB>STATUS<TAB>ERROR" for each of curl's transfers
# (status 000: no answer; the error says why).
CURL_OUT='%{http_code}\t%{errormsg}\n'
curl_codes() { # label curl-args...
    local label="$1"
    shift
    "$@" -s -k -o /dev/null -w "$CURL_OUT" 2>/dev/null | awk -v l="$label" '{ print l "\t" $0 }' >>"$report/curl.txt" || true
}

# HTTP/3 with curl: 20 GETs on one connection, then 5 POSTs of 64 KiB.
h3_loop() { # deadline
    local gets=() i
    for i in $(seq 20); do gets+=(-o /dev/null "$URL/h3/$i"); done
    while [ "$SECONDS" -lt "$1" ]; do
        "$H3CURL" "${RESOLVE[@]}" -sk --http3-only --max-time 30 -w "h3 GET\t$CURL_OUT" "${gets[@]}" 2>/dev/null >>"$report/curl.txt" || true
        for i in $(seq 5); do
            curl_codes "h3 POST 64 KiB" "$H3CURL" "${RESOLVE[@]}" --http3-only --max-time 30 --data-binary "@$work/body-64k" "$URL/post/h3"
        done
    done
}

# What edge cases each protocol meets, one request at a time.
edge_loop() { # deadline
    local proto args big_header long_uri
    big_header="X-Big: $(head -c 70000 /dev/zero | tr '\0' b)"
    long_uri="/long/$(head -c 10000 /dev/zero | tr '\0' u)"
    while [ "$SECONDS" -lt "$1" ]; do
        for proto in h1 h2 h3; do
            case $proto in
            h1) args=("$H3CURL" "${RESOLVE[@]}" --http1.1) ;;
            h2) args=("$H3CURL" "${RESOLVE[@]}" --http2) ;;
            h3) args=("$H3CURL" "${RESOLVE[@]}" --http3-only) ;;
            esac
            curl_codes "$proto POST 2 MiB (mirror body_too_large)" "${args[@]}" --max-time 30 --data-binary "@$work/body-2m" "$URL/post/big"
            curl_codes "$proto POST 9 MiB (over the body limit)" "${args[@]}" --max-time 30 --data-binary "@$work/body-9m" "$URL/post/huge"
            curl_codes "$proto GET /slow/ cut after 0.3 s" "${args[@]}" --max-time 0.3 "$URL/slow/cut"
            curl_codes "$proto GET /slow/ (1 s backend)" "${args[@]}" --max-time 30 "$URL/slow/wait"
            curl_codes "$proto 70 KB header" "${args[@]}" --max-time 30 -H "$big_header" "$URL/big-header"
            curl_codes "$proto 10 KB URI" "${args[@]}" --max-time 30 "$URL$long_uri"
        done
    done
}

# Whether traffic source $1 is on (--sources).
on() { [[ ",$SOURCES," == *",$1,"* ]]; }

# One phase of traffic: every source at once for $2 seconds.
traffic() { # phase seconds
    local phase="$1" secs="$2" deadline bound job
    echo "$phase" >"$work/phase"
    log "$phase: $secs s of traffic"
    deadline=$((SECONDS + secs))
    # Hard bound on any source, past its own: the last attack may run
    # 30 s past the deadline (scripts/soak/attacks.py).
    bound=(timeout --kill-after=10 $((secs + 60)))
    if on wrk; then
        "${bound[@]}" wrk -t1 -c16 -d"${secs}s" -s "$work/get.lua" "https://127.0.0.1:$PROXY/wrk" >"$work/wrk-get-$phase.out" 2>&1 &
        running+=($!)
        "${bound[@]}" wrk -t1 -c8 -d"${secs}s" -s "$work/post.lua" "http://127.0.0.1:$HTTP/post/wrk" >"$work/wrk-post-$phase.out" 2>&1 &
        running+=($!)
    fi
    if on h2load; then
        "${bound[@]}" h2load -c4 -m10 --rps 50 -D "$secs" "https://127.0.0.1:$PROXY/h2load" >"$work/h2load-get-$phase.out" 2>&1 &
        running+=($!)
        "${bound[@]}" h2load -c2 -m4 --rps 10 -D "$secs" -d "$work/body-64k" "https://127.0.0.1:$PROXY/post/h2load" >"$work/h2load-post-$phase.out" 2>&1 &
        running+=($!)
    fi
    if on h3; then
        h3_loop "$deadline" &
        running+=($!)
        h3_loop "$deadline" &
        running+=($!)
    fi
    if on edge; then
        edge_loop "$deadline" &
        running+=($!)
    fi
    if on h2-attacks; then
        "${bound[@]}" "$PY" scripts/soak/attacks.py h2 "$PROXY" --seconds "$secs" --out "$report/attacks.jsonl" &
        running+=($!)
    fi
    if on quic-attacks; then
        "${bound[@]}" "$PY" scripts/soak/attacks.py quic "$PROXY" --seconds "$secs" --out "$report/attacks.jsonl" &
        running+=($!)
    fi
    if on slowloris; then
        "${bound[@]}" python3 scripts/soak/slow_clients.py headers --plain "$HTTP" --tls "$PROXY" --connections 300 --seconds "$secs" >>"$report/clients.jsonl" &
        running+=($!)
    fi
    if on slow-body; then
        "${bound[@]}" python3 scripts/soak/slow_clients.py body --plain "$HTTP" --tls "$PROXY" --connections 40 --seconds "$secs" >>"$report/clients.jsonl" &
        running+=($!)
    fi
    if on smuggle; then
        "${bound[@]}" python3 scripts/soak/smuggle.py --plain "$HTTP" --tls "$PROXY" --seconds "$secs" >>"$report/clients.jsonl" &
        running+=($!)
    fi
    for job in "${running[@]}"; do wait "$job" || true; done
    running=() # waited for: their PIDs may be reused
    kill -0 "$MG" 2>/dev/null || log "mirrorgate died during the $phase"
    load_summary "$phase"
}

# "LABEL<TAB>requests<TAB>non-2xx or errors" of wrk and h2load, for the report.
load_summary() { # phase
    local f label
    for f in "$work"/wrk-*-"$1".out; do
        [ -e "$f" ] || continue # wrk was not among the --sources
        label="$(basename "$f" ".out" | sed 's/-/ /g') (HTTP/1.1)"
        awk -v l="$label" '/requests in/ { r = $1 } /Non-2xx/ { e += $NF }
            /Socket errors/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) e += $i }
            END { printf "%s\t%s\t%d\n", l, r, e }' "$f" >>"$report/load.txt"
    done
    for f in "$work"/h2load-*-"$1".out; do
        [ -e "$f" ] || continue
        label="$(basename "$f" ".out" | sed 's/-/ /g') (HTTP/2)"
        # requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
        awk -v l="$label" '/^requests:/ { r = $8; e = $10 + $12 + $14 } /^status codes:/ { e += $5 + $7 + $9 }
            END { printf "%s\t%s\t%d\n", l, r, e }' "$f" >>"$report/load.txt"
    done
}

traffic warmup "$WARMUP"
echo settle >"$work/phase"
sleep "$SETTLE"
snapshot before
traffic measured "$DURATION"
echo settle >"$work/phase"
sleep "$SETTLE"
alive=true
kill -0 "$MG" 2>/dev/null || alive=false
if $alive; then
    snapshot after
else
    # Nothing to read from a dead process: the verdict fails on "alive".
    cp "$report/metrics-before.txt" "$report/metrics-after.txt"
    echo '{"rss_kib": 0, "fds": 0, "heap_bytes": 0}' >"$report/proc-after.json"
fi

# --- the report -----------------------------------------------------------------

export DURATION WARMUP SETTLE HEAP_BOUND_MIB RSS_BOUND_MIB FD_SLACK SOURCES alive
SOAK_VERSION="$("$BIN" --version | awk '{print $2}')"
SOAK_MACHINE="$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(uname -r); shared with other work, so rates are whatever it gave."
SOAK_PANICS="$(grep -c 'panicked' "$work/mirrorgate.log" || true)"
# WARN and above, grouped by level, target and message (fields dropped).
SOAK_LOG="$(grep -E ' (WARN|ERROR) ' "$work/mirrorgate.log" | sed -E 's/^[^ ]+ +//; s/ [a-z_.]+=.*//' |
    sort | uniq -c | sort -rn | head -20 || true)"
export SOAK_VERSION SOAK_MACHINE SOAK_PANICS SOAK_LOG
"$PY" - "$report/samples.tsv" >"$report/meta.json" <<'PY'
import json, os, sys
rows = [l.split("\t") for l in open(sys.argv[1]) if l.strip()]
e = os.environ
print(json.dumps({
    "started": e["SOAK_MACHINE"].split(",")[0],
    "machine": e["SOAK_MACHINE"],
    "version": e["SOAK_VERSION"],
    "duration": int(e["DURATION"]), "warmup": int(e["WARMUP"]), "settle": int(e["SETTLE"]),
    "heap_bound_mib": int(e["HEAP_BOUND_MIB"]), "rss_bound_mib": int(e["RSS_BOUND_MIB"]), "fd_slack": int(e["FD_SLACK"]),
    "alive": e["alive"] == "true", "panics": int(e["SOAK_PANICS"] or 0),
    "peak_rss_kib": max((int(r[2]) for r in rows if r[2]), default=0),
    "peak_fds": max((int(r[3]) for r in rows if r[3]), default=0),
    "log_summary": e["SOAK_LOG"],
    "sources": e["SOURCES"],
}))
PY
out="benches/results/soak-$(date -u +%Y%m%d-%H%M%S).md"
status=0
"$PY" scripts/soak/report.py "$report" >"$out" || status=$?
cat "$out"
log "written: $out"
exit "$status"
