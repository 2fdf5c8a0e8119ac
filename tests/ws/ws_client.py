"""An HTTP/1.1 WebSocket client (`websockets`, asyncio) for the wss:// tests.

    python tests/ws/ws_client.py [--url wss://127.0.0.1:8443/ws]
        [--cafile localhost.pem] [--server-hostname localhost]
        [--timeout 60] [--subprotocol chat] [--deflate]
        [--header 'Name: value'] COMMAND

COMMAND is one of:

- `echo`: text and binary messages echoed, a 1 MiB binary message with
  compression off (so the bytes really cross the proxy), a ping answered
  by a pong, then a close with code 4001 and a reason whose echo must
  carry 4001;
- `many --count N`: N tunnels at once, each echoing one small message and
  closing; all must succeed;
- `idle`: opens a tunnel, sends nothing and waits until the other side
  ends it; reports how long that took and the close code;
- `hold`: opens a tunnel, echoes one message, prints `OPEN` (flushed) and
  waits until the tunnel ends: the other side closes it, or stdin reaches
  its end (then this client closes with 1000); reports how it ended;
- `status`: only the handshake; reports the status it was answered (101
  and the request headers sent, or the rejection's status, headers and
  body) without failing on a non-101.

TLS is verified against --cafile (the proxy's test certificate), with
--server-hostname as the name to check and send as SNI (so --url may name
127.0.0.1), and offers only ALPN `http/1.1`: a WebSocket Upgrade does not
exist in HTTP/2. No keepalive pings of its own: the tests count bytes and
wait for idle timeouts. Every wait is bounded by --timeout.

Prints one JSON object on stdout (the last line); exits 1 with the reason
on stderr when a step fails or --timeout passes.
"""

import argparse
import asyncio
import json
import os
import ssl
import sys
import threading
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

CLOSE_CODE = 4001
CLOSE_REASON = "bye from ws_client"
MIB = 1024 * 1024


class Failed(Exception):
    """A step did not go as it must."""


def ssl_context(args):
    if not args.url.startswith("wss://"):
        return None
    context = ssl.create_default_context(cafile=args.cafile)
    context.set_alpn_protocols(["http/1.1"])
    return context


def open_tunnel(args, **extra):
    """`connect(...)` with this client's options; an async context manager."""
    kwargs = dict(
        ssl=ssl_context(args),
        open_timeout=args.timeout,
        close_timeout=args.timeout,
        ping_interval=None,
        max_size=4 * MIB,
        compression="deflate" if args.deflate else None,
        additional_headers=[tuple(h.split(":", 1)) for h in args.header],
    )
    if args.subprotocol:
        kwargs["subprotocols"] = args.subprotocol
    if args.server_hostname and kwargs["ssl"] is not None:
        kwargs["server_hostname"] = args.server_hostname
    kwargs.update(extra)
    return connect(args.url, **kwargs)


async def expect_echo(ws, message, what):
    await ws.send(message)
    got = await ws.recv()
    if got != message:
        shown = got if len(got) < 80 else f"{len(got)} bytes"
        raise Failed(f"{what}: the echo differs ({shown!r})")


async def echo(args):
    report = {}
    async with open_tunnel(args) as ws:
        report["status"] = ws.response.status_code
        report["subprotocol"] = ws.subprotocol
        await expect_echo(ws, "hello through mirrorgate", "text")
        await expect_echo(ws, bytes(range(256)), "binary")
        big = os.urandom(MIB)
        await expect_echo(ws, big, "1 MiB binary")
        report["big_bytes"] = len(big)
        pong = await ws.ping(b"are you there")
        report["pong_latency"] = await pong
        report["pong"] = True
        await ws.close(CLOSE_CODE, CLOSE_REASON)
        rcvd = ws.protocol.close_rcvd
        if rcvd is None:
            raise Failed("no close frame came back")
        report["close_code"] = rcvd.code
        report["close_reason"] = rcvd.reason
        if rcvd.code != CLOSE_CODE:
            raise Failed(f"the close came back with {rcvd.code}, not {CLOSE_CODE}")
    return report


async def one_small_echo(args, n):
    async with open_tunnel(args) as ws:
        await expect_echo(ws, f"tunnel {n}", f"tunnel {n}")
        await ws.close(1000)
    return n


async def many(args):
    results = await asyncio.gather(
        *(one_small_echo(args, n) for n in range(args.count)), return_exceptions=True
    )
    failures = [f"{n}: {r!r}" for n, r in enumerate(results) if isinstance(r, BaseException)]
    if failures:
        raise Failed(f"{len(failures)} of {args.count} tunnels failed: {failures[:5]}")
    return {"count": args.count, "succeeded": len(results)}


def close_summary(ws):
    rcvd = ws.protocol.close_rcvd
    return {
        "close_code": ws.close_code,
        "close_frame_received": rcvd is not None,
        "close_frame_code": rcvd.code if rcvd else None,
    }


async def idle(args):
    async with open_tunnel(args) as ws:
        started = time.monotonic()
        await ws.wait_closed()
        report = {"status": ws.response.status_code, "seconds": time.monotonic() - started}
        report.update(close_summary(ws))
    return report


async def stdin_eof():
    """Resolves when stdin reaches its end: the tests end a hold so."""
    loop = asyncio.get_running_loop()
    eof = loop.create_future()

    def read():
        sys.stdin.read()
        loop.call_soon_threadsafe(lambda: eof.done() or eof.set_result(None))

    # A daemon thread, not the loop's executor: asyncio.run would wait for
    # the blocking read at its end, after the tunnel closed from the other
    # side.
    threading.Thread(target=read, daemon=True).start()
    await eof


async def hold(args):
    async with open_tunnel(args) as ws:
        await expect_echo(ws, "hold", "hold")
        started = time.monotonic()
        print("OPEN", flush=True)
        closed = asyncio.ensure_future(ws.wait_closed())
        eof = asyncio.ensure_future(stdin_eof())
        done, _ = await asyncio.wait({closed, eof}, return_when=asyncio.FIRST_COMPLETED)
        if closed in done:
            ended = "server_closed"
        else:
            ended = "client_closed"
            await ws.close(1000)
        report = {"ended": ended, "seconds": time.monotonic() - started}
        report.update(close_summary(ws))
    return report


async def status(args):
    try:
        async with open_tunnel(args) as ws:
            report = {
                "status": ws.response.status_code,
                "request_headers": {k.lower(): v for k, v in ws.request.headers.raw_items()},
            }
            await ws.close(1000)
            return report
    except InvalidStatus as e:
        response = e.response
        return {
            "status": response.status_code,
            "body": (response.body or b"").decode("utf-8", "replace"),
            "headers": {k.lower(): v for k, v in response.headers.raw_items()},
        }


COMMANDS = {"echo": echo, "many": many, "idle": idle, "hold": hold, "status": status}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="wss://127.0.0.1:8443/ws")
    parser.add_argument("--cafile", help="PEM file the server's certificate must chain to")
    parser.add_argument("--server-hostname", help="name to verify and send as SNI")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--subprotocol", action="append", default=[])
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--count", type=int, default=1, help="tunnels for `many`")
    args = parser.parse_args()
    try:
        report = asyncio.run(asyncio.wait_for(COMMANDS[args.command](args), args.timeout))
    except TimeoutError:
        # Before OSError, of which it is a kind.
        print(f"ws_client {args.command}: not done within {args.timeout} s", file=sys.stderr)
        sys.exit(1)
    except (Failed, ConnectionClosed, InvalidStatus, OSError) as e:
        print(f"ws_client {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    report["command"] = args.command
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
