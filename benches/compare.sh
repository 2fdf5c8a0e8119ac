#!/usr/bin/env bash
# mirrorgate against the direct origin, nginx and HAProxy, in one run.
#
#   benches/compare.sh                # 3 rounds of 8 s per row, about 13 minutes
#   DURATION=4 ROUNDS=1 benches/compare.sh   # a quicker, noisier look
#
# On loopback, one row after another: the proxy under test (mirrorgate or
# nginx, one worker) pinned to core 0, the load generator and the origins
# to core 1 (../shared/BENCHMARKING.md). The same origin (nginx `return
# 200`) behind every proxy, the same ECDSA P-256 certificate in front.
#
# Rows: the origin alone; mirrorgate, nginx and HAProxy (one thread,
# `http-reuse always`) over HTTPS HTTP/1.1 (wrk), a bare quinn + h3
# responder over HTTP/3 as its ceiling (benches/src/bin/h3-ceiling.rs),
# HTTP/2 (h2load) and, mirrorgate only, HTTP/3 (oha; Debian's nginx has
# none); mirroring at 10%, 100% and to a mirror answering after 1 s, for
# both (nginx with its `mirror` directive; mirrorgate's 10% and 1 s rows
# over each protocol); new TLS connections per second; each proxy with
# two workers on both cores against its one-core rows (the multi-core
# scaling); memory idle, under load and with 10,000 idle keep-alive
# connections.
# Each row is compared with the reference row of its kind (see the "vs"
# column). Every row runs once per round, rounds one after another; each
# cell is the median over the rounds (errors: the sum), and each ratio the
# median of the ratios within each round (a row against its reference of
# the same round): a shared 2-core machine drifts by 20-50% between
# single runs of the same row, enough to flip a ratio, while rows of one
# round, minutes apart, mostly see the same machine.
# Writes benches/results/compare-DATE.md.
#
# A/B against an earlier build, in the same run (a refactoring must not
# cost speed; two runs minutes apart differ more than the change does):
#
#   BASELINE=/path/to/old/mirrorgate benches/compare.sh          # all rows + A/B
#   BASELINE=/path/to/old/mirrorgate AB_ONLY=1 benches/compare.sh  # A/B rows only
#
# adds rows "baseline ..." for the old binary's HTTPS HTTP/1.1, HTTP/2,
# HTTP/3 and new-connection rows and a table of this build's req/s and p99
# over the baseline's. The two binaries take turns within a round, the
# first one alternating between rounds, so drift does not favour either.
# AB_ONLY=1 leaves out nginx, HAProxy, mirroring and memory.
#
# Bounded: every row runs DURATION seconds; every process started here is
# stopped by PID on exit.
IDLE_CONNECTIONS="${IDLE_CONNECTIONS:-10000}"
ROUNDS="${ROUNDS:-3}"
BASELINE="${BASELINE:-}"
AB_ONLY="${AB_ONLY:-}"
if [ -n "$BASELINE" ] && ! [ -x "$BASELINE" ]; then
    echo "BASELINE=$BASELINE is not an executable mirrorgate binary" >&2
    exit 2
fi
if [ -n "$AB_ONLY" ] && [ -z "$BASELINE" ]; then
    echo "AB_ONLY=1 needs BASELINE=/path/to/old/mirrorgate" >&2
    exit 2
fi
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a whole number above 0" >&2; exit 2; }
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash scripts/apt-ensure.sh openssl:openssl
OHA="$(bash scripts/oha.sh)"
cargo build --release -p mirrorgate -p mirrorgate-benches >&2
IDLE="$PWD/target/release/idle-conns"
CEILING="$PWD/target/release/h3-ceiling"
# 10,000 idle connections need more descriptors than the usual 1024.
ulimit -n "$(ulimit -Hn)"
bench_start_origins
PROXY=$(free_port) NGX=$(free_port) HAP=$(free_port) CEIL=$(free_port)
HAPROXY="$(command -v haproxy || echo /usr/sbin/haproxy)"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

