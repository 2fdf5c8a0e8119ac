"""A POST over HTTP/3 whose body is not as long as its Content-Length.

Sends `content-length: DECLARED` and then SENT bytes of body (one DATA
frame) and the stream's end. RFC 9114 §4.1.2 makes such a request
malformed; h3 passes it on as is, so the proxy must check it itself.
Reports the stream's outcome (status, or reset code).

    quic_content_length.py PORT --declared N --sent M [--path P]
"""

import argparse

from quic_common import connected_client, say

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("--declared", type=int, required=True)
parser.add_argument("--sent", type=int, required=True)
parser.add_argument("--path", default="/content-length")
parser.add_argument("--timeout", type=float, default=30.0)
args = parser.parse_args()

client = connected_client(args.port)
stream = client.request(
    args.path,
    [(b"content-length", str(args.declared).encode())],
    end_stream=False,
    method=b"POST",
)
client.h3.send_data(stream, b"x" * args.sent, end_stream=True)
client.flush()
client.run_until(lambda: client.finished(stream), args.timeout)
say(outcome=client.responses.get(stream, {}), **client.summary())
client.close()
