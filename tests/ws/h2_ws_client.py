"""A WebSocket client over HTTP/2 (RFC 8441, extended CONNECT).

    python tests/ws/h2_ws_client.py --connect 127.0.0.1:8443 \
        --cafile localhost.pem --authority localhost:8443 [--path /ws] \
        [--h2c] [--streams N] [--plain-connect] [--timeout 60]

Built on the `h2` package (HTTP/2 frames) and `wsproto` (WebSocket frames
on the tunnel's byte stream, no handshake of its own), both from
scripts/py-tools.sh. One connection, TLS with ALPN h2 verified against
--cafile for the host of --authority (or, with --h2c, cleartext HTTP/2
with prior knowledge, for talking to a backend directly). With
--streams N, N tunnels are open on it at once and run the suite side by
side, each with messages of its own.

Echo suite (the default), each step checked against what came back:
  1. the server's SETTINGS carry SETTINGS_ENABLE_CONNECT_PROTOCOL = 1;
  2. `:method CONNECT`, `:protocol websocket`, `:scheme`, `:path`,
     `:authority`, `sec-websocket-version: 13` is answered `:status 200`;
  3. a text and a binary message come back unchanged;
  4. a 1 MiB binary message comes back unchanged (sent and read within
     the HTTP/2 flow-control windows, both ways at once);
  5. a ping is answered by a pong with its payload;
  6. a close with code 4001 is answered by a close with code 4001, and
     the server then ends the stream.

--plain-connect instead sends a CONNECT without `:protocol` (RFC 9113
§8.5: only `:method` and `:authority`) and reports what it got: a status,
a stream reset, a GOAWAY or the connection closed. It must be refused: a
2xx fails the script.

Prints one JSON line on stdout; exits 1 with the reason on stderr when
a step fails or --timeout (whole run) passes.
"""

import argparse
import hashlib
import json
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import wsproto.events as ws_events
import wsproto.utilities
from wsproto.connection import Connection, ConnectionState, ConnectionType

# A close code the application chose (RFC 6455 §7.4.2: 4000-4999 are for
# private use), so an echo of it cannot be a default the server made up.
CLOSE_CODE = 4001
BIG = 1024 * 1024
# Our receive windows: large enough that a 1 MiB echo needs few updates,
# small enough that flow control is still exercised (the 1 MiB message
# is bigger than the window).
RECEIVE_WINDOW = 256 * 1024


class Failed(Exception):
    """A step did not go as it must."""


def pattern(n):
    """`n` deterministic bytes that are not all alike (xorshift), so that
    a reordered or shifted echo cannot compare equal."""
    out = bytearray(n)
    x = 0x9E3779B97F4A7C15 ^ n
    mask = (1 << 64) - 1
    for i in range(n):
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
        out[i] = (x >> 24) & 0xFF
    return bytes(out)


class Stream:
    """One extended CONNECT stream and the WebSocket on it."""

    def __init__(self, stream_id):
        self.id = stream_id
        self.status = None
        self.response_headers = {}
        self.reset = None  # error code name of a RST_STREAM on it
        self.ended = False  # the server sent END_STREAM
        self.ws = Connection(ConnectionType.CLIENT)
        self.events = []  # WebSocket events not yet consumed
        self.pongs = []  # answers to the server's pings, not yet sent
        self.bytes_received = 0  # tunnel bytes (DATA payload) received