# --- the proxies ------------------------------------------------------------

mirrorgate_config() { # $1 = mirror block or empty
    cat <<TOML
[listen]
https = ["127.0.0.1:$PROXY"]
http3 = ["127.0.0.1:$PROXY"]

[admin]
enabled = false

[runtime]
worker_threads = ${WORKERS:-1}

[[tls.certificates]]
cert = "$work/cert.pem"
key = "$work/key.pem"

[[services]]
name = "origin"
backends = ["http://127.0.0.1:$ORIGIN"]
$1

[[routes]]
service = "origin"
TOML
}

nginx_config() { # $1 = mirror percent (empty: none), $2 = mirror upstream
    local mirror="" split="" target=""
    if [ -n "${1:-}" ]; then
        # nginx mirrors every request it is told to; a split on the
        # request id leaves 100-N% of the subrequests empty.
        split="split_clients \$request_id \$mirrored { $1% \"yes\"; * \"\"; }"
        mirror="mirror /_mirror; mirror_request_body on;"
        target="location = /_mirror {
            internal;
            if (\$mirrored = \"\") { return 204; }
            proxy_pass http://mirror\$request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }"
    fi
    nginx_head nginx
    cat <<NGINX
http {
    access_log off;
    keepalive_requests 1000000;
    upstream origin { server 127.0.0.1:$ORIGIN; keepalive 64; }
    upstream mirror { server ${2:-127.0.0.1:$MIRROR_H1}; keepalive 64; }
    $split
    server {
        listen 127.0.0.1:$NGX ssl http2;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            $mirror
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
        }
        $target
    }
}
NGINX
}

# HAProxy, the strongest per-core peer: one thread, the same certificate
# (crt takes chain and key in one file), keep-alive to the origin reused
# across client connections (`http-reuse always`).
haproxy_config() {
    cat <<HAPROXY
global
    nbthread ${WORKERS:-1}
    maxconn 5000
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    http-reuse always
frontend fe
    bind 127.0.0.1:$HAP ssl crt $work/haproxy.pem alpn h2,http/1.1
    default_backend origin
backend origin
    server origin 127.0.0.1:$ORIGIN
HAPROXY
}

PROXY_PID=""
# The proxy under test runs on core 0, with one worker, unless the
# multi-core rows widen both.
PROXY_CPUS=0
start_mirrorgate() { # $1 = mirror block, $2 = binary (default: this build)
    local bin="${2:-$BIN}"
    mirrorgate_config "${1:-}" >"$work/mirrorgate.toml"
    "$bin" check --config "$work/mirrorgate.toml" >/dev/null
    RUST_LOG=warn taskset -c "$PROXY_CPUS" "$bin" run --config "$work/mirrorgate.toml" 2>>"$work/mirrorgate.log" &
    PROXY_PID=$!
    pids+=("$PROXY_PID")
    wait_for "https://127.0.0.1:$PROXY/"
}
start_nginx() { # $1 = mirror percent, $2 = mirror upstream
    nginx_config "${1:-}" "${2:-}" >"$work/nginx.conf"
    taskset -c "$PROXY_CPUS" "$NGINX" -c "$work/nginx.conf" -e "$work/nginx-error.log" &
    PROXY_PID=$!
    pids+=("$PROXY_PID")
    wait_for "https://127.0.0.1:$NGX/"
}
start_haproxy() {
    cat "$work/cert.pem" "$work/key.pem" >"$work/haproxy.pem"
    haproxy_config >"$work/haproxy.cfg"
    "$HAPROXY" -c -q -f "$work/haproxy.cfg"
    # -db: in the foreground, so $! is HAProxy itself.
    taskset -c "$PROXY_CPUS" "$HAPROXY" -db -f "$work/haproxy.cfg" 2>>"$work/haproxy.log" &
    PROXY_PID=$!
    pids+=("$PROXY_PID")
    wait_for "https://127.0.0.1:$HAP/"
}
# The HTTP/3 ceiling: a bare quinn + h3 responder (benches/src/bin/
# h3-ceiling.rs) on mirrorgate's crate versions and endpoint settings.
start_h3_ceiling() {
    taskset -c 0 "$CEILING" --addr "127.0.0.1:$CEIL" --cert "$work/cert.pem" --key "$work/key.pem" \
        2>>"$work/h3-ceiling.log" &
    PROXY_PID=$!
    pids+=("$PROXY_PID")
    for _ in $(seq 100); do grep -q serving "$work/h3-ceiling.log" 2>/dev/null && return 0; sleep 0.05; done
    cat "$work/h3-ceiling.log" >&2
    echo "h3-ceiling did not start" >&2
    exit 1
}
stop_proxy() {
    kill "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
}
# RSS of a process and its children (nginx: master + worker), in KiB.
rss_kib() { ps -o rss= --pid "$1" --ppid "$1" | awk '{ s += $1 } END { print s }'; }

