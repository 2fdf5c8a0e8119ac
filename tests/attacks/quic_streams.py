"""Stream floods on one QUIC connection.

--streams N opens N request streams at once for --path (aioquic queues
the ones beyond the proxy's stream credit, as every client must); reports
each response's status. --uni N first opens N unidirectional streams of
reserved (unknown) types (aioquic queues those beyond the credit); the
proxy should stop each, the script resets it, the credit comes back. --ignore-limit pretends the
proxy granted a million streams, so streams beyond the credit are really
sent: the proxy must close the connection (STREAM_LIMIT_ERROR is 0x4).

    quic_streams.py PORT [--streams N] [--path P] [--uni N] [--ignore-limit]
"""

import argparse

from aioquic.buffer import encode_uint_var

from quic_common import connected_client, say

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("--streams", type=int, default=0)
parser.add_argument("--path", default="/")
parser.add_argument("--uni", type=int, default=0)
parser.add_argument("--ignore-limit", action="store_true")
parser.add_argument("--timeout", type=float, default=60.0)
args = parser.parse_args()

client = connected_client(args.port)
if args.ignore_limit:
    client.quic._remote_max_streams_bidi = 1_000_000
    client.quic._remote_max_streams_uni = 1_000_000
for i in range(args.uni):
    stream = client.quic.get_next_available_stream_id(is_unidirectional=True)
    # Reserved stream types 0x1f * N + 0x21 (RFC 9114 §6.2.3).
    client.quic.send_stream_data(stream, encode_uint_var(0x1F * i + 0x21) + b"x" * 64)
client.flush()
streams = [client.request(args.path) for _ in range(args.streams)]
if args.ignore_limit:
    client.run_until(lambda: client.closed, args.timeout)
else:
    client.run_until(
        lambda: all(client.finished(s) for s in streams)
        and client.uni_stopped >= args.uni,
        args.timeout,
    )
statuses = {}
for s in streams:
    status = str(client.responses[s].get("status", "none"))
    statuses[status] = statuses.get(status, 0) + 1
say(statuses=statuses, **client.summary())
client.close()
