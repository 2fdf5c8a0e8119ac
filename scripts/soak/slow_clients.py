"""Slow HTTP/1.1 clients for the soak (scripts/soak.sh): slowloris and
slow bodies, over plain HTTP and TLS, bounded in count and time.

    slow_clients.py {headers,body} --plain PORT --tls PORT
                    [--connections N] [--seconds S] [--interval S]

headers: N connections at once, each sending its request head one byte
every --interval seconds and never finishing it. The proxy must cut each
at its header timeout ([http1] header_read_timeout); the client then
opens another, until --seconds have passed.

body: N connections at once, each sending a complete POST head with a
Content-Length of 1 MB and then some of the body: half of them stop
sending and wait (the proxy must answer 408 after [proxy]
body_read_timeout), half trickle one byte every --interval seconds,
never finishing (they hold a request open at the backend until the run
ends, and are then dropped mid-body: the client-abort path).

Half of the connections of each kind go to the plain port, half over TLS.
Prints one JSON line: how the proxy ended the connections (the status it
answered, "closed" for a close without an answer, "reset", or "open" for
those still open at the end).
"""

import argparse
import asyncio
import json
import ssl
import time
from collections import Counter

parser = argparse.ArgumentParser()
parser.add_argument("mode", choices=["headers", "body"])
parser.add_argument("--plain", type=int, required=True)
parser.add_argument("--tls", type=int, required=True)
parser.add_argument("--connections", type=int, default=300)
parser.add_argument("--seconds", type=float, default=60.0)
parser.add_argument("--interval", type=float, default=1.0)
args = parser.parse_args()

TLS = ssl.create_default_context()
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE
TLS.set_alpn_protocols(["http/1.1"])

outcomes = Counter()
opened = 0
deadline = time.monotonic() + args.seconds


def left():
    return deadline - time.monotonic()


async def wait_answer(reader, limit):
    """What the proxy did within `limit` seconds: its status, "closed",
    "reset" or None (still open)."""
    try:
        line = await asyncio.wait_for(reader.readline(), timeout=limit)
    except asyncio.TimeoutError:
        return None
    except (ConnectionError, ssl.SSLError, OSError):
        return "reset"
    if not line:
        return "closed"
    parts = line.split()
    return parts[1].decode() if len(parts) > 1 else "garbage"


async def one(i, kind):
    """One connection's life; returns how it ended."""
    global opened
    tls = i % 2 == 1
    port = args.tls if tls else args.plain
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, ssl=TLS if tls else None), timeout=10
        )
    except (OSError, asyncio.TimeoutError, ssl.SSLError):
        await asyncio.sleep(min(1.0, max(0.0, left())))
        return "connect_failed"
    opened += 1
    outcome = None
    try:
        if kind == "headers":
            head = f"GET /slowloris/{i} HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".encode()
            writer.write(head[:20])
            await writer.drain()
            pos = 20
            while outcome is None and left() > 0:
                outcome = await wait_answer(reader, min(args.interval, max(0.01, left())))
                if outcome is None:
                    # One more byte of a head that never ends.
                    writer.write(head[pos : pos + 1] if pos < len(head) else b"a")
                    pos += 1
                    await writer.drain()
        else:
            writer.write(
                f"POST /post/slowbody/{i} HTTP/1.1\r\nHost: localhost\r\n"
                f"Content-Length: 1000000\r\n\r\n".encode()
                + b"x" * 1024
            )
            await writer.drain()
            trickle = i % 4 >= 2
            while outcome is None and left() > 0:
                outcome = await wait_answer(reader, min(args.interval, max(0.01, left())))
                if outcome is None and trickle:
                    writer.write(b"x")
                    await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        outcome = "reset"
    finally:
        # At the deadline: dropped as it is, mid-head or mid-body.
        writer.transport.abort()
    return outcome or "open"


async def worker(i, kind):
    while left() > 0:
        outcomes[await one(i, kind)] += 1


async def main():
    await asyncio.gather(*(worker(i, args.mode) for i in range(args.connections)))
    print(json.dumps({"mode": args.mode, "connections": opened, "outcomes": dict(outcomes)}), flush=True)


asyncio.run(main())