# --- rows ---------------------------------------------------------------------

ROWS=()
declare -A RESULT REF RUNS
row() { # name reference-row "rps p50 p99 errors": one more run of the row
    [ -n "${REF[$1]+set}" ] || ROWS+=("$1")
    REF[$1]="$2"
    RUNS[$1]+="$3"$'\n'
    echo "round $round: $1: $3" >&2
}
# The median over the rounds of column $3 (1: req/s, 3: p99) of row $1
# divided by that of row $2 in the same round.
median_ratio() { median_ratio_of "${RUNS[$1]}" "${RUNS[$2]}" "$3"; }

# The reference row $1, or none when AB_ONLY leaves it out.
vs() { [ -n "$AB_ONLY" ] || echo "$1"; }
# The baseline binary's rows (BASELINE), the same loads as this build's.
baseline_rows() {
    start_mirrorgate "" "$BASELINE"
    row "baseline HTTPS HTTP/1.1" "" "$(load_wrk "https://127.0.0.1:$PROXY/")"
    row "baseline HTTPS HTTP/2" "" "$(load_h2load "https://127.0.0.1:$PROXY/")"
    row "baseline HTTP/3" "" "$(load_oha "https://127.0.0.1:$PROXY/")"
    row "baseline new TLS connections" "" "$(load_wrk "https://127.0.0.1:$PROXY/" -H "Connection: close")"
    stop_proxy
}
# Multi-core: each proxy with two workers (mirrorgate `worker_threads =
# 2`, nginx `worker_processes 2`, HAProxy `nbthread 2`) on both cores,
# the load generator unpinned with two threads, against its one-core
# rows of the same round: a scaling factor, reported, not a goal (the
# origin still runs on core 1, and two cores shared by proxy, load and
# origin are not a load-balancer node).
multicore_rows() {
    local PROXY_CPUS=0,1 LOAD_CPUS=0,1 LOAD_THREADS=2 WORKERS=2 NGINX_WORKERS=2
    start_mirrorgate
    row "mirrorgate 2 cores HTTPS HTTP/1.1" "mirrorgate HTTPS HTTP/1.1" "$(load_wrk "https://127.0.0.1:$PROXY/")"
    row "mirrorgate 2 cores HTTPS HTTP/2" "mirrorgate HTTPS HTTP/2" "$(load_h2load "https://127.0.0.1:$PROXY/")"
    row "mirrorgate 2 cores HTTP/3" "mirrorgate HTTP/3" "$(load_oha "https://127.0.0.1:$PROXY/")"
    stop_proxy
    start_nginx
    row "nginx 2 workers HTTPS HTTP/1.1" "nginx HTTPS HTTP/1.1" "$(load_wrk "https://127.0.0.1:$NGX/")"
    row "nginx 2 workers HTTPS HTTP/2" "nginx HTTPS HTTP/2" "$(load_h2load "https://127.0.0.1:$NGX/")"
    stop_proxy
    start_haproxy
    row "haproxy 2 threads HTTPS HTTP/1.1" "haproxy HTTPS HTTP/1.1" "$(load_wrk "https://127.0.0.1:$HAP/")"
    row "haproxy 2 threads HTTPS HTTP/2" "haproxy HTTPS HTTP/2" "$(load_h2load "https://127.0.0.1:$HAP/")"
    stop_proxy
}

