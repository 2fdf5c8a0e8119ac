"""WebSocket over HTTP/3 (RFC 9220) client, for the end-to-end tests.

Connects over QUIC (aioquic), checks that the server advertises
SETTINGS_ENABLE_CONNECT_PROTOCOL, opens a WebSocket with an extended
CONNECT (``:protocol websocket``) and, once the server answers 200, runs
over the request stream's DATA (frames by wsproto, no HTTP/1.1
handshake):

1. a text message and a binary message, each echoed back;
2. a 1 MiB binary message, echoed back;
3. a ping, answered with its pong;
4. a close with code 4001 and a reason, echoed back; then the server
   must end the stream (FIN), as RFC 9220 maps TCP's orderly close.

Prints one JSON summary line on stdout and exits 0; on any failure it
prints what failed on stderr and exits 1. Everything runs under one
deadline (``--timeout``).

    python tests/ws/h3_ws_client.py --connect 127.0.0.1:PORT \\
        --authority localhost --cafile ca.pem --path /ws

With ``--expect-status N`` (N other than 200) it only checks that the
extended CONNECT is answered with N and prints the summary;
``--plain-connect`` sends a CONNECT without ``:protocol`` instead, to
check that it is refused. ``--streams N`` runs N tunnels at once on the
one QUIC connection, each with the whole suite. ``--authority`` may carry a port
(``localhost:8443``); the TLS server name is its host.
"""

import argparse
import asyncio
import json
import ssl
import sys
from typing import Dict, List, Optional, Tuple

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection, Setting
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import (
    ConnectionTerminated,
    QuicEvent,
    StreamDataReceived,
    StreamReset,
)
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Pong,
    TextMessage,
)

TEXT = "h\u00e9llo over HTTP/3 \u2713"
BINARY = bytes(range(256)) * 4
LARGE = bytes((i * 7) % 251 for i in range(1024 * 1024))
PING = b"are you there"
CLOSE_CODE = 4001
CLOSE_REASON = "done \u2713"


class Failure(Exception):
    """A check that failed: its message is what the test prints."""


class StreamEnded:
    """Queued after a request stream's last HTTP/3 event: its FIN."""


class StreamClosed(Exception):
    """The request stream ended (FIN) while a message was awaited."""


class H3Client(QuicConnectionProtocol):
    """Turns QUIC events into HTTP/3 events, queued per request stream."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.settings = asyncio.Event()
        self.events: Dict[int, asyncio.Queue] = {}
        self.closed: Optional[str] = None

    def queue(self, stream_id: int) -> asyncio.Queue:
        return self.events.setdefault(stream_id, asyncio.Queue())

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ConnectionTerminated):
            self.closed = (
                f"connection closed: error {event.error_code:#x} "
                f"{event.reason_phrase!r}"
            )
            for queue in self.events.values():
                queue.put_nowait(event)
            self.settings.set()
            return
        if isinstance(event, StreamReset):
            self.queue(event.stream_id).put_nowait(event)
        for h3_event in self.h3.handle_event(event):
            stream_id = getattr(h3_event, "stream_id", None)
            if stream_id is not None:
                self.queue(stream_id).put_nowait(h3_event)
        # The stream's FIN, from QUIC itself: aioquic's HTTP/3 layer
        # reports no end when the stream's last frame is one it does not
        # know, such as the reserved (grease) frame h3 servers may send
        # before FIN (RFC 9114 §7.2.8).
        if isinstance(event, StreamDataReceived) and event.end_stream:
            self.queue(event.stream_id).put_nowait(StreamEnded())
        if self.h3.received_settings is not None:
            self.settings.set()


class WebSocket:
    """A client WebSocket over one HTTP/3 request stream."""

    def __init__(self, client: H3Client, stream_id: int):
        self.client = client
        self.stream_id = stream_id
        self.ws = Connection(ConnectionType.CLIENT)
        self.fin = False
        self.pending: List = []
        self.data_bytes = 0

    def send(self, event) -> None:
        self.client.h3.send_data(self.stream_id, self.ws.send(event), end_stream=False)
        self.client.transmit()

    def end_stream(self) -> None:
        self.client.h3.send_data(self.stream_id, b"", end_stream=True)
        self.client.transmit()

    async def next_h3(self) -> H3Event:
        queue = self.client.queue(self.stream_id)
        if queue.empty() and self.client.closed:
            # Closed before this stream had a queue to be told in.
            raise Failure(self.client.closed)
        event = await queue.get()
        if isinstance(event, ConnectionTerminated):
            raise Failure(self.client.closed)
        if isinstance(event, StreamReset):
            raise Failure(
                f"the server reset the stream (error {event.error_code:#x})"
            )
        return event

    async def next_ws(self):
        """The next WebSocket event; StreamClosed at the stream's FIN."""
        while not self.pending:
            if self.fin:
                raise StreamClosed()
            event = await self.next_h3()
            if isinstance(event, StreamEnded):
                self.fin = True
                continue
            if isinstance(event, HeadersReceived):
                raise Failure(f"unexpected HEADERS in the tunnel: {event.headers}")
            if isinstance(event, DataReceived):
                self.data_bytes += len(event.data)
                # A FIN may come as an empty DATA event of its own, after
                # the close handshake: nothing for wsproto, which refuses
                # any data once closed.
                if not event.data:
                    if event.stream_ended:
                        self.fin = True
                    continue
                if self.ws.state is ConnectionState.CLOSED:
                    raise Failure(f"{len(event.data)} bytes after the close handshake")
                self.ws.receive_data(event.data)
                for ws_event in self.ws.events():
                    if isinstance(ws_event, Ping):
                        # The server's keepalive: answered, not a result.
                        if self.ws.state is ConnectionState.OPEN:
                            self.send(ws_event.response())
                    else:
                        self.pending.append(ws_event)
                if event.stream_ended:
                    self.fin = True
        return self.pending.pop(0)

    async def message(self, what: str):
        """The next whole message (text or bytes), fragments joined."""
        parts = []
        kind = None
        while True:
            try:
                event = await self.next_ws()
            except StreamClosed:
                raise Failure(f"{what}: the stream ended instead")
            if isinstance(event, (TextMessage, BytesMessage)):
                kind = type(event)
                parts.append(event.data)
                if event.message_finished:
                    return kind, ("" if kind is TextMessage else b"").join(parts)
            elif isinstance(event, CloseConnection):
                raise Failure(f"{what}: got a close ({event.code} {event.reason!r})")
            else:
                raise Failure(f"{what}: expected a message, got {event}")


