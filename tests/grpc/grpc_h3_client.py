"""One gRPC call over HTTP/3 (aioquic), for the end-to-end tests.

grpcio speaks gRPC over HTTP/2 only, and no gRPC client in Python speaks
HTTP/3, but gRPC's wire format is plain HTTP (the PROTOCOL-HTTP2 spec):
a POST with ``content-type: application/grpc`` and ``te: trailers``
whose body is length-prefixed messages (1 byte compressed flag, 4 bytes
big-endian length, the message), answered by headers, length-prefixed
messages and trailers carrying ``grpc-status``. This client sends that
request over an HTTP/3 request stream to ``/test.Echo/Unary`` of
``grpc_server.py`` (or the method ``--method`` names, e.g. ``Stream``
with ``--message 3``), through mirrorgate, which talks h2c to it, and
prints one JSON object: the response's status and content-type, the
messages (as text), and the trailers.

Exits 1 with a message on stderr when the exchange fails (connection,
reset, no trailers, a malformed message); everything runs under one
deadline (``--timeout``).

    python tests/grpc/grpc_h3_client.py --connect 127.0.0.1:PORT \\
        --authority localhost:PORT --cafile ca.pem --message hello
"""

import argparse
import asyncio
import json
import ssl
import struct
import sys
from typing import List, Optional

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import (
    ConnectionTerminated,
    QuicEvent,
    StreamDataReceived,
    StreamReset,
)


class Failure(Exception):
    """The exchange failed: its message is what the test prints."""


class StreamEnded:
    """Queued after a request stream's last HTTP/3 event: its FIN."""

    def __init__(self, stream_id: int):
        self.stream_id = stream_id


class H3Client(QuicConnectionProtocol):
    """Queues the HTTP/3 events of every request stream, in order."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.events: asyncio.Queue = asyncio.Queue()

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, (ConnectionTerminated, StreamReset)):
            self.events.put_nowait(event)
            return
        for h3_event in self.h3.handle_event(event):
            self.events.put_nowait(h3_event)
        # The stream's FIN, from QUIC itself: aioquic's HTTP/3 layer
        # reports no end when the stream's last frame is one it does not
        # know, such as a reserved (grease) frame an h3 server may send
        # before FIN (RFC 9114 §7.2.8).
        if isinstance(event, StreamDataReceived) and event.end_stream:
            self.events.put_nowait(StreamEnded(event.stream_id))


def frame(message: bytes) -> bytes:
    """One uncompressed length-prefixed gRPC message."""
    return struct.pack(">BI", 0, len(message)) + message


def messages(body: bytes) -> List[str]:
    """The length-prefixed messages of a response body, as text."""
    out, at = [], 0
    while at < len(body):
        if len(body) - at < 5:
            raise Failure(f"a truncated message prefix at byte {at}: {body!r}")
        compressed, length = struct.unpack(">BI", body[at : at + 5])
        if compressed:
            raise Failure("a compressed message, which was not asked for")
        message = body[at + 5 : at + 5 + length]
        if len(message) != length:
            raise Failure(f"a truncated message at byte {at}: {body!r}")
        out.append(message.decode())
        at += 5 + length
    return out


def text(headers) -> dict:
    return {k.decode(): v.decode() for k, v in headers}


async def run(args) -> dict:
    host, port = args.connect.rsplit(":", 1)
    configuration = QuicConfiguration(
        is_client=True,
        alpn_protocols=H3_ALPN,
        server_name=args.authority.rsplit(":", 1)[0],
        verify_mode=ssl.CERT_REQUIRED,
    )
    configuration.load_verify_locations(args.cafile)
    async with connect(
        host, int(port), configuration=configuration, create_protocol=H3Client
    ) as client:
        client: H3Client
        stream_id = client._quic.get_next_available_stream_id()
        client.h3.send_headers(
            stream_id,
            [
                (b":method", b"POST"),
                (b":scheme", b"https"),
                (b":authority", args.authority.encode()),
                (b":path", f"/test.Echo/{args.method}".encode()),
                (b"content-type", b"application/grpc"),
                (b"te", b"trailers"),
                (b"grpc-timeout", b"20S"),
            ],
        )
        client.h3.send_data(stream_id, frame(args.message.encode()), end_stream=True)
        client.transmit()

        head: Optional[dict] = None
        trailers: Optional[dict] = None
        body = b""
        ended = False
        while not ended:
            event = await client.events.get()
            if isinstance(event, ConnectionTerminated):
                raise Failure(f"connection closed: {event.error_code:#x} {event.reason_phrase!r}")
            if isinstance(event, StreamReset):
                raise Failure(f"the server reset the stream ({event.error_code:#x})")
            if getattr(event, "stream_id", stream_id) != stream_id:
                continue
            if isinstance(event, StreamEnded):
                ended = True
                continue
            if isinstance(event, HeadersReceived):
                if head is None:
                    head = text(event.headers)
                elif trailers is None:
                    trailers = text(event.headers)
                else:
                    raise Failure("a third header block")
                ended = ended or event.stream_ended
            elif isinstance(event, DataReceived):
                if trailers is not None and event.data:
                    raise Failure("DATA after the trailers")
                body += event.data
                ended = ended or event.stream_ended
        if head is None:
            raise Failure("the stream ended without a response")
        return {
            "status": int(head.get(":status", "0")),
            "content_type": head.get("content-type"),
            "messages": messages(body),
            # A trailers-only answer (an error) carries grpc-status in
            # its one header block.
            "trailers": trailers if trailers is not None else {},
            "grpc_status_in_headers": head.get("grpc-status"),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", required=True, help="HOST:PORT (UDP)")
    parser.add_argument("--authority", required=True, help="host[:port]; host is the SNI")
    parser.add_argument("--cafile", required=True)
    parser.add_argument("--method", default="Unary", help="a method of test.Echo")
    parser.add_argument("--message", default="hello over HTTP/3")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    try:
        report = asyncio.run(asyncio.wait_for(run(args), args.timeout))
    except asyncio.TimeoutError:
        print(f"no complete answer within {args.timeout} s", file=sys.stderr)
        return 1
    except Failure as e:
        print(str(e), file=sys.stderr)
        return 1
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
