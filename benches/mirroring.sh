#!/usr/bin/env bash
# Mirroring cost on the primary path, in one run, as ratios to "off".
#
# mirrorgate (HTTPS, HTTP/1.1) in front of an nginx origin answering
# `return 200`, loaded by wrk, with: no mirroring; 10% and 100% mirrored to
# a second nginx (h2c); 100% mirrored to a mirror that answers after 1 s.
# mirrorgate is pinned to core 0, wrk and the origins to core 1
# (../shared/BENCHMARKING.md). Writes a Markdown table to benches/results/.
#
#   benches/mirroring.sh            # 8 s per row
#   DURATION=4 benches/mirroring.sh
#
# Bounded: each row runs DURATION seconds; every process started here is
# stopped by PID on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DURATION="${DURATION:-8}"
CONNECTIONS="${CONNECTIONS:-50}"

bash scripts/install-bench-deps.sh
cargo build --release -p mirrorgate >&2
BIN="$PWD/target/release/mirrorgate"
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ORIGIN=$(free_port); MIRROR=$(free_port); SLOW=$(free_port); PROXY=$(free_port)

# Origin (HTTP/1.1) and mirror (h2c prior knowledge): nginx `return 200`.
cat >"$work/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$ORIGIN; location / { return 200 "origin\n"; } }
    server { listen 127.0.0.1:$MIRROR http2; location / { return 200 "mirror\n"; } }
}
NGINX
taskset -c 1 "$NGINX" -c "$work/nginx.conf" -e "$work/nginx-error.log" &
pids+=($!)

# A mirror that answers every request after 1 s (HTTP/1.1, threaded).
cat >"$work/slow.py" <<'PY'
import http.server, sys, time
class Slow(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        time.sleep(1)
        self.send_response(200); self.send_header("Content-Length", "5"); self.end_headers()
        self.wfile.write(b"slow\n")
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Slow).serve_forever()
PY
taskset -c 1 python3 "$work/slow.py" "$SLOW" &
pids+=($!)
sleep 1

config() { # $1 = mirror block or empty
    cat <<TOML
[listen]
https = ["127.0.0.1:$PROXY"]

[[services]]
name = "api"
backends = ["http://127.0.0.1:$ORIGIN"]
$1

[[routes]]
service = "api"
TOML
}
mirror() { # url percent protocol
    printf '[[services.mirrors]]\nname = "m"\nbackends = ["%s"]\npercent = %s\nprotocol = "%s"\nmax_in_flight = 100\n' "$1" "$2" "$3"
}

declare -A RPS P50 P99 ERR STATS
run_row() { # name, mirror block
    local name="$1"
    config "$2" >"$work/$name.toml"
    "$BIN" check --config "$work/$name.toml" >/dev/null
    RUST_LOG=warn,mirrorgate=info taskset -c 0 "$BIN" run --config "$work/$name.toml" 2>"$work/$name.log" &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do curl -sk -o /dev/null "https://127.0.0.1:$PROXY/" && break; sleep 0.05; done
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d1s "https://127.0.0.1:$PROXY/" >/dev/null   # warm up
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "https://127.0.0.1:$PROXY/" >"$work/$name.wrk"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    RPS[$name]=$(awk '/^Requests\/sec/ {print $2}' "$work/$name.wrk")
    P50[$name]=$(awk '$1=="50%" {print $2}' "$work/$name.wrk")
    P99[$name]=$(awk '$1=="99%" {print $2}' "$work/$name.wrk")
    local non2xx errors
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/$name.wrk"); errors=$(awk '/Socket errors/ {print $0}' "$work/$name.wrk")
    ERR[$name]="${non2xx:-0} non-2xx${errors:+; $errors}"
    echo "$name: ${RPS[$name]} req/s, p50 ${P50[$name]}, p99 ${P99[$name]}, ${ERR[$name]}" >&2
    # Non-zero counters only, e.g. "sampled=4200 sent=4200 completed_2xx=4200".
    STATS[$name]=$(grep -ho 'mirror stats: .* service' "$work/$name.log" \
        | sed -e 's/mirror stats: //' -e 's/ service$//' -e 's/ [a-z0-9_]*=0\b//g' || true)
    echo "  mirror: ${STATS[$name]:-none}" >&2
}

to_us() { # wrk latency like 1.23ms / 850.00us / 1.02s -> microseconds
    awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n*1000; else if (v ~ /s$/) print n*1000000; else print n }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a/b; else print "n/a" }'; }

run_row off ""
run_row p10 "$(mirror "http://127.0.0.1:$MIRROR" 10 h2)"
run_row p100 "$(mirror "http://127.0.0.1:$MIRROR" 100 h2)"
run_row slow100 "$(mirror "http://127.0.0.1:$SLOW" 100 http1)"

out="benches/results/mirroring-$(date -u +%Y%m%d-%H%M%S).md"
{
    echo "# Mirroring cost on the primary path"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(uname -r)."
    echo "mirrorgate $("$BIN" --version | awk '{print $2}') (release) on core 0; wrk -t1 -c$CONNECTIONS -d${DURATION}s over HTTPS/1.1 and the origins on core 1."
    echo "Origin and mirror: nginx \`return 200\` (mirror over h2c); slow mirror: answers after 1 s (HTTP/1.1), max_in_flight 100."
    echo
    echo "| mirroring | req/s | p50 | p99 | errors | req/s vs off | p99 vs off | mirror counters |"
    echo "|---|---|---|---|---|---|---|---|"
    for row in off p10 p100 slow100; do
        label=$(case $row in off) echo "off";; p10) echo "10%";; p100) echo "100%";; slow100) echo "100% to a 1 s mirror";; esac)
        echo "| $label | ${RPS[$row]} | ${P50[$row]} | ${P99[$row]} | ${ERR[$row]} | $(ratio "${RPS[$row]}" "${RPS[off]}") | $(ratio "$(to_us "${P99[$row]}")" "$(to_us "${P99[off]}")") | ${STATS[$row]:-} |"
    done
} >"$out"
cat "$out"
echo "written: $out" >&2
