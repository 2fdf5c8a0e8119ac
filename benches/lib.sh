# shellcheck shell=bash
# Shared by the benchmark scripts: sourced, not run.
#
# After `bench_start_origins`: $work (a temporary folder, removed on exit),
# $ORIGIN (nginx `return 200`, HTTP/1.1), $MIRROR_H2 (the same, h2c),
# $MIRROR_H1 (the same, HTTP/1.1 keep-alive), $SLOW (answers after 1 s),
# and on the origin and the h2c mirror `/api.json`: a 1.2 KB JSON answer,
# the mirror's with one field changed (for comparing answers),
# all on 127.0.0.1 and pinned to core 1 with the load generators. Every
# process put in `pids` is stopped by PID on exit.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh # free_port, wait_for
DURATION="${DURATION:-8}"
CONNECTIONS="${CONNECTIONS:-50}"
bash scripts/install-bench-deps.sh
BIN="$PWD/target/release/mirrorgate"
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
work="$(mktemp -d)"
pids=()
bench_cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap bench_cleanup EXIT

bench_start_origins() {
    ORIGIN=$(free_port) MIRROR_H2=$(free_port) MIRROR_H1=$(free_port) SLOW=$(free_port)
    { nginx_head origin; cat <<NGINX
http {
    access_log off;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$ORIGIN; location / { return 200 "origin\n"; }
             location = /api.json { default_type application/json; return 200 '$(bench_json 12.5)'; } }
    server { listen 127.0.0.1:$MIRROR_H2 http2; location / { return 200 "mirror\n"; }
             location = /api.json { default_type application/json; return 200 '$(bench_json '"12.50"')'; } }
    server { listen 127.0.0.1:$MIRROR_H1; location / { return 200 "mirror\n"; } }
}
NGINX
    } >"$work/origin.conf"
    taskset -c 1 "$NGINX" -c "$work/origin.conf" -e "$work/origin-error.log" &
    pids+=($!)
    taskset -c 1 python3 benches/slow_mirror.py "$SLOW" 2>/dev/null &
    pids+=($!)
    sleep 1
}

# A 1.2 KB JSON document whose `total` is $1: 20 items of an order.
bench_json() {
    printf '{"order":{"id":"ord-4711","customer":{"id":42,"name":"Ada Lovelace","plan":"pro"},"total":%s,"items":[' "$1"
    for i in $(seq 20); do
        [ "$i" -gt 1 ] && printf ','
        printf '{"sku":"sku-%04d","qty":%d,"price":%d.25}' "$i" "$((i % 3 + 1))" "$i"
    done
    printf ']}}'
}

# The top of an nginx config named $1 (pid and log files in $work): one
# worker, room for 10,000 idle connections.
nginx_head() {
    cat <<NGINX
daemon off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid $work/$1.pid;
error_log $work/$1-error.log;
events { worker_connections 20000; }
NGINX
}

# A `[[services.mirrors]]` block: url percent protocol.
mirrorgate_mirror() {
    printf '[[services.mirrors]]\nname = "m"\nbackends = ["%s"]\npercent = %s\nprotocol = "%s"\nmax_in_flight = 100\n' "$1" "$2" "$3"
}

# wrk/oha latency like 1.23ms / 850.00us / 1.02s -> microseconds.
to_us() {
    awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n*1000; else if (v ~ /s$/) print n*1000000; else print n }'
}

# "req/s p50_us p99_us errors" from `wrk --latency` output in file $1.
wrk_result() {
    local rps p50 p99 non2xx errors
    rps=$(awk '/^Requests\/sec/ {print $2}' "$1")
    p50=$(to_us "$(awk '$1=="50%" {print $2}' "$1")")
    p99=$(to_us "$(awk '$1=="99%" {print $2}' "$1")")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$1")
    errors=$(awk '/Socket errors/ { n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i; print n }' "$1")
    echo "$rps $p50 $p99 $(( ${non2xx:-0} + ${errors:-0} ))"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a/b; else print "" }'; }

# The machine line of a results table.
machine() {
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(uname -r)."
}