for round in $(seq "$ROUNDS"); do

row "origin alone (HTTP/1.1, plain)" "" "$(load_wrk "http://127.0.0.1:$ORIGIN/")"

if [ -z "$AB_ONLY" ]; then
start_nginx
row "nginx HTTPS HTTP/1.1" "" "$(load_wrk "https://127.0.0.1:$NGX/")"
row "nginx HTTPS HTTP/2" "" "$(load_h2load "https://127.0.0.1:$NGX/")"
row "nginx new TLS connections" "" "$(load_wrk "https://127.0.0.1:$NGX/" -H "Connection: close")"
NGINX_IDLE_RSS=$(rss_kib "$PROXY_PID")
stop_proxy
start_haproxy
row "haproxy HTTPS HTTP/1.1" "" "$(load_wrk "https://127.0.0.1:$HAP/")"
row "haproxy HTTPS HTTP/2" "" "$(load_h2load "https://127.0.0.1:$HAP/")"
stop_proxy
start_h3_ceiling
row "h3 ceiling (bare quinn + h3) HTTP/3" "" "$(load_oha "https://127.0.0.1:$CEIL/")"
stop_proxy
fi

if [ -n "$BASELINE" ] && [ $((round % 2)) -eq 1 ]; then baseline_rows; fi
start_mirrorgate
MG_IDLE_RSS=$(rss_kib "$PROXY_PID")
row "mirrorgate HTTPS HTTP/1.1" "$(vs "nginx HTTPS HTTP/1.1")" "$(load_wrk "https://127.0.0.1:$PROXY/")"
( peak=0; while kill -0 "$PROXY_PID" 2>/dev/null; do r=$(rss_kib "$PROXY_PID"); [ "${r:-0}" -gt "$peak" ] && peak=$r && echo "$peak" >"$work/peak"; sleep 0.5; done ) &
sampler=$!
row "mirrorgate HTTPS HTTP/2" "$(vs "nginx HTTPS HTTP/2")" "$(load_h2load "https://127.0.0.1:$PROXY/")"
kill "$sampler" 2>/dev/null || true
MG_LOAD_RSS=$(cat "$work/peak" 2>/dev/null || echo 0)
row "mirrorgate HTTP/3" "mirrorgate HTTPS HTTP/2" "$(load_oha "https://127.0.0.1:$PROXY/")"
row "mirrorgate new TLS connections" "$(vs "nginx new TLS connections")" "$(load_wrk "https://127.0.0.1:$PROXY/" -H "Connection: close")"
stop_proxy
if [ -n "$BASELINE" ] && [ $((round % 2)) -eq 0 ]; then baseline_rows; fi
[ -z "$AB_ONLY" ] || continue

