"""gRPC over HTTP/3 to mirrorgate, with aioquic: the calls grpc_client.py
makes, framed by hand (no gRPC library speaks HTTP/3), printed as the same
JSON so a test can compare the two.

  grpc_h3.py --host 127.0.0.1 --port PORT --cafile CA.pem --authority localhost

Each call is one request stream: `POST /mirrorgate.test.Echo/METHOD`,
`content-type: application/grpc`, `te: trailers`, the request as one
length-prefixed message (gRPC over HTTP/2's framing, which HTTP/3 carries
unchanged); the answer's DATA is split back into messages and its last
HEADERS frame read as the trailers. The deadline call sends
`grpc-timeout: 1S` to Slow, which answers only once its call ended: the
backend's deadline runs out and its DEADLINE_EXCEEDED must come back.

Bounded: every call and the handshake have a timeout; exits non-zero when
a check fails (a message on stderr); the JSON is printed either way.
"""

import argparse
import asyncio
import base64
import json
import ssl
import struct
import sys
import urllib.parse

import grpc
from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StreamDataReceived
from grpc_expect import FAIL_REQUEST, STREAMED, UNARY_REQUEST, metadata, problems

SERVICE = "/mirrorgate.test.Echo/"
# Limit of each call, and of the QUIC handshake.
CALL_TIMEOUT = 30
# Headers of the HTTP exchange itself, not gRPC metadata; names starting
# with `grpc-` are reserved for gRPC too (status, message, encodings), and
# grpcio reports none of them as metadata.
TRANSPORT = {":status", "content-type"}
# Status codes by number (grpc.StatusCode's values are (number, text)).
CODES = {code.value[0]: code.name for code in grpc.StatusCode}


class Answer:
    """One stream's answer as it arrives: header blocks and body bytes."""

    def __init__(self):
        self.blocks = []
        self.body = b""
        self.done = asyncio.get_running_loop().create_future()


class Client(QuicConnectionProtocol):
    """An HTTP/3 connection that collects each request stream's answer."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.answers = {}

    def quic_event_received(self, event):
        for h3_event in self.h3.handle_event(event):
            answer = self.answers.get(getattr(h3_event, "stream_id", None))
            if isinstance(h3_event, HeadersReceived) and answer:
                answer.blocks.append(h3_event.headers)
            elif isinstance(h3_event, DataReceived) and answer:
                answer.body += h3_event.data
        # The end is QUIC's FIN, not aioquic's `stream_ended`: aioquic
        # reports no end when the stream's last frame is a reserved
        # (GREASE) one, which h3 sends after the trailers.
        if isinstance(event, StreamDataReceived) and event.end_stream:
            answer = self.answers.get(event.stream_id)
            if answer and not answer.done.done():
                answer.done.set_result(None)

    async def call(self, authority, method, message, extra=()):
        stream_id = self._quic.get_next_available_stream_id()
        answer = self.answers[stream_id] = Answer()
        headers = [
            (b":method", b"POST"),
            (b":scheme", b"https"),
            (b":authority", authority.encode()),
            (b":path", (SERVICE + method).encode()),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
            *extra,
        ]
        self.h3.send_headers(stream_id, headers)
        self.h3.send_data(stream_id, frame(message), end_stream=True)
        self.transmit()
        await asyncio.wait_for(answer.done, CALL_TIMEOUT)
        return answer


def frame(message):
    """One gRPC length-prefixed message: uncompressed flag, length, bytes."""
    return struct.pack(">BI", 0, len(message)) + message


def messages(body):
    """The messages of a gRPC body; raises if a frame is cut or compressed."""
    out = []
    while body:
        flag, length = struct.unpack(">BI", body[:5])
        if flag != 0 or len(body) < 5 + length:
            raise ValueError(f"bad gRPC frame: flag {flag}, length {length}, {len(body)} bytes")
        out.append(body[5 : 5 + length].decode("latin-1"))
        body = body[5 + length :]
    return out


def pairs(block):
    """A header block as (name, value) metadata: `-bin` values decoded
    from base64 (sent unpadded), the rest as text."""
    out = []
    for name, value in block:
        name = name.decode()
        if name in TRANSPORT or name.startswith("grpc-"):
            continue
        if name.endswith("-bin"):
            out.append((name, base64.b64decode(value + b"=" * (-len(value) % 4))))
        else:
            out.append((name, value.decode()))
    return out


def outcome(answer):
    """What grpcio would report: initial metadata from the first header
    block, trailing metadata and status from the last (the same block in
    a Trailers-Only answer)."""
    first, last = answer.blocks[0], answer.blocks[-1]
    status = dict(last)
    code = int(status.get(b"grpc-status", b"-1"))
    return {
        "initial": metadata(pairs(first)) if len(answer.blocks) > 1 else [],
        "trailing": metadata(pairs(last)),
        "code": CODES.get(code, f"unknown {code}"),
        "details": urllib.parse.unquote(status.get(b"grpc-message", b"").decode()),
    }


def http_status(answer):
    """The answer's HTTP status: 200 for every gRPC answer, whatever its
    gRPC status."""
    return dict(answer.blocks[0]).get(b":status", b"").decode()


async def run(args):
    configuration = QuicConfiguration(
        is_client=True, alpn_protocols=H3_ALPN, server_name=args.authority
    )
    configuration.verify_mode = ssl.CERT_REQUIRED
    configuration.load_verify_locations(args.cafile)
    authority = f"{args.authority}:{args.port}"
    async with connect(
        args.host, args.port, configuration=configuration, create_protocol=Client
    ) as client:
        unary = await client.call(authority, "Unary", UNARY_REQUEST)
        fail = await client.call(authority, "Fail", FAIL_REQUEST)
        stream = await client.call(authority, "Stream", str(STREAMED).encode())
        slow = await client.call(authority, "Slow", b"slow", [(b"grpc-timeout", b"1S")])
    (reply,) = messages(unary.body)
    statuses = {"unary": unary, "fail": fail, "stream": stream, "deadline": slow}
    wrong = [
        f"{call}: HTTP status {http_status(answer)}, want 200"
        for call, answer in statuses.items()
        if http_status(answer) != "200"
    ]
    return wrong, {
        "unary": {"reply": reply.encode("latin-1").hex(), **outcome(unary)},
        "fail": outcome(fail),
        "stream": {"messages": messages(stream.body), **outcome(stream)},
        "deadline": {"code": outcome(slow)["code"]},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cafile", required=True, help="PEM CA of the proxy's certificate")
    parser.add_argument("--authority", default="localhost", help="TLS name and :authority host")
    args = parser.parse_args()
    wrong, result = asyncio.run(asyncio.wait_for(run(args), 4 * CALL_TIMEOUT))
    print(json.dumps(result, sort_keys=True), flush=True)
    wrong += problems(result)
    for problem in wrong:
        print(problem, file=sys.stderr)
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
