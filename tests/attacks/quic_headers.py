"""Oversized request header sections over HTTP/3.

--header-bytes N sends a GET with one header of N bytes, QPACK-encoded as
any client may (literals). --frame-length L instead sends a HEADERS frame that
declares L bytes and then streams up to --send-bytes of it, as fast as
the proxy takes them: a proxy that buffers frames whole keeps taking.
With --control that frame (of a reserved type) goes on the client's
control stream instead of a request stream.
Reports the stream's outcome (status, or the reset / STOP_SENDING code;
H3_EXCESSIVE_LOAD is 0x107) and, for the raw frame, how many bytes the
proxy acknowledged.

    quic_headers.py PORT (--header-bytes N | --frame-length L --send-bytes B [--control])
"""

import argparse
import time

from quic_common import connected_client, h3_frame_header, qpack_request, say

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("--header-bytes", type=int)
parser.add_argument("--frame-length", type=int)
parser.add_argument("--send-bytes", type=int, default=0)
parser.add_argument("--control", action="store_true")
parser.add_argument("--timeout", type=float, default=60.0)
args = parser.parse_args()

client = connected_client(args.port)

acked = 0
if args.header_bytes is not None:
    block = qpack_request(client.authority, b"/big-header", [(b"x-big", b"a" * args.header_bytes)])
    stream = client.quic.get_next_available_stream_id()
    client.quic.send_stream_data(stream, h3_frame_header(0x1, len(block)) + block, end_stream=True)
    client.flush()
    client.run_until(lambda: client.finished(stream), args.timeout)
else:
    if args.control:
        # A reserved frame type on our control stream: h3 reads any
        # frame there whole too, known or not.
        stream = client.h3._local_control_stream_id
        client.quic.send_stream_data(stream, h3_frame_header(0x21, args.frame_length))
    else:
        stream = client.quic.get_next_available_stream_id()
        client.quic.send_stream_data(stream, h3_frame_header(0x1, args.frame_length))
    sender = client.quic._streams[stream].sender
    chunk = b"\x00" * 65536
    pushed, deadline = 0, time.time() + args.timeout
    while time.time() < deadline and not client.finished(stream):
        response = client.responses.get(stream, {})
        if "stop_sending" in response or pushed >= args.send_bytes:
            break
        # Keep about 1 MiB queued: as fast as the proxy takes it.
        if pushed - (sender._buffer_start - 2) < 1024 * 1024:
            client.quic.send_stream_data(stream, chunk)
            pushed += len(chunk)
        client.poll()
    # Let acknowledgements and any reset arrive.
    client.run_until(lambda: client.finished(stream), 3)
    acked = sender._buffer_start
say(
    outcome=client.responses.get(stream, {}),
    acked_bytes=acked,
    **client.summary(),
)
client.close()