# Mirroring: HTTPS HTTP/1.1 with wrk, against each proxy without it.
start_mirrorgate "$(mirrorgate_mirror "http://127.0.0.1:$MIRROR_H2" 10 h2)"
row "mirrorgate mirroring 10%" "mirrorgate HTTPS HTTP/1.1" "$(load_wrk "https://127.0.0.1:$PROXY/")"
row "mirrorgate mirroring 10% HTTP/2" "mirrorgate HTTPS HTTP/2" "$(load_h2load "https://127.0.0.1:$PROXY/")"
row "mirrorgate mirroring 10% HTTP/3" "mirrorgate HTTP/3" "$(load_oha "https://127.0.0.1:$PROXY/")"
stop_proxy
start_mirrorgate "$(mirrorgate_mirror "http://127.0.0.1:$MIRROR_H2" 100 h2)"
row "mirrorgate mirroring 100%" "mirrorgate HTTPS HTTP/1.1" "$(load_wrk "https://127.0.0.1:$PROXY/")"
stop_proxy
start_mirrorgate "$(mirrorgate_mirror "http://127.0.0.1:$SLOW" 100 http1)"
row "mirrorgate mirroring 100% to a 1 s mirror" "mirrorgate HTTPS HTTP/1.1" "$(load_wrk "https://127.0.0.1:$PROXY/")"
row "mirrorgate mirroring 100% to a 1 s mirror, HTTP/2" "mirrorgate HTTPS HTTP/2" "$(load_h2load "https://127.0.0.1:$PROXY/")"
row "mirrorgate mirroring 100% to a 1 s mirror, HTTP/3" "mirrorgate HTTP/3" "$(load_oha "https://127.0.0.1:$PROXY/")"
stop_proxy
start_nginx 10
row "nginx mirroring 10%" "nginx HTTPS HTTP/1.1" "$(load_wrk "https://127.0.0.1:$NGX/")"
stop_proxy
start_nginx 100
row "nginx mirroring 100%" "nginx HTTPS HTTP/1.1" "$(load_wrk "https://127.0.0.1:$NGX/")"
stop_proxy
start_nginx 100 "127.0.0.1:$SLOW"
row "nginx mirroring 100% to a 1 s mirror" "nginx HTTPS HTTP/1.1" "$(load_wrk "https://127.0.0.1:$NGX/")"
stop_proxy
multicore_rows
done
for name in "${ROWS[@]}"; do RESULT[$name]="$(median_of_runs "${RUNS[$name]}")"; done

# Memory with many idle keep-alive connections.
idle_rss() { # proxy pid, port -> RSS while holding IDLE_CONNECTIONS open
    taskset -c 1 "$IDLE" --addr "127.0.0.1:$2" --count "$IDLE_CONNECTIONS" --hold 600 --host localhost --path / \
        >"$work/idle.out" 2>"$work/idle.err" &
    local client=$!
    for _ in $(seq 1200); do grep -q '^ready' "$work/idle.out" 2>/dev/null && break; kill -0 "$client" 2>/dev/null || break; sleep 0.1; done
    grep -q '^ready' "$work/idle.out" || { cat "$work/idle.err" >&2; echo "idle-conns did not reach $IDLE_CONNECTIONS connections" >&2; exit 1; }
    sleep 1
    rss_kib "$1"
    kill "$client" 2>/dev/null || true
    wait "$client" 2>/dev/null || true
}
if [ -z "$AB_ONLY" ]; then
start_mirrorgate
MG_IDLE_RSS=$(rss_kib "$PROXY_PID")
MG_CONNS_RSS=$(idle_rss "$PROXY_PID" "$PROXY")
stop_proxy
start_nginx
NGINX_IDLE_RSS=$(rss_kib "$PROXY_PID")
NGINX_CONNS_RSS=$(idle_rss "$PROXY_PID" "$NGX")
stop_proxy
fi

# --- the table ------------------------------------------------------------------

