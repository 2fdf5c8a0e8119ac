"""Shared plumbing for the HTTP/2 attack scripts.

Each attack script opens one TLS connection with ALPN h2 to the proxy,
does the HTTP/2 handshake with the `h2` package, then sends frames the
attack is made of (through `h2` where it will send them, as raw
`hyperframe` frames where it refuses) and prints one JSON line saying
what the proxy did: whether it sent GOAWAY (and its error code and debug
data), whether it closed the connection, what it answered.
"""

import json
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions

# HTTP/2 error codes worth naming in the report.
ERROR_NAMES = {
    0x0: "NO_ERROR",
    0x1: "PROTOCOL_ERROR",
    0x2: "INTERNAL_ERROR",
    0x7: "REFUSED_STREAM",
    0x8: "CANCEL",
    0x9: "COMPRESSION_ERROR",
    0xB: "ENHANCE_YOUR_CALM",
}


class Attacker:
    """One HTTP/2 client connection and what the server did to it."""

    def __init__(self, port, host="localhost", timeout=30.0):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["h2"])
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = context.wrap_socket(raw, server_hostname=host)
        if self.sock.selected_alpn_protocol() != "h2":
            raise SystemExit(f"server did not negotiate h2: {self.sock.selected_alpn_protocol()}")
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.host = host
        self.port = port
        self.goaway = None  # (error code name, debug data) once received
        self.closed = False  # the server closed the TCP/TLS connection
        self.write_failed = None  # why a write failed, if one did
        self.responses = {}  # stream id -> :status
        self.resets = {}  # stream id -> error code name
        self.bytes_received = 0
        self.read_error = None  # how reading ended, if not by a clean EOF
        self.inbuf = b""  # received bytes not yet a whole frame
        self.flush()

    def request_headers(self, path="/", extra=()):
        return [
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", f"{self.host}:{self.port}"),
            (":path", path),
        ] + list(extra)

    def flush(self):
        """Sends what the h2 state machine has queued."""
        self.send_raw(self.conn.data_to_send())

    def send_raw(self, data):
        """Writes bytes; a failed write means the server is gone."""
        if not data or self.gone:
            return False
        try:
            self.sock.sendall(data)
            return True
        except (OSError, ssl.SSLError) as e:
            # What the server sent before closing (its GOAWAY) may still
            # be readable: `poll` reads it and then sees the close.
            self.write_failed = type(e).__name__ + ": " + str(e)
            return False

    @property
    def gone(self):
        """The server closed the connection, or writing to it failed."""
        return self.closed or self.write_failed is not None

    def poll(self, wait=0.0):
        """Reads whatever has arrived (waiting at most `wait` seconds for
        the first bytes) and feeds it to the state machine."""
        if self.closed:
            return
        self.sock.settimeout(wait if wait > 0 else 0.000001)
        try:
            while True:
                try:
                    data = self.sock.recv(65536)
                except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
                    return
                if not data:
                    self.closed = True
                    return
                self.bytes_received += len(data)
                self.feed(data)
                self.sock.settimeout(0.000001)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError) as e:
            self.closed = True
            self.read_error = type(e).__name__
        finally:
            self.sock.settimeout(30.0)

    def feed(self, data):
        """Splits what arrived into frames and handles each: GOAWAY is read
        straight from the frame (the `h2` state machine refuses every
        frame after a GOAWAY, and would drop the GOAWAY's event with the
        rest of a chunk), the others go through `h2` one by one."""
        self.inbuf += data
        while len(self.inbuf) >= 9:
            length = int.from_bytes(self.inbuf[:3], "big")
            if len(self.inbuf) < 9 + length:
                return
            frame, self.inbuf = self.inbuf[: 9 + length], self.inbuf[9 + length :]
            if frame[3] == GOAWAY:
                self.saw_goaway(frame[9:])
            self.feed_frame(frame)

    def saw_goaway(self, payload):
        code = int.from_bytes(payload[4:8], "big")
        goaway = (ERROR_NAMES.get(code, str(code)), payload[8:].decode("latin-1"))
        # Keep the first GOAWAY that gives an error, else the first.
        if self.goaway is None or (self.goaway[0] == "NO_ERROR" and code != 0):
            self.goaway = goaway

    def feed_frame(self, frame):
        try:
            events = self.conn.receive_data(frame)
        except h2.exceptions.ProtocolError:
            # After a GOAWAY the state machine refuses everything.
            return
        for event in events:
            if isinstance(event, h2.events.ResponseReceived):
                status = dict(event.headers).get(":status")
                self.responses[event.stream_id] = status
            elif isinstance(event, h2.events.StreamReset):
                self.resets[event.stream_id] = ERROR_NAMES.get(
                    int(event.error_code), str(event.error_code)
                )
        # ACK settings and pings the way any client would, unless the
        # attack says otherwise (it then never calls poll).
        try:
            self.flush()
        except h2.exceptions.ProtocolError:
            pass

    def wait_closed(self, limit):
        """Reads until the server closes the connection, at most `limit`
        seconds. True if it did."""
        deadline = time.monotonic() + limit
        while not self.closed and time.monotonic() < deadline:
            self.poll(wait=min(0.5, max(0.01, deadline - time.monotonic())))
        return self.closed

    def report(self, **extra):
        out = {
            "goaway": self.goaway[0] if self.goaway else None,
            "goaway_debug": self.goaway[1] if self.goaway else None,
            "closed": self.closed,
            "write_failed": self.write_failed,
            "read_error": self.read_error,
            "responses": {str(k): v for k, v in self.responses.items()},
            "resets": {str(k): v for k, v in self.resets.items()},
            "bytes_received": self.bytes_received,
        }
        out.update(extra)
        print(json.dumps(out))
        sys.stdout.flush()


def frame_bytes(frame_type, flags, stream_id, payload):
    """One raw HTTP/2 frame (RFC 9113 §4.1), for frames `h2` will not
    send as the attack needs them."""
    length = len(payload)
    return (
        length.to_bytes(3, "big")
        + bytes([frame_type, flags])
        + (stream_id & 0x7FFFFFFF).to_bytes(4, "big")
        + payload
    )


HEADERS, SETTINGS, PING, GOAWAY, CONTINUATION = 0x1, 0x4, 0x6, 0x7, 0x9
END_STREAM, END_HEADERS = 0x1, 0x4