async def run(args, step: List[str]) -> dict:
    host, port = args.connect
    configuration = QuicConfiguration(
        is_client=True,
        alpn_protocols=H3_ALPN,
        # SNI is the authority's host (``localhost:8443`` -> ``localhost``).
        server_name=sni(args.authority),
        verify_mode=ssl.CERT_REQUIRED,
        max_data=4 * 1024 * 1024,
        max_stream_data=2 * 1024 * 1024,
    )
    configuration.load_verify_locations(args.cafile)
    summary: dict = {}

    step[0] = "QUIC handshake"
    async with connect(
        host,
        port,
        configuration=configuration,
        create_protocol=H3Client,
    ) as client:
        client: H3Client

        step[0] = "waiting for the server's SETTINGS"
        await client.settings.wait()
        if client.closed:
            raise Failure(client.closed)
        settings = client.h3.received_settings or {}
        enabled = settings.get(Setting.ENABLE_CONNECT_PROTOCOL, 0)
        summary["settings_enable_connect_protocol"] = enabled
        if enabled != 1:
            raise Failure(
                "the server does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL "
                f"(settings: {settings})"
            )

        # Every tunnel at once on this one connection, each its own
        # request stream.
        tunnels = await asyncio.gather(
            *(tunnel(client, args, step, index) for index in range(args.streams))
        )
        summary.update(tunnels[0])
        summary["streams"] = len(tunnels)
        if "tunnel_bytes_received" in summary:
            summary["tunnel_bytes_received"] = sum(t["tunnel_bytes_received"] for t in tunnels)
    return summary


async def tunnel(client: H3Client, args, step: List[str], index: int) -> dict:
    """One extended CONNECT and its echo suite: the stream's summary."""
    try:
        return await echo_suite(client, args, step)
    except Failure as failure:
        if args.streams == 1:
            raise
        raise Failure(f"stream {index}: {failure}") from None


