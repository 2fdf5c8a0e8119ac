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
# CANDIDATE=/path/to/mirrorgate measures that binary instead of this build.
BIN="${CANDIDATE:-$PWD/target/release/mirrorgate}"
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
worker_processes ${NGINX_WORKERS:-1};
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

# --- load generators: each prints "req/s p50_us p99_us errors" ---------------
# Pinned to core 1 with the origins ($LOAD_CPUS, one thread each unless
# $LOAD_THREADS says more); $DURATION seconds, $CONNECTIONS connections
# (HTTP/2: 10 connections x 10 streams). Extra arguments go to the load
# generator (headers, a request body).
LOAD_CPUS="${LOAD_CPUS:-1}"
LOAD_THREADS="${LOAD_THREADS:-1}"

load_wrk() { # url [extra wrk args]
    local url="$1"; shift
    taskset -c "$LOAD_CPUS" wrk -t"$LOAD_THREADS" -c"$CONNECTIONS" -d1s "$@" "$url" >/dev/null # warm up
    taskset -c "$LOAD_CPUS" wrk -t"$LOAD_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url" >"$work/wrk.out"
    wrk_result "$work/wrk.out"
}
load_h2load() { # url [extra h2load args]
    local url="$1"; shift
    taskset -c "$LOAD_CPUS" h2load -c10 -m10 -t"$LOAD_THREADS" -D 1 "$@" "$url" >/dev/null # warm up
    taskset -c "$LOAD_CPUS" h2load -c10 -m10 -t"$LOAD_THREADS" -D "$DURATION" --log-file="$work/h2load.log" "$@" "$url" >"$work/h2load.out"
    local rps failed
    rps=$(awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($i == "req/s,") print $(i-1) }' "$work/h2load.out")
    # requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
    failed=$(awk '/^requests:/ { print $10 + $12 }' "$work/h2load.out")
    # Column 3: microseconds until the end of the response.
    read -r p50 p99 < <(cut -f3 "$work/h2load.log" | sort -n | awk '{ v[NR] = $1 } END { print v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1] }')
    echo "$rps $p50 $p99 $failed"
}
load_oha() { # url [extra oha args]: HTTP/3, with $OHA (scripts/oha.sh)
    local url="$1"; shift
    taskset -c "$LOAD_CPUS" "$OHA" --insecure --http-version 3 -c "$CONNECTIONS" -z "${DURATION}s" --no-tui \
        --output-format json "$@" "$url" >"$work/oha.json" 2>"$work/oha.err" || true
    python3 - "$work/oha.json" "$DURATION" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
codes = r.get("statusCodeDistribution", {})
ok = sum(n for code, n in codes.items() if code.startswith("2"))
# Requests cut by the end of the run are not errors.
errors = sum(n for e, n in r.get("errorDistribution", {}).items() if e != "aborted due to deadline")
errors += sum(n for c, n in codes.items() if not c.startswith("2"))
pct = r.get("latencyPercentiles", {})
# oha's requestsPerSec divides by the time until its QUIC connections
# closed (an idle timeout after the load): count answers over the load.
print(f"{ok / float(sys.argv[2]):.2f} {pct.get('p50', 0) * 1e6:.0f} {pct.get('p99', 0) * 1e6:.0f} {errors}")
PY
}

# --- rounds: runs are lines "rps p50_us p99_us errors", one per round ----------

# The medians of a row's runs, and its errors summed: "rps p50 p99 errors".
median_of_runs() {
    awk 'NF == 4 { for (i = 1; i <= 3; i++) v[i, NR] = $i; errors += $4; n = NR }
        function median(col,   a, k, j, t) {
            for (k = 1; k <= n; k++) a[k] = v[col, k] + 0
            for (k = 2; k <= n; k++) for (j = k; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        END { printf "%.2f %.0f %.0f %d\n", median(1), median(2), median(3), errors }' <<<"$1"
}
# The median over the rounds of column $3 (1: req/s, 3: p99) of the runs
# $1 divided by that of the runs $2 in the same round: a shared machine
# drifts more between rounds than rows of one round differ.
median_ratio_of() {
    paste -d' ' <(printf '%s' "$1") <(printf '%s' "$2") |
        awk -v c="$3" 'NF == 8 && $(c + 4) > 0 { r[++n] = $c / $(c + 4) }
            END {
                for (k = 2; k <= n; k++) for (j = k; j > 1 && r[j-1] > r[j]; j--) { t = r[j]; r[j] = r[j-1]; r[j-1] = t }
                if (n) printf "%.3f", n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
            }'
}