class Tunnels:
    """One HTTP/2 connection and the extended CONNECT streams on it."""

    def __init__(self, args, deadline, validate_outbound=True):
        self.deadline = deadline
        self.authority = args.authority or args.connect
        host, port = args.connect.rsplit(":", 1)
        raw = socket.create_connection((host.strip("[]"), int(port)), timeout=self.left())
        if args.h2c:
            self.sock = raw
            self.alpn = None
        else:
            context = ssl.create_default_context(cafile=args.cafile)
            context.set_alpn_protocols(["h2"])
            server_name = self.authority.rsplit(":", 1)[0].strip("[]")
            self.sock = context.wrap_socket(raw, server_hostname=server_name)
            self.alpn = self.sock.selected_alpn_protocol()
            if self.alpn != "h2":
                raise Failed(f"the server did not negotiate h2 by ALPN: {self.alpn!r}")
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding="utf-8",
            validate_outbound_headers=validate_outbound,
        )
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.local_settings = h2.settings.Settings(
            client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: RECEIVE_WINDOW}
        )
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(RECEIVE_WINDOW)
        self.flush()
        self.settings_seen = False
        self.streams = {}  # stream id -> Stream
        self.goaway = None
        self.closed = False  # the server closed the connection

    def left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Failed("the overall --timeout passed")
        return left

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            # Reads wait briefly; a write may wait as long as the run.
            self.sock.settimeout(self.left())
            self.sock.sendall(data)

    def pump(self, wait):
        """Reads what arrives within `wait` seconds (at most until the
        deadline) and handles it."""
        if self.closed:
            raise Failed(f"the server closed the connection (GOAWAY: {self.goaway})")
        self.sock.settimeout(max(0.001, min(wait, self.left())))
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return
        except (ConnectionResetError, ssl.SSLError) as e:
            self.closed = True
            raise Failed(f"reading failed: {type(e).__name__}: {e} (GOAWAY: {self.goaway})")
        if not data:
            self.closed = True
            return
        for event in self.conn.receive_data(data):
            self.handle(event)
        self.flush()
        for stream in self.streams.values():
            pongs, stream.pongs = stream.pongs, []
            for pong in pongs:
                self.send_bytes(stream, pong)

    def handle(self, event):
        if isinstance(event, h2.events.RemoteSettingsChanged):
            self.settings_seen = True
            return
        if isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = error_name(event.error_code)
            return
        stream = self.streams.get(getattr(event, "stream_id", None))
        if stream is None:
            return
        if isinstance(event, h2.events.ResponseReceived):
            stream.response_headers = dict(event.headers)
            stream.status = int(stream.response_headers[":status"])
        elif isinstance(event, h2.events.DataReceived):
            stream.bytes_received += len(event.data)
            # Hand the window back as soon as the bytes are taken, as a
            # reader keeping up would.
            self.conn.acknowledge_received_data(event.flow_controlled_length, stream.id)
            if stream.ws.state == ConnectionState.CLOSED:
                # E.g. the empty DATA frame that carries END_STREAM.
                if event.data:
                    raise Failed(f"stream {stream.id}: {len(event.data)} bytes arrived after the WebSocket was closed")
                return
            stream.ws.receive_data(event.data)
            for ws_event in stream.ws.events():
                if isinstance(ws_event, ws_events.Ping):
                    # Answered after this batch of frames: sending here
                    # could wait for a window and read again.
                    stream.pongs.append(stream.ws.send(ws_event.response()))
                stream.events.append(ws_event)
        elif isinstance(event, h2.events.StreamEnded):
            stream.ended = True
            if stream.ws.state != ConnectionState.CLOSED:
                # The end of the byte stream before a close handshake:
                # wsproto reports it as a close with code 1006.
                stream.ws.receive_data(None)
                stream.events.extend(stream.ws.events())
        elif isinstance(event, h2.events.StreamReset):
            stream.reset = error_name(event.error_code)

    def wait_until(self, what, done, stream=None, resets_fail=True, closing_fails=True):
        """Pumps until `done()` or the deadline; fails naming `what` (and
        on a reset of `stream`, unless told not to)."""
        while not done():
            if resets_fail and stream is not None and stream.reset is not None:
                raise Failed(f"stream {stream.id} was reset ({stream.reset}) while waiting for {what}")
            if self.closed and not closing_fails:
                return
            if self.closed:
                raise Failed(f"the server closed the connection while waiting for {what} (GOAWAY: {self.goaway})")
            if time.monotonic() >= self.deadline:
                raise Failed(f"timed out waiting for {what}")
            self.pump(0.5)

    def enable_connect_protocol(self):
        """The server's SETTINGS_ENABLE_CONNECT_PROTOCOL, once its first
        SETTINGS frame arrived."""
        self.wait_until("the server's SETTINGS", lambda: self.settings_seen)
        return self.conn.remote_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL, 0)

    def open(self, headers):
        stream = Stream(self.conn.get_next_available_stream_id())
        self.streams[stream.id] = stream
        self.conn.send_headers(stream.id, headers, end_stream=False)
        self.flush()
        return stream

    def send_bytes(self, stream, data):
        """Sends `data` on `stream` as DATA frames, within the stream's
        and the connection's send windows (reading while they are shut,
        so the window updates, and the echoes, keep coming)."""
        view = memoryview(data)
        while view:
            window = self.conn.local_flow_control_window(stream.id)
            if window <= 0:
                if stream.reset is not None or self.closed:
                    raise Failed(f"stream {stream.id} went away while sending (reset {stream.reset})")
                self.pump(0.5)
                continue
            size = min(len(view), window, self.conn.max_outbound_frame_size)
            self.conn.send_data(stream.id, bytes(view[:size]))
            self.flush()
            view = view[size:]

    def send_ws(self, stream, event):
        self.send_bytes(stream, stream.ws.send(event))

    def next_message(self, stream, what):
        """The next whole message on `stream` (text or bytes, its
        fragments joined), Pong or CloseConnection."""
        parts = []
        what = f"{what} on stream {stream.id}"
        while True:
            self.wait_until(what, lambda: stream.events, stream=stream)
            event = stream.events.pop(0)
            if isinstance(event, ws_events.Message):
                parts.append(event.data)
                if event.message_finished:
                    joiner = "" if isinstance(event, ws_events.TextMessage) else b""
                    return type(event).__name__, joiner.join(parts)
            elif isinstance(event, (ws_events.Pong, ws_events.CloseConnection)):
                if parts:
                    raise Failed(f"{type(event).__name__} in the middle of a message while waiting for {what}")
                return type(event).__name__, event
            # Pings were answered in `handle`; nothing else is expected.

    def close(self):
        """Ends the HTTP/2 connection politely."""
        try:
            self.conn.close_connection()
            self.flush()
        except (OSError, h2.exceptions.ProtocolError):
            pass
        self.sock.close()


