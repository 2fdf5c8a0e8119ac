"""A mirror that accepts connections and never reads from them: the
faulty mirror of the soak (scripts/soak.sh).

    blackhole.py PORT [--hold SECONDS]

Listens on 127.0.0.1:PORT with a small receive buffer, so that a copy's
body soon fills the socket and the proxy's writes stall. Each accepted
connection is kept, unread, for --hold seconds (default 600; soak.sh
passes longer than its whole run) and then closed: to the proxy it never
reads and never answers, and a stall the proxy does not end itself is
not ended here either. Runs until killed.
"""

import argparse
import selectors
import socket
import time

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("--hold", type=float, default=600.0)
args = parser.parse_args()

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
# Set before listen() so accepted sockets inherit it: a few KiB of
# window, then the proxy's writes block.
listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
listener.bind(("127.0.0.1", args.port))
listener.listen(1024)
listener.setblocking(False)

selector = selectors.DefaultSelector()
selector.register(listener, selectors.EVENT_READ)
held = []  # (accepted at, socket), oldest first
while True:
    for _ in selector.select(timeout=1.0):
        while True:
            try:
                conn, _ = listener.accept()
            except BlockingIOError:
                break
            held.append((time.monotonic(), conn))
    now = time.monotonic()
    while held and now - held[0][0] > args.hold:
        held.pop(0)[1].close()
