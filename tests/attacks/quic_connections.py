"""Many QUIC connections from one address: opens --count connections one
after the other from --bind, reports how many were established and how
the others were closed (QUIC CONNECTION_REFUSED is 0x2), keeps the
established ones open for --hold seconds (the test checks other clients
meanwhile), then reports how many are still open.

    quic_connections.py PORT --count N [--bind IP] [--hold S]
"""

import argparse
import time

from quic_common import Client, say

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("--count", type=int, required=True)
parser.add_argument("--bind", default="127.0.0.1")
parser.add_argument("--hold", type=float, default=0.0)
args = parser.parse_args()

clients = []
for _ in range(args.count):
    client = Client(args.port, bind=args.bind)
    client.connect(timeout=10)
    # A refusal can follow the handshake (over the address's share):
    # give it a moment to arrive.
    client.run_until(lambda: client.closed, 0.2)
    clients.append(client)
open_now = [c for c in clients if c.established and not c.closed]
say(
    phase="opened",
    established=len(open_now),
    closes=[c.closed for c in clients if c.closed],
)
end = time.time() + args.hold
while time.time() < end:
    for client in clients:
        client.poll()
    time.sleep(0.01)
say(phase="held", still_open=sum(1 for c in clients if c.established and not c.closed))
for client in clients:
    client.close()