def error_name(code):
    try:
        return h2.errors.ErrorCodes(code).name
    except ValueError:
        return str(code)


def extended_connect_headers(tunnels, args):
    return [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http" if args.h2c else "https"),
        (":path", args.path),
        (":authority", tunnels.authority),
        ("sec-websocket-version", "13"),
    ]


def shown(data):
    if len(data) <= 64:
        return repr(data)
    return f"{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}"


def echo_step(tunnels, streams, what, make):
    """Sends `make(i)` (a wsproto message event) on every stream, then
    checks that each stream echoes its own."""
    sent = {}
    for i, stream in enumerate(streams):
        sent[stream.id] = make(i)
        tunnels.send_ws(stream, sent[stream.id])
    for stream in streams:
        expect = sent[stream.id]
        kind, data = tunnels.next_message(stream, f"the echo of {what}")
        if kind != type(expect).__name__ or data != expect.data:
            raise Failed(
                f"stream {stream.id}, {what}: sent a {type(expect).__name__} {shown(expect.data)}, "
                f"got back a {kind}: {shown(data)}"
            )


def echo_suite(args, deadline):
    report = {"mode": "echo", "streams": args.streams}
    tunnels = Tunnels(args, deadline)
    report["alpn"] = tunnels.alpn
    setting = tunnels.enable_connect_protocol()
    report["enable_connect_protocol"] = setting
    if setting != 1:
        raise Failed(f"SETTINGS_ENABLE_CONNECT_PROTOCOL is {setting}, not 1: the server does not offer RFC 8441")
    # All the tunnels open at once on the one connection.
    streams = [tunnels.open(extended_connect_headers(tunnels, args)) for _ in range(args.streams)]
    for stream in streams:
        tunnels.wait_until(
            f"the answer to the extended CONNECT on stream {stream.id}",
            lambda: stream.status is not None,
            stream=stream,
        )
        if stream.status != 200:
            raise Failed(f"the extended CONNECT on stream {stream.id} was answered {stream.status}, not 200: "
                         f"{stream.response_headers}")
    report["status"] = streams[0].status
    report["response_headers"] = streams[0].response_headers

    # Each stream's messages differ from the others', so that an echo
    # crossing to another stream cannot pass.
    echo_step(tunnels, streams, "a text message",
              lambda i: ws_events.TextMessage(data=f"hello over HTTP/2 \u2713 #{i}"))
    echo_step(tunnels, streams, "a binary message",
              lambda i: ws_events.BytesMessage(data=bytes([i & 0xFF]) + bytes(range(256))))
    big = pattern(BIG)
    echo_step(tunnels, streams, "a 1 MiB message",
              lambda i: ws_events.BytesMessage(data=i.to_bytes(4, "big") + big[4:]))
    report["big_sha256"] = hashlib.sha256(big).hexdigest()

    for i, stream in enumerate(streams):
        tunnels.send_ws(stream, ws_events.Ping(payload=f"mirrorgate-ping-{i}".encode()))
    for i, stream in enumerate(streams):
        kind, pong = tunnels.next_message(stream, "the pong")
        if kind != "Pong" or pong.payload != f"mirrorgate-ping-{i}".encode():
            raise Failed(f"stream {stream.id}: a ping was answered by {kind}: {pong!r}")
    report["pong"] = "mirrorgate-ping-0"

    for stream in streams:
        tunnels.send_ws(stream, ws_events.CloseConnection(code=CLOSE_CODE, reason="bye"))
    for stream in streams:
        kind, close = tunnels.next_message(stream, "the close echo")
        if kind != "CloseConnection" or close.code != CLOSE_CODE:
            raise Failed(f"stream {stream.id}: a close with code {CLOSE_CODE} was answered by {kind}: {close!r}")
    report["close_code"] = CLOSE_CODE
    # RFC 8441 §4: a tunnel ends with END_STREAM both ways. The server
    # may have ended it already, and then reset it with NO_ERROR (RFC 9113
    # §8.1: "stop sending, the answer is complete").
    for stream in streams:
        try:
            tunnels.conn.end_stream(stream.id)
            tunnels.flush()
        except h2.exceptions.StreamClosedError:
            pass
    for stream in streams:
        tunnels.wait_until(
            f"the server's END_STREAM after the close on stream {stream.id}",
            lambda: stream.ended or stream.reset is not None,
            resets_fail=False,
        )
        if not stream.ended or stream.reset not in (None, "NO_ERROR"):
            raise Failed(f"stream {stream.id} ended by a reset ({stream.reset}), not END_STREAM, "
                         "after the close handshake")
        if stream.ws.state != ConnectionState.CLOSED:
            raise Failed(f"stream {stream.id}: the WebSocket is {stream.ws.state.name} after the close "
                         "handshake, not CLOSED")
    report["stream_ended"] = all(s.ended for s in streams)
    report["resets_after_close"] = [s.reset for s in streams]
    report["tunnel_bytes_received"] = sum(s.bytes_received for s in streams)
    tunnels.close()
    return report


