#!/usr/bin/env bash
# Mirroring cost on the primary path, in one run, as ratios to "off".
#
# mirrorgate (HTTPS, HTTP/1.1) in front of an nginx origin answering
# `return 200`, loaded by wrk, with: no mirroring; 10% and 100% mirrored to
# a second nginx (h2c); 100% mirrored to a mirror that answers after 1 s;
# and, on a 1.2 KB JSON answer whose mirror version differs in one field,
# 10% mirrored without and with `[services.mirrors.compare]` (so the
# compare's cost is the ratio of those two rows, in the same run).
# mirrorgate is pinned to core 0, wrk and the origins to core 1
# (../shared/BENCHMARKING.md). Writes a Markdown table to benches/results/.
#
#   benches/mirroring.sh                 # 3 rounds, 8 s per row
#   ROUNDS=1 DURATION=4 benches/mirroring.sh
#   ONLY="json_p10 json_p10_compare" benches/mirroring.sh   # some rows only
#
# Runs on a shared VM vary by 20-30% from one minute to the next, so the
# rows are interleaved (off, 10%, 100%, slow; off, 10%, ...) for ROUNDS
# rounds and each cell is the median over its rounds: a slow minute hits
# every row alike instead of one.
#
# Bounded: each row runs DURATION seconds per round; every process started
# here is stopped by PID on exit.
ROUNDS="${ROUNDS:-3}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cargo build --release -p mirrorgate >&2
bench_start_origins
PROXY=$(free_port)

config() { # $1 = mirror block or empty, $2 = extra mirror keys
    cat <<TOML
[listen]
https = ["127.0.0.1:$PROXY"]

[admin]
enabled = false

[[services]]
name = "api"
backends = ["http://127.0.0.1:$ORIGIN"]
$1

[[routes]]
service = "api"
TOML
}

# Per row, one value per round, space-separated.
declare -A RPS P50 P99 ERR STATS
run_row() { # name, round, mirror block, path
    local name="$1" round="$2" path="${4:-/}"
    config "$3" >"$work/$name.toml"
    "$BIN" check --config "$work/$name.toml" >/dev/null
    local log="$work/$name-$round.log" out="$work/$name-$round.wrk"
    RUST_LOG=warn,mirrorgate=info taskset -c 0 "$BIN" run --config "$work/$name.toml" 2>"$log" &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do curl -sk -o /dev/null "https://127.0.0.1:$PROXY/" && break; sleep 0.05; done
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d1s "https://127.0.0.1:$PROXY$path" >/dev/null   # warm up
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "https://127.0.0.1:$PROXY$path" >"$out"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    local rps p50 p99 errors stats
    read -r rps p50 p99 errors < <(wrk_result "$out")
    RPS[$name]+="$rps "; P50[$name]+="$p50 "; P99[$name]+="$p99 "
    [ "$errors" != 0 ] && ERR[$name]+="round $round: $errors errors. "
    # Non-zero counters only, e.g. "sampled=4200 sent=4200 completed_2xx=4200".
    stats=$(grep -ho 'mirror stats: .* service' "$log" \
        | sed -e 's/mirror stats: //' -e 's/ service$//' -e 's/ [a-z0-9_]*=0\b//g' || true)
    [ "$round" = 1 ] && STATS[$name]="$stats"
    echo "round $round $name: $rps req/s, p50 ${p50}us, p99 ${p99}us; mirror: ${stats:-none}" >&2
}

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2fms", us / 1000 }'; }

# Compare on: the defaults (256 KiB bound, no control).
COMPARE=$'\n[services.mirrors.compare]\nmax_body_size = 262144'
ROWS=()
for row in off p10 p100 slow100 json_p10 json_p10_compare; do
    [[ -z "${ONLY:-}" || " $ONLY " == *" $row "* ]] && ROWS+=("$row")
done
for round in $(seq "$ROUNDS"); do
    for row in "${ROWS[@]}"; do
        case $row in
            off) run_row off "$round" "" ;;
            p10) run_row p10 "$round" "$(mirrorgate_mirror "http://127.0.0.1:$MIRROR_H2" 10 h2)" ;;
            p100) run_row p100 "$round" "$(mirrorgate_mirror "http://127.0.0.1:$MIRROR_H2" 100 h2)" ;;
            slow100) run_row slow100 "$round" "$(mirrorgate_mirror "http://127.0.0.1:$SLOW" 100 http1)" ;;
            json_p10) run_row json_p10 "$round" "$(mirrorgate_mirror "http://127.0.0.1:$MIRROR_H2" 10 h2)" /api.json ;;
            json_p10_compare) run_row json_p10_compare "$round" "$(mirrorgate_mirror "http://127.0.0.1:$MIRROR_H2" 10 h2)$COMPARE" /api.json ;;
        esac
    done
done
# Ratios are to the first row run ("off" unless ONLY leaves it out).

out="benches/results/mirroring-$(date -u +%Y%m%d-%H%M%S).md"
{
    echo "# Mirroring cost on the primary path"
    echo
    machine
    echo "mirrorgate $("$BIN" --version | awk '{print $2}') (release) on core 0; wrk -t1 -c$CONNECTIONS -d${DURATION}s over HTTPS/1.1 and the origins on core 1."
    echo "Each cell is the median of $ROUNDS interleaved rounds; the per-round req/s are listed under the table. Counters are from round 1."
    echo "Origin and mirror: nginx \`return 200\` (mirror over h2c); slow mirror: answers after 1 s (HTTP/1.1), max_in_flight 100."
    echo
    label() { case $1 in off) echo "off";; p10) echo "10%";; p100) echo "100%";; slow100) echo "100% to a 1 s mirror";;
        json_p10) echo "JSON, 10%";; json_p10_compare) echo "JSON, 10% compared";; esac; }
    base="${ROWS[0]}"
    echo "| mirroring | req/s | p50 | p99 | errors | req/s vs $(label "$base") | p99 vs $(label "$base") | mirror counters |"
    echo "|---|---|---|---|---|---|---|---|"
    off_rps=$(median "${RPS[$base]}"); off_p99=$(median "${P99[$base]}")
    for row in "${ROWS[@]}"; do
        rps=$(median "${RPS[$row]}"); p99=$(median "${P99[$row]}")
        echo "| $(label "$row") | $rps | $(ms "$(median "${P50[$row]}")") | $(ms "$p99") | ${ERR[$row]:-none} | $(ratio "$rps" "$off_rps") | $(ratio "$p99" "$off_p99") | ${STATS[$row]:-} |"
    done
    [ -n "${RPS[json_p10]:-}" ] && [ -n "${RPS[json_p10_compare]:-}" ] && echo && echo "Compare cost (JSON, 10% compared vs JSON, 10%): req/s $(ratio "$(median "${RPS[json_p10_compare]}")" "$(median "${RPS[json_p10]}")"), p99 $(ratio "$(median "${P99[json_p10_compare]}")" "$(median "${P99[json_p10]}")")."
    echo
    for row in "${ROWS[@]}"; do echo "- $(label "$row"), req/s by round: ${RPS[$row]}"; done
} >"$out"
cat "$out"
echo "written: $out" >&2
