"""Shared plumbing for the QUIC / HTTP/3 attack scripts.

Each script drives aioquic's sans-I/O QuicConnection (and H3Connection)
over its own UDP socket, so it sees every datagram the proxy sends (the
packet type from the first byte: Initial, Handshake, Retry) and can send
what a well-behaved client never would. It prints JSON lines saying what
the proxy did; the Rust test reads them.
"""

import json
import socket
import ssl
import time

from aioquic.buffer import encode_uint_var
from aioquic.h3 import events as h3e
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.quic import events as qe
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.stream import QuicStreamSender

# A server resends STOP_SENDING when it deems the packet that carried it
# lost (RFC 9000 §13.3), and aioquic 1.2 then asserts in reset(): "cannot
# call reset() more than once". A second STOP_SENDING for a stream already
# reset changes nothing (§3.5), so a repeated reset is a no-op here.
_reset_once = QuicStreamSender.reset


def _reset(sender, error_code):
    if sender._reset_error_code is None:
        _reset_once(sender, error_code)


QuicStreamSender.reset = _reset

# QUIC v1 long-header packet types (RFC 9000 §17.2), from bits 4-5.
PACKET_TYPES = {0: "initial", 1: "0rtt", 2: "handshake", 3: "retry"}


def packet_type(datagram):
    """The type of the first packet in a datagram: a long-header type name,
    or "short" for a 1-RTT packet."""
    first = datagram[0]
    if not first & 0x80:
        return "short"
    return PACKET_TYPES[(first & 0x30) >> 4]


def say(**fields):
    """One JSON line on stdout, flushed at once (the test reads as we go)."""
    print(json.dumps(fields), flush=True)


def configuration(server_name="localhost"):
    return QuicConfiguration(
        is_client=True,
        alpn_protocols=H3_ALPN,
        verify_mode=ssl.CERT_NONE,
        server_name=server_name,
        # Large enough for responses; the attack is ours, not the proxy's.
        max_data=64 * 1024 * 1024,
        max_stream_data=4 * 1024 * 1024,
    )