def plain_connect(args, deadline):
    # The `h2` package checks outgoing requests as if every one had a
    # :path and :scheme; a plain CONNECT has neither (RFC 9113 §8.5).
    tunnels = Tunnels(args, deadline, validate_outbound=False)
    report = {"mode": "plain-connect", "alpn": tunnels.alpn}
    report["enable_connect_protocol"] = tunnels.enable_connect_protocol()
    stream = tunnels.open([(":method", "CONNECT"), (":authority", tunnels.authority)])
    tunnels.wait_until(
        "an answer or a reset to the plain CONNECT",
        lambda: stream.status is not None or stream.reset is not None or tunnels.goaway is not None,
        resets_fail=False,
        closing_fails=False,
    )
    report.update(status=stream.status, reset=stream.reset, goaway=tunnels.goaway, closed=tunnels.closed)
    tunnels.close()
    if stream.status is not None and 200 <= stream.status < 300:
        raise Failed(f"a plain CONNECT (no :protocol) was accepted with {stream.status}: {json.dumps(report)}")
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connect", required=True, help="HOST:PORT to connect to")
    parser.add_argument("--authority", help=":authority (and TLS server name); default --connect")
    parser.add_argument("--cafile", help="PEM file of the certificates to trust (TLS)")
    parser.add_argument("--path", default="/ws")
    parser.add_argument("--h2c", action="store_true", help="cleartext HTTP/2, prior knowledge")
    parser.add_argument("--plain-connect", action="store_true", help="send a CONNECT without :protocol")
    parser.add_argument("--streams", type=int, default=1, help="tunnels at once on the one connection")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for the whole run")
    args = parser.parse_args()
    if args.streams < 1:
        parser.error("--streams must be at least 1")
    if not args.h2c and not args.cafile:
        parser.error("--cafile is required over TLS")
    deadline = time.monotonic() + args.timeout
    try:
        report = plain_connect(args, deadline) if args.plain_connect else echo_suite(args, deadline)
    except (Failed, OSError, h2.exceptions.ProtocolError, wsproto.utilities.ProtocolError) as e:
        print(f"h2_ws_client: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