async def echo_suite(client: H3Client, args, step: List[str]) -> dict:
    """The extended CONNECT, its answer and (if 200) the echo suite."""
    summary: dict = {}
    step[0] = "extended CONNECT"
    stream_id = client._quic.get_next_available_stream_id()
    if args.plain_connect:
        # RFC 9114 §4.4: a CONNECT without :protocol has only
        # :method and :authority.
        request = [(b":method", b"CONNECT"), (b":authority", args.authority.encode())]
    else:
        request = [
            (b":method", b"CONNECT"),
            (b":protocol", b"websocket"),
            (b":scheme", b"https"),
            (b":path", args.path.encode()),
            (b":authority", args.authority.encode()),
            (b"sec-websocket-version", b"13"),
        ]
    client.h3.send_headers(stream_id, request, end_stream=False)
    client.transmit()
    socket = WebSocket(client, stream_id)
    event = await socket.next_h3()
    if isinstance(event, StreamEnded):
        raise Failure("the stream ended without a response")
    if not isinstance(event, HeadersReceived):
        raise Failure(f"expected the response HEADERS, got {event}")
    headers = {k.decode(): v.decode() for k, v in event.headers}
    status = int(headers.get(":status", "0"))
    summary["status"] = status
    summary["response_headers"] = headers
    if status != args.expect_status:
        raise Failure(
            f"extended CONNECT answered {status}, expected {args.expect_status}: "
            f"{headers}"
        )
    if status != 200:
        return summary
    if event.stream_ended:
        raise Failure("the 200 ended the stream: no tunnel")

    step[0] = "text and binary echo"
    socket.send(Message(data=TEXT))
    socket.send(Message(data=BINARY))
    kind, data = await socket.message("text echo")
    if kind is not TextMessage or data != TEXT:
        raise Failure(f"text echo differs: {kind.__name__} {data!r}")
    kind, data = await socket.message("binary echo")
    if kind is not BytesMessage or data != BINARY:
        raise Failure(f"binary echo differs: {kind.__name__}, {len(data)} bytes")
    summary["text_echo"] = True
    summary["binary_echo"] = True

    step[0] = "1 MiB echo"
    socket.send(Message(data=LARGE))
    kind, data = await socket.message("1 MiB echo")
    if kind is not BytesMessage or data != LARGE:
        raise Failure(
            f"1 MiB echo differs: {kind.__name__}, {len(data)} bytes "
            f"(sent {len(LARGE)})"
        )
    summary["large_echo_bytes"] = len(data)

    step[0] = "ping"
    socket.send(Ping(payload=PING))
    while True:
        try:
            event = await socket.next_ws()
        except StreamClosed:
            raise Failure("ping: the stream ended before the pong")
        if isinstance(event, Pong):
            if bytes(event.payload) != PING:
                raise Failure(f"pong payload differs: {event.payload!r}")
            break
        raise Failure(f"ping: expected a pong, got {event}")
    summary["pong"] = True

    step[0] = "close handshake"
    socket.send(CloseConnection(code=CLOSE_CODE, reason=CLOSE_REASON))
    while True:
        try:
            event = await socket.next_ws()
        except StreamClosed:
            raise Failure("close: the stream ended before the close came back")
        if isinstance(event, CloseConnection):
            break
        raise Failure(f"close: expected the echoed close, got {event}")
    summary["close_code"] = event.code
    summary["close_reason"] = event.reason
    if event.code != CLOSE_CODE or event.reason != CLOSE_REASON:
        raise Failure(
            f"close echoed as {event.code} {event.reason!r}, "
            f"sent {CLOSE_CODE} {CLOSE_REASON!r}"
        )
    if socket.ws.state is not ConnectionState.CLOSED:
        raise Failure(f"WebSocket not closed after the handshake: {socket.ws.state}")

    step[0] = "end of the stream (FIN) after the close"
    # Our side is done too: FIN, as a TCP client closes its socket.
    socket.end_stream()
    while not socket.fin:
        try:
            event = await socket.next_ws()
        except StreamClosed:
            break
        raise Failure(f"after the close: unexpected {event}")
    summary["stream_fin"] = True
    summary["tunnel_bytes_received"] = socket.data_bytes
    return summary


def sni(authority: str) -> str:
    """The host of `authority`, without a port or IPv6 brackets."""
    if authority.startswith("["):
        return authority[1 : authority.index("]")]
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def host_port(text: str) -> Tuple[str, int]:
    """`HOST:PORT` (`[::1]:PORT` for IPv6) for argparse."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--connect", required=True, type=host_port, help="HOST:PORT of the QUIC listener"
    )
    parser.add_argument("--authority", required=True, help=":authority and TLS SNI")
    parser.add_argument("--cafile", required=True, help="CA (PEM) to verify the server")
    parser.add_argument("--path", default="/", help=":path of the extended CONNECT")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="deadline for everything, seconds"
    )
    parser.add_argument(
        "--expect-status", type=int, default=200, help="expected :status (default 200)"
    )
    parser.add_argument(
        "--streams",
        type=int,
        default=1,
        help="tunnels at once on the one connection, each running the suite",
    )
    parser.add_argument(
        "--plain-connect",
        action="store_true",
        help="send a CONNECT without :protocol (expect a refusal: use --expect-status)",
    )
    args = parser.parse_args()
    if args.streams < 1:
        parser.error("--streams must be at least 1")
    step = ["start"]
    try:
        summary = asyncio.run(asyncio.wait_for(run(args, step), args.timeout))
    except Failure as failure:
        print(f"h3_ws_client: FAILED at {step[0]}: {failure}", file=sys.stderr)
        return 1
    except (asyncio.TimeoutError, TimeoutError):
        print(
            f"h3_ws_client: FAILED: timed out after {args.timeout}s at {step[0]}",
            file=sys.stderr,
        )
        return 1
    except Exception as error:  # noqa: BLE001 - any error fails the run, named
        print(f"h3_ws_client: FAILED at {step[0]}: {error!r}", file=sys.stderr)
        return 1
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
