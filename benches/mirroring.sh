#!/usr/bin/env bash
# Mirroring cost on the primary path, in one run, as ratios to "off".
#
# mirrorgate (HTTPS, HTTP/1.1) in front of an nginx origin answering
# `return 200`, loaded by wrk, with: no mirroring; 10% and 100% mirrored to
# a second nginx (h2c); 100% mirrored to a mirror that answers after 1 s.
# mirrorgate is pinned to core 0, wrk and the origins to core 1
# (../shared/BENCHMARKING.md). Writes a Markdown table to benches/results/.
#
#   benches/mirroring.sh                 # 3 rounds, 8 s per row
#   ROUNDS=1 DURATION=4 benches/mirroring.sh
#
# Runs on a shared VM vary by 20-30% from one minute to the next, so the
# rows are interleaved (off, 10%, 100%, slow; off, 10%, ...) for ROUNDS
# rounds and each cell is the median over its rounds: a slow minute hits
# every row alike instead of one.
#
# Bounded: each row runs DURATION seconds per round; every process started
# here is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DURATION="${DURATION:-8}"
ROUNDS="${ROUNDS:-3}"
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

# A mirror that answers every request after 1 s (HTTP/1.1 keep-alive).
cat >"$work/slow.py" <<'PY'
# One asyncio thread: a thread per connection would thrash the GIL on the
# load generator's core and show up as the proxy's latency.
import asyncio, sys

async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            await asyncio.sleep(1)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nslow\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()

asyncio.run(main())
PY
taskset -c 1 python3 "$work/slow.py" "$SLOW" 2>/dev/null &
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

# Per row, one value per round, space-separated.
declare -A RPS P50 P99 ERR STATS
run_row() { # name, round, mirror block
    local name="$1" round="$2"
    config "$3" >"$work/$name.toml"
    "$BIN" check --config "$work/$name.toml" >/dev/null
    local log="$work/$name-$round.log" out="$work/$name-$round.wrk"
    RUST_LOG=warn,mirrorgate=info taskset -c 0 "$BIN" run --config "$work/$name.toml" 2>"$log" &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do curl -sk -o /dev/null "https://127.0.0.1:$PROXY/" && break; sleep 0.05; done
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d1s "https://127.0.0.1:$PROXY/" >/dev/null   # warm up
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "https://127.0.0.1:$PROXY/" >"$out"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    local rps p50 p99 non2xx errors stats
    rps=$(awk '/^Requests\/sec/ {print $2}' "$out")
    p50=$(to_us "$(awk '$1=="50%" {print $2}' "$out")")
    p99=$(to_us "$(awk '$1=="99%" {print $2}' "$out")")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$out"); errors=$(awk '/Socket errors/ {print $0}' "$out")
    RPS[$name]+="$rps "; P50[$name]+="$p50 "; P99[$name]+="$p99 "
    [ -n "${non2xx}${errors}" ] && ERR[$name]+="round $round: ${non2xx:-0} non-2xx${errors:+; $errors}. "
    # Non-zero counters only, e.g. "sampled=4200 sent=4200 completed_2xx=4200".
    stats=$(grep -ho 'mirror stats: .* service' "$log" \
        | sed -e 's/mirror stats: //' -e 's/ service$//' -e 's/ [a-z0-9_]*=0\b//g' || true)
    [ "$round" = 1 ] && STATS[$name]="$stats"
    echo "round $round $name: $rps req/s, p50 ${p50}us, p99 ${p99}us; mirror: ${stats:-none}" >&2
}

to_us() { # wrk latency like 1.23ms / 850.00us / 1.02s -> microseconds
    awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n*1000; else if (v ~ /s$/) print n*1000000; else print n }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a/b; else print "n/a" }'; }
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2fms", us / 1000 }'; }

ROWS=(off p10 p100 slow100)
for round in $(seq "$ROUNDS"); do
    run_row off "$round" ""
    run_row p10 "$round" "$(mirror "http://127.0.0.1:$MIRROR" 10 h2)"
    run_row p100 "$round" "$(mirror "http://127.0.0.1:$MIRROR" 100 h2)"
    run_row slow100 "$round" "$(mirror "http://127.0.0.1:$SLOW" 100 http1)"
done

out="benches/results/mirroring-$(date -u +%Y%m%d-%H%M%S).md"
{
    echo "# Mirroring cost on the primary path"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(uname -r)."
    echo "mirrorgate $("$BIN" --version | awk '{print $2}') (release) on core 0; wrk -t1 -c$CONNECTIONS -d${DURATION}s over HTTPS/1.1 and the origins on core 1."
    echo "Each cell is the median of $ROUNDS interleaved rounds; the per-round req/s are listed under the table. Counters are from round 1."
    echo "Origin and mirror: nginx \`return 200\` (mirror over h2c); slow mirror: answers after 1 s (HTTP/1.1), max_in_flight 100."
    echo
    echo "| mirroring | req/s | p50 | p99 | errors | req/s vs off | p99 vs off | mirror counters |"
    echo "|---|---|---|---|---|---|---|---|"
    label() { case $1 in off) echo "off";; p10) echo "10%";; p100) echo "100%";; slow100) echo "100% to a 1 s mirror";; esac; }
    off_rps=$(median "${RPS[off]}"); off_p99=$(median "${P99[off]}")
    for row in "${ROWS[@]}"; do
        rps=$(median "${RPS[$row]}"); p99=$(median "${P99[$row]}")
        echo "| $(label "$row") | $rps | $(ms "$(median "${P50[$row]}")") | $(ms "$p99") | ${ERR[$row]:-none} | $(ratio "$rps" "$off_rps") | $(ratio "$p99" "$off_p99") | ${STATS[$row]:-} |"
    done
    echo
    for row in "${ROWS[@]}"; do echo "- $(label "$row"), req/s by round: ${RPS[$row]}"; done
} >"$out"
cat "$out"
echo "written: $out" >&2
