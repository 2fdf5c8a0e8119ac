"""An HTTP/1.1 WebSocket client (`websockets`) that reports its handshake.

    python tests/ws/h1_ws_handshake.py --connect 127.0.0.1:8443 \
        --cafile localhost.pem --authority localhost:8443 [--path /ws] \
        [--timeout 60]

Opens `wss://AUTHORITY/PATH` over a TCP connection to --connect (TLS
verified against --cafile), then:
  1. checks the answer is `101 Switching Protocols` whose
     Sec-WebSocket-Accept is the one RFC 6455 §4.2.2 derives from the
     Sec-WebSocket-Key sent (`websockets` checks it too, and refuses the
     connection otherwise);
  2. echoes a text and a binary message;
  3. closes with code 4001 and checks the close frame that comes back
     carries 4001.

For a proxy that turns an HTTP/1.1 Upgrade into an extended CONNECT to an
HTTP/2-only backend: the 101 and its Accept are then the proxy's own.
Prints one JSON line on stdout (status, response headers, the keys); exits
1 with the reason on stderr when a step fails or --timeout passes.
"""

import argparse
import asyncio
import base64
import hashlib
import json
import socket
import ssl
import sys

from websockets.exceptions import WebSocketException
from websockets.asyncio.client import connect

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
CLOSE_CODE = 4001


class Failed(Exception):
    """A step did not go as it must."""


def expected_accept(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


async def run(args):
    host, port = args.connect.rsplit(":", 1)
    authority = args.authority or args.connect
    context = ssl.create_default_context(cafile=args.cafile)
    # HTTP/1.1 only: a WebSocket Upgrade does not exist in HTTP/2.
    context.set_alpn_protocols(["http/1.1"])
    sock = socket.create_connection((host.strip("[]"), int(port)), timeout=args.timeout)
    sock.setblocking(False)
    report = {}
    # The asyncio client: the sync one's close handshake, over TLS, now and
    # then closed its socket before the close frame came back.
    async with connect(
        f"wss://{authority}{args.path}",
        sock=sock,
        ssl=context,
        server_hostname=authority.rsplit(":", 1)[0].strip("[]"),
        open_timeout=args.timeout,
        close_timeout=args.timeout,
        max_size=None,
    ) as ws:
        key = ws.request.headers["Sec-WebSocket-Key"]
        response = ws.response
        headers = {k.lower(): v for k, v in response.headers.raw_items()}
        report.update(
            status=response.status_code,
            response_headers=headers,
            key=key,
            accept=headers.get("sec-websocket-accept"),
            expected_accept=expected_accept(key),
        )
        if response.status_code != 101:
            raise Failed(f"the handshake was answered {response.status_code}, not 101")
        if report["accept"] != report["expected_accept"]:
            raise Failed(f"Sec-WebSocket-Accept {report['accept']!r}, expected {report['expected_accept']!r}")
        for message in ["hello over HTTP/1.1 \u2713", bytes(range(256))]:
            await ws.send(message)
            echoed = await asyncio.wait_for(ws.recv(), args.timeout)
            if echoed != message:
                raise Failed(f"sent {message!r}, got back {echoed!r}")
        await ws.close(code=CLOSE_CODE, reason="bye")
        received = ws.protocol.close_rcvd
        report["close_code"] = received.code if received else None
        if report["close_code"] != CLOSE_CODE:
            raise Failed(f"a close with code {CLOSE_CODE} was answered by {received!r}")
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connect", required=True, help="HOST:PORT to connect to")
    parser.add_argument("--authority", help="host[:port] of the URL (and TLS server name); default --connect")
    parser.add_argument("--cafile", required=True, help="PEM file of the certificates to trust")
    parser.add_argument("--path", default="/ws")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for each step")
    args = parser.parse_args()
    try:
        report = asyncio.run(asyncio.wait_for(run(args), args.timeout * 3))
    except (Failed, OSError, WebSocketException, asyncio.TimeoutError) as e:
        print(f"h1_ws_handshake: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
