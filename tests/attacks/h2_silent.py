"""A client that goes silent: after the HTTP/2 handshake it neither reads
nor writes (a dead peer, or one holding connections open for free).

usage: h2_silent.py PORT SECONDS

Sleeps SECONDS without touching the socket, so the server's keep-alive
PINGs go unanswered, then reads what is there to see whether the server
has closed the connection. Prints a JSON report.
"""

import argparse
import time

from h2_common import Attacker


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("seconds", type=float)
    args = parser.parse_args()

    attacker = Attacker(args.port)
    attacker.poll(wait=1.0)  # the server's SETTINGS, acknowledged
    started = time.monotonic()
    time.sleep(args.seconds)
    # Only read now: whatever the server sent meanwhile, then EOF if it
    # has closed. A short wait, so that an open connection reports open.
    attacker.wait_closed(limit=1.0)
    attacker.report(seconds=round(time.monotonic() - started, 3))


if __name__ == "__main__":
    main()
