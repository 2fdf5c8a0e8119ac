"""HTTP/1.1 request-smuggling attempts for the soak (scripts/soak.sh),
sent over and over, bounded in time and rate.

    smuggle.py --plain PORT --tls PORT [--seconds S] [--rate PER_SECOND]

Each attempt is one raw request on a new connection (plain and TLS in
turn): framings that disagree (Content-Length with Transfer-Encoding,
two Content-Lengths), Transfer-Encoding obfuscations, bad chunk sizes,
obs-fold, NUL and control characters, bare LF. The proxy must answer
400 and close, or (CL.TE, bare LF) normalize them into one unambiguous
request. Prints one JSON line: per case, the statuses the proxy gave
("closed" for a close without an answer, "timeout" for no answer in 5 s).
"""

import argparse
import json
import socket
import ssl
import time
from collections import Counter, defaultdict

parser = argparse.ArgumentParser()
parser.add_argument("--plain", type=int, required=True)
parser.add_argument("--tls", type=int, required=True)
parser.add_argument("--seconds", type=float, default=60.0)
parser.add_argument("--rate", type=float, default=20.0)
args = parser.parse_args()

TLS = ssl.create_default_context()
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE
TLS.set_alpn_protocols(["http/1.1"])


def request(lines, body=""):
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("latin-1")


POST, HOST, TE = "POST /smuggle HTTP/1.1", "Host: localhost", "Transfer-Encoding: chunked"
SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"
CASES = {
    "two Content-Lengths": request([POST, HOST, "Content-Length: 5", "Content-Length: 6"], "hello!"),
    "Content-Length list": request([POST, HOST, "Content-Length: 5, 6"], "hello!"),
    "chunked, identity": request([POST, HOST, "Transfer-Encoding: chunked, identity"], "0\r\n\r\n"),
    "xchunked": request([POST, HOST, "Transfer-Encoding: xchunked"], "0\r\n\r\n"),
    "space before colon": request([POST, HOST, "Transfer-Encoding : chunked"], "0\r\n\r\n"),
    "TE on HTTP/1.0": request(["POST /smuggle HTTP/1.0", HOST, TE], "5\r\nhello\r\n0\r\n\r\n"),
    "negative chunk size": request([POST, HOST, TE], "-5\r\nhello\r\n0\r\n\r\n"),
    "0x chunk size": request([POST, HOST, TE], "0x5\r\nhello\r\n0\r\n\r\n"),
    "obs-fold": request(["GET /smuggle HTTP/1.1", HOST, "X-Folded: a", "\tb"]),
    "NUL in a value": request(["GET /smuggle HTTP/1.1", HOST, "X-Nul: a\0b"]),
    "control char in a value": request(["GET /smuggle HTTP/1.1", HOST, "X-Ctl: a\x01b"]),
    "two Hosts": request(["GET /smuggle HTTP/1.1", HOST, "Host: other.test"]),
    # Normalized, not rejected: one request reaches the backend.
    "CL.TE": request([POST, HOST, "Content-Length: 48", TE], "0\r\n\r\n" + SMUGGLED),
    "bare LF": b"GET /barelf HTTP/1.1\nHost: localhost\nX-A: 1\n\n",
}


def attempt(raw, tls):
    port = args.tls if tls else args.plain
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if tls:
            sock = TLS.wrap_socket(sock, server_hostname="localhost")
        sock.sendall(raw)
        reply = sock.recv(64)
        sock.close()
    except socket.timeout:
        return "timeout"
    except (OSError, ssl.SSLError):
        return "reset"
    if not reply:
        return "closed"
    parts = reply.split(b" ", 2)
    return parts[1].decode("latin-1") if len(parts) > 1 else "garbage"


results = defaultdict(Counter)
deadline = time.monotonic() + args.seconds
n = 0
while time.monotonic() < deadline:
    for name, raw in CASES.items():
        if time.monotonic() >= deadline:
            break
        results[name][attempt(raw, tls=n % 2 == 1)] += 1
        n += 1
        time.sleep(1.0 / args.rate)
print(json.dumps({"attempts": n, "cases": {k: dict(v) for k, v in results.items()}}), flush=True)
