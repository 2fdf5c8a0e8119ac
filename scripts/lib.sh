# shellcheck shell=bash
# Shell helpers shared by the benchmarks (benches/*.sh) and the soak
# (scripts/soak.sh): sourced, not run. Defines functions only.

# Prints a port free for both TCP and UDP on 127.0.0.1 right now: HTTPS
# and HTTP/3 share one port number.
free_port() {
    python3 - <<'PY'
import socket
while True:
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break
PY
}

# wait_for URL [LOG]: returns once URL answers (any status, TLS not
# verified), trying for about 20 s; otherwise says so, shows the file LOG
# if given (the server's log) and exits the script with 1.
wait_for() {
    local url="$1" server_log="${2:-}"
    for _ in $(seq 200); do
        curl -sk -o /dev/null --max-time 2 "$url" && return 0
        sleep 0.1
    done
    echo "not answering: $url" >&2
    if [ -n "$server_log" ]; then cat "$server_log" >&2; fi
    exit 1
}