ms() { awk -v us="$1" 'BEGIN { printf "%.2f ms", us / 1000 }'; }
per_conn_kib() { awk -v with="$1" -v idle="$2" -v n="$IDLE_CONNECTIONS" 'BEGIN { printf "%.1f", (with - idle) / n }'; }
per_conn() { echo "$(per_conn_kib "$@") KiB"; }
# One row of the goals table: what, measured value, comparison, target.
goal() {
    local met
    met=$(awk -v v="$2" -v op="$3" -v t="$4" 'BEGIN {
        if (v == "") { print "not measured"; exit }
        ok = (op == ">=" && v + 0 >= t) || (op == "<=" && v + 0 <= t) || (op == "<" && v + 0 < t)
        print ok ? "yes" : "no" }')
    echo "| $1 | $2 | $met |"
}
out="benches/results/compare-$(date -u +%Y%m%d-%H%M%S).md"
{
    echo "# mirrorgate against the origin, nginx and HAProxy"
    echo
    machine
    echo "mirrorgate $("$BIN" --version | awk '{print $2}') (release), $("$NGINX" -v 2>&1 | sed 's/.*: //') (one worker), each on core 0;"
    echo "load generators and origins on core 1; origin: nginx \`return 200\`; ${DURATION} s per row, $ROUNDS rounds, medians."
    echo "HTTP/1.1: wrk -t1 -c$CONNECTIONS; HTTP/2: h2load -c10 -m10; HTTP/3: oha -c$CONNECTIONS ($("$OHA" --version));"
    echo "new TLS connections: wrk with \`Connection: close\`; mirrors: nginx \`return 200\` (h2c for mirrorgate, HTTP/1.1 for nginx), slow mirror answers after 1 s."
    echo
    echo "| row | req/s | p50 | p99 | errors | req/s ratio | p99 ratio | vs |"
    echo "|---|---|---|---|---|---|---|---|"
    for name in "${ROWS[@]}"; do
        read -r rps p50 p99 errors <<<"${RESULT[$name]}"
        ref="${REF[$name]}"
        if [ -n "$ref" ]; then
            echo "| $name | $rps | $(ms "$p50") | $(ms "$p99") | $errors | $(median_ratio "$name" "$ref" 1) | $(median_ratio "$name" "$ref" 3) | $ref |"
        else
            echo "| $name | $rps | $(ms "$p50") | $(ms "$p99") | $errors | | | |"
        fi
    done
    if [ -z "$AB_ONLY" ]; then
        echo
        echo "mirrorgate against HAProxy ($("$HAPROXY" -v | head -1 | awk '{print $3}'), one thread) and the HTTP/3 ceiling, medians of same-round ratios:"
        echo
        echo "| protocol | req/s ratio | p99 ratio |"
        echo "|---|---|---|"
        for kind in "HTTPS HTTP/1.1" "HTTPS HTTP/2"; do
            echo "| $kind | $(median_ratio "mirrorgate $kind" "haproxy $kind" 1) | $(median_ratio "mirrorgate $kind" "haproxy $kind" 3) |"
        done
        echo "| HTTP/3, against the bare quinn + h3 ceiling | $(median_ratio "mirrorgate HTTP/3" "h3 ceiling (bare quinn + h3) HTTP/3" 1) | $(median_ratio "mirrorgate HTTP/3" "h3 ceiling (bare quinn + h3) HTTP/3" 3) |"
        echo
        echo "Multi-core scaling: two workers on both cores (load generator unpinned, two threads) over one worker on core 0, medians of same-round ratios:"
        echo
        echo "| proxy | HTTPS HTTP/1.1 | HTTPS HTTP/2 | HTTP/3 |"
        echo "|---|---|---|---|"
        echo "| mirrorgate (worker_threads = 2) | $(median_ratio "mirrorgate 2 cores HTTPS HTTP/1.1" "mirrorgate HTTPS HTTP/1.1" 1) | $(median_ratio "mirrorgate 2 cores HTTPS HTTP/2" "mirrorgate HTTPS HTTP/2" 1) | $(median_ratio "mirrorgate 2 cores HTTP/3" "mirrorgate HTTP/3" 1) |"
        echo "| nginx (worker_processes 2) | $(median_ratio "nginx 2 workers HTTPS HTTP/1.1" "nginx HTTPS HTTP/1.1" 1) | $(median_ratio "nginx 2 workers HTTPS HTTP/2" "nginx HTTPS HTTP/2" 1) | – |"
        echo "| HAProxy (nbthread 2) | $(median_ratio "haproxy 2 threads HTTPS HTTP/1.1" "haproxy HTTPS HTTP/1.1" 1) | $(median_ratio "haproxy 2 threads HTTPS HTTP/2" "haproxy HTTPS HTTP/2" 1) | – |"
    fi
    if [ -z "$AB_ONLY" ]; then
        echo
        echo "Issue 16's goals, from this run (ratios as above):"
        echo
        echo "| goal | measured | met |"
        echo "|---|---|---|"
        goal "HTTP/1.1 req/s ≥ 1.1× HAProxy" "$(median_ratio "mirrorgate HTTPS HTTP/1.1" "haproxy HTTPS HTTP/1.1" 1)" ">=" 1.1
        goal "HTTP/1.1 p99 no worse than HAProxy's" "$(median_ratio "mirrorgate HTTPS HTTP/1.1" "haproxy HTTPS HTTP/1.1" 3)" "<=" 1
        goal "HTTP/2 req/s ≥ 1.0× HAProxy" "$(median_ratio "mirrorgate HTTPS HTTP/2" "haproxy HTTPS HTTP/2" 1)" ">=" 1
        goal "HTTP/2 p99 no worse than HAProxy's" "$(median_ratio "mirrorgate HTTPS HTTP/2" "haproxy HTTPS HTTP/2" 3)" "<=" 1
        goal "HTTP/3 ≥ 90% of the bare quinn + h3 ceiling" "$(median_ratio "mirrorgate HTTP/3" "h3 ceiling (bare quinn + h3) HTTP/3" 1)" ">=" 0.9
        goal "10% mirroring costs ≤ 5% of req/s, HTTP/1.1" "$(median_ratio "mirrorgate mirroring 10%" "mirrorgate HTTPS HTTP/1.1" 1)" ">=" 0.95
        goal "10% mirroring costs ≤ 5% of req/s, HTTP/2" "$(median_ratio "mirrorgate mirroring 10% HTTP/2" "mirrorgate HTTPS HTTP/2" 1)" ">=" 0.95
        goal "10% mirroring costs ≤ 5% of req/s, HTTP/3" "$(median_ratio "mirrorgate mirroring 10% HTTP/3" "mirrorgate HTTP/3" 1)" ">=" 0.95
        goal "a 1 s mirror leaves p99 within 5%, HTTP/1.1" "$(median_ratio "mirrorgate mirroring 100% to a 1 s mirror" "mirrorgate HTTPS HTTP/1.1" 3)" "<=" 1.05
        goal "a 1 s mirror leaves p99 within 5%, HTTP/2" "$(median_ratio "mirrorgate mirroring 100% to a 1 s mirror, HTTP/2" "mirrorgate HTTPS HTTP/2" 3)" "<=" 1.05
        goal "a 1 s mirror leaves p99 within 5%, HTTP/3" "$(median_ratio "mirrorgate mirroring 100% to a 1 s mirror, HTTP/3" "mirrorgate HTTP/3" 3)" "<=" 1.05
        goal "< 20 KiB per idle keep-alive TLS connection" "$(per_conn_kib "$MG_CONNS_RSS" "$MG_IDLE_RSS")" "<" 20
    fi
    if [ -n "$BASELINE" ]; then
        echo
        echo "A/B: this build over the baseline ($BASELINE), medians of same-round ratios:"
        echo
        echo "| row | req/s ratio | p99 ratio |"
        echo "|---|---|---|"
        for kind in "HTTPS HTTP/1.1" "HTTPS HTTP/2" "HTTP/3" "new TLS connections"; do
            echo "| $kind | $(median_ratio "mirrorgate $kind" "baseline $kind" 1) | $(median_ratio "mirrorgate $kind" "baseline $kind" 3) |"
        done
    fi
    if [ -z "$AB_ONLY" ]; then
        echo
        echo "| memory (RSS) | mirrorgate | nginx (master + worker) |"
        echo "|---|---|---|"
        echo "| idle | $((MG_IDLE_RSS / 1024)) MiB | $((NGINX_IDLE_RSS / 1024)) MiB |"
        echo "| peak under HTTP/2 load | $((MG_LOAD_RSS / 1024)) MiB | |"
        echo "| with $IDLE_CONNECTIONS idle keep-alive TLS connections | $((MG_CONNS_RSS / 1024)) MiB | $((NGINX_CONNS_RSS / 1024)) MiB |"
        echo "| per idle connection | $(per_conn "$MG_CONNS_RSS" "$MG_IDLE_RSS") | $(per_conn "$NGINX_CONNS_RSS" "$NGINX_IDLE_RSS") |"
    fi
} >"$out"
cat "$out"
echo "written: $out" >&2
