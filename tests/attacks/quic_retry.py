"""Address validation: does the proxy answer with a QUIC Retry, and does
a client still get its answer after one?

First opens --stall handshakes that send one Initial each and then never
answer (the kind a flood of spoofed Initials leaves behind), noting the
type of the first packet the proxy sends back to each; then runs one real
HTTP/3 request and reports how many Retry packets it took.

--pause S waits between the two (for the stalled ones to time out).

    quic_retry.py PORT [--stall N] [--pause S]
"""

import argparse
import time

from quic_common import Client, packet_type, say

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("--stall", type=int, default=0)
parser.add_argument("--pause", type=float, default=0.0)
args = parser.parse_args()

stalled, first_packets = [], []
for _ in range(args.stall):
    attempt = Client(args.port)
    attempt.quic.connect(attempt.addr, now=time.time())
    attempt.flush()
    deadline, first = time.time() + 5, None
    while first is None and time.time() < deadline:
        try:
            data, _ = attempt.sock.recvfrom(65536)
            first = packet_type(data)
        except BlockingIOError:
            time.sleep(0.005)
    first_packets.append(first)
    stalled.append(attempt)  # kept open, never answered
say(stalled_first_packets=first_packets)
time.sleep(args.pause)

client = Client(args.port)
client.connect(timeout=15)
response = {}
if client.established:
    stream = client.request("/after-retry")
    client.run_until(lambda: client.finished(stream), 15)
    response = client.responses[stream]
say(status=response.get("status"), retry_packets=client.packets.get("retry", 0), **client.summary())