class Client:
    """One QUIC connection with HTTP/3 on it, and what the server did."""

    def __init__(self, port, bind="127.0.0.1", host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((bind, 0))
        self.sock.setblocking(False)
        self.addr = (host, port)
        self.authority = f"localhost:{port}".encode()
        self.quic = QuicConnection(configuration=configuration())
        self.h3 = H3Connection(self.quic)
        self.packets = {}  # packet type -> datagrams received
        self.bytes_sent = 0
        self.bytes_received = 0
        self.established = False
        self.closed = None  # the server's CONNECTION_CLOSE, if any
        self.responses = {}  # stream id -> what came back on it
        self.uni_stopped_ids = set()  # our unidirectional streams the server stopped

    # --- I/O -------------------------------------------------------------

    def flush(self):
        for data, addr in self.quic.datagrams_to_send(now=time.time()):
            self.sock.sendto(data, addr)
            self.bytes_sent += len(data)

    def poll(self):
        """Reads every datagram waiting, fires due timers, handles events
        and sends what is due. Never blocks."""
        while True:
            try:
                data, _ = self.sock.recvfrom(65536)
            except (BlockingIOError, ConnectionRefusedError):
                break
            kind = packet_type(data)
            self.packets[kind] = self.packets.get(kind, 0) + 1
            self.bytes_received += len(data)
            self.quic.receive_datagram(data, self.addr, now=time.time())
        timer = self.quic.get_timer()
        if timer is not None and timer <= time.time():
            self.quic.handle_timer(now=time.time())
        self._events()
        self.flush()

    def run_until(self, done, timeout):
        """Polls until `done()` or `timeout` seconds; returns `done()`."""
        deadline = time.time() + timeout
        while not done() and time.time() < deadline:
            self.poll()
            time.sleep(0.002)
        return done()

    def _events(self):
        while True:
            event = self.quic.next_event()
            if event is None:
                return
            if isinstance(event, qe.HandshakeCompleted):
                self.established = True
            elif isinstance(event, qe.ConnectionTerminated):
                self.closed = {
                    "error_code": event.error_code,
                    "frame_type": event.frame_type,
                    "reason": event.reason_phrase,
                }
            elif isinstance(event, qe.StreamReset):
                self._response(event.stream_id)["reset"] = event.error_code
            elif isinstance(event, qe.StopSendingReceived):
                if event.stream_id % 4 == 2:
                    # A set: a resent STOP_SENDING is one stream stopped.
                    self.uni_stopped_ids.add(event.stream_id)
                else:
                    self._response(event.stream_id)["stop_sending"] = event.error_code
                # aioquic answers with RESET_STREAM itself (RFC 9000
                # §3.5): the stream closes and its credit can come back.
            for h3_event in self.h3.handle_event(event):
                self._h3_event(h3_event)
            if isinstance(event, qe.StreamDataReceived) and event.end_stream:
                # aioquic reports no end when the stream's last frame is
                # a reserved (GREASE) one, as h3 sends: take QUIC's FIN.
                if event.stream_id % 4 == 0:
                    self._response(event.stream_id)["ended"] = True

    def _h3_event(self, event):
        if isinstance(event, h3e.HeadersReceived):
            response = self._response(event.stream_id)
            for name, value in event.headers:
                if name == b":status":
                    response["status"] = int(value)
            response["ended"] = response.get("ended") or event.stream_ended
        elif isinstance(event, h3e.DataReceived):
            response = self._response(event.stream_id)
            response["body_bytes"] = response.get("body_bytes", 0) + len(event.data)
            response["ended"] = response.get("ended") or event.stream_ended

    def _response(self, stream_id):
        return self.responses.setdefault(stream_id, {})

    # --- actions ---------------------------------------------------------

    def connect(self, timeout=10.0):
        """Handshake; True when established."""
        self.quic.connect(self.addr, now=time.time())
        self.flush()
        self.run_until(lambda: self.established or self.closed, timeout)
        return self.established

    def request(self, path="/", headers=(), end_stream=True, method=b"GET"):
        """Sends a request's headers (a GET unless told) on a new request
        stream (queued by aioquic while the server's stream credit is used
        up); returns its stream id."""
        stream_id = self.quic.get_next_available_stream_id()
        self.h3.send_headers(
            stream_id,
            [
                (b":method", method),
                (b":scheme", b"https"),
                (b":authority", self.authority),
                (b":path", path.encode()),
            ]
            + list(headers),
            end_stream=end_stream,
        )
        self._response(stream_id)
        self.flush()
        return stream_id

    def finished(self, stream_id):
        """The response on `stream_id` is complete, reset, or the
        connection is gone."""
        r = self.responses.get(stream_id, {})
        return bool(r.get("ended") or "reset" in r or self.closed)

    @property
    def uni_stopped(self):
        """How many of our unidirectional streams the server stopped."""
        return len(self.uni_stopped_ids)

    def close(self):
        self.quic.close()
        self.flush()
        self.sock.close()

    def summary(self):
        return {
            "established": self.established,
            "closed": self.closed,
            "packets": self.packets,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "uni_stopped": self.uni_stopped,
        }


def connected_client(port, timeout=15):
    """A Client whose handshake with the proxy at `port` completed. If it
    does not, says so with what the client saw and exits 1: the attack
    cannot start, and the test must not read that as a defence."""
    client = Client(port)
    if not client.connect(timeout=timeout):
        say(error="no handshake", **client.summary())
        raise SystemExit(1)
    return client


def qpack_integer(value, prefix_bits, first_byte_flags):
    """A QPACK/HPACK prefixed integer (RFC 7541 §5.1)."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = [first_byte_flags | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def qpack_request(authority, path, fields):
    """A GET's header section in QPACK without the dynamic table or Huffman
    (RFC 9204), the way any encoder may send it: the pseudo-headers from
    the static table, every other field as a literal name and value.
    Written by hand because aioquic's encoder refuses large fields."""
    out = bytearray(b"\x00\x00")  # Required Insert Count 0, Base 0
    out += bytes([0xC0 | 17])  # :method GET (static index 17)
    out += bytes([0xC0 | 23])  # :scheme https (static index 23)
    for index, value in ((0, authority), (1, path)):  # :authority, :path
        out += qpack_integer(index, 4, 0x50)  # literal, static name ref
        out += qpack_integer(len(value), 7, 0x00) + value
    for name, value in fields:
        out += qpack_integer(len(name), 3, 0x20)  # literal name, no Huffman
        out += name
        out += qpack_integer(len(value), 7, 0x00) + value
    return bytes(out)


def h3_frame_header(frame_type, length):
    """An HTTP/3 frame's type and length (RFC 9114 §7.1)."""
    return encode_uint_var(frame_type) + encode_uint_var(length)

