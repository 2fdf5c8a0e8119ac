"""Runs the protocol attack scripts of tests/attacks/ one after another,
round after round, for the soak (scripts/soak.sh).

    attacks.py {h2,quic} PORT --seconds S --out FILE

Starts no new attack once --seconds have passed; each attack is bounded
by its own arguments and, in case it hangs, killed after 120 s. Appends
one JSON line per run to FILE: the attack, its exit status and the JSON
it printed (what the proxy did to it), its lines merged.
"""

import argparse
import json
import os
import subprocess
import sys
import time

# Each: (name in the report, script, arguments after the port). Sized as
# the attack tests size them (tests/tests/e2e/attacks_*.rs), a little
# smaller where the test proves the bound and the soak only repeats it.
H2 = [
    ("rapid reset", "h2_rapid_reset.py", ["20000", "--batch", "100", "--path", "/rapid"]),
    # Accepted, on their way to a backend that answers after 1 s, then
    # cancelled: the premature-reset check, not the pending-accept limit.
    ("paced rapid reset", "h2_rapid_reset.py",
     ["2000", "--batch", "50", "--pause", "0.3", "--path", "/slow/paced"]),
    ("CONTINUATION flood, empty", "h2_continuation_flood.py", ["10000", "0"]),
    ("CONTINUATION flood, 16 KiB", "h2_continuation_flood.py", ["10000", "16384"]),
    ("HPACK bomb", "h2_hpack_bomb.py", ["10000"]),
    ("PING flood", "h2_control_flood.py", ["ping", "100000", "--wait", "10"]),
    ("SETTINGS flood", "h2_control_flood.py", ["settings", "100000", "--wait", "10"]),
    ("silent client", "h2_silent.py", ["10"]),
]
QUIC = [
    ("stalled handshakes, then a request", "quic_retry.py", ["--stall", "24"]),
    ("amplification before validation", "quic_amplification.py", ["--seconds", "3"]),
    # From 127.0.0.2, so that its share of connections is not the one the
    # soak's curl clients (127.0.0.1) need.
    ("40 connections from one address", "quic_connections.py",
     ["--count", "40", "--bind", "127.0.0.2", "--hold", "3"]),
    ("200 request streams", "quic_streams.py", ["--streams", "200", "--path", "/"]),
    ("streams beyond the limit", "quic_streams.py",
     ["--streams", "200", "--path", "/slow/streams", "--ignore-limit", "--timeout", "20"]),
    ("uni stream flood", "quic_streams.py", ["--uni", "50", "--streams", "3"]),
    ("uni streams beyond the limit", "quic_streams.py", ["--uni", "50", "--ignore-limit", "--timeout", "10"]),
    ("20 KB header", "quic_headers.py", ["--header-bytes", "20000"]),
    ("100 KB header", "quic_headers.py", ["--header-bytes", "100000"]),
    ("300 MB HEADERS frame", "quic_headers.py",
     ["--frame-length", "300000000", "--send-bytes", "8388608"]),
    ("300 MB frame on the control stream", "quic_headers.py",
     ["--control", "--frame-length", "300000000", "--send-bytes", "8388608"]),
]

parser = argparse.ArgumentParser()
parser.add_argument("family", choices=["h2", "quic"])
parser.add_argument("port")
parser.add_argument("--seconds", type=float, required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

here = os.path.dirname(os.path.abspath(__file__))
attack_dir = os.path.join(here, "..", "..", "tests", "attacks")
env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")  # no __pycache__ in the tree
deadline = time.monotonic() + args.seconds
with open(args.out, "a") as out:
    while time.monotonic() < deadline:
        for name, script, extra in H2 if args.family == "h2" else QUIC:
            if time.monotonic() >= deadline:
                break
            started = time.monotonic()
            try:
                run = subprocess.run(
                    [sys.executable, os.path.join(attack_dir, script), args.port, *extra],
                    cwd=attack_dir, env=env, capture_output=True, text=True, timeout=120,
                )
                rc, stdout = run.returncode, run.stdout
            except subprocess.TimeoutExpired as e:
                rc, stdout = "timeout", (e.stdout or b"").decode(errors="replace")
            # Every JSON line the attack printed, later ones winning
            # (quic_connections says "opened", then "held").
            last = {}
            for line in stdout.splitlines():
                try:
                    last.update(json.loads(line))
                except ValueError:
                    continue
            record = {"family": args.family, "attack": name, "rc": rc,
                      "seconds": round(time.monotonic() - started, 1), "last": last}
            out.write(json.dumps(record) + "\n")
            out.flush()
