"""Amplification before address validation (RFC 9000 §8.1): send one
client Initial from a raw socket, then never acknowledge or answer
anything, and count every byte the proxy sends back for --seconds.

With --follow-retry a Retry packet is followed once (the new Initial
carries the token, so the address counts as validated and the 3x limit no
longer applies): the control case showing the count catches a server
that sends more.

    quic_amplification.py PORT [--seconds S] [--follow-retry]
"""

import argparse
import time

from quic_common import Client, packet_type, say

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("--seconds", type=float, default=5.0)
parser.add_argument("--follow-retry", action="store_true")
args = parser.parse_args()

client = Client(args.port)
client.quic.connect(client.addr, now=time.time())
client.flush()
followed = False
end = time.time() + args.seconds
while time.time() < end:
    try:
        data, _ = client.sock.recvfrom(65536)
    except BlockingIOError:
        time.sleep(0.005)
        continue
    kind = packet_type(data)
    client.packets[kind] = client.packets.get(kind, 0) + 1
    client.bytes_received += len(data)
    if kind == "retry" and args.follow_retry and not followed:
        # Only the Retry is processed: aioquic answers it with a new
        # Initial carrying the token. Nothing after it is.
        client.quic.receive_datagram(data, client.addr, now=time.time())
        client.flush()
        followed = True
say(
    bytes_sent=client.bytes_sent,
    bytes_received=client.bytes_received,
    packets=client.packets,
    followed_retry=followed,
)
