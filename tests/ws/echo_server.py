"""A WebSocket echo backend for the tunnel tests (the `websockets` library).

    python tests/ws/echo_server.py --port 0

prints `LISTENING <port>` as its first line once it listens on 127.0.0.1,
then serves until SIGTERM (or SIGKILL: tests stop it by its PID):

- a WebSocket on any path: every text and binary message echoed; pings
  answered (by the library); a close echoed with the client's code and
  reason (RFC 6455 §5.5.1), so the client learns its code arrived;
- `GET /handshakes` (plain HTTP): JSON list of the request headers of the
  last 100 WebSocket handshakes, as this backend received them, so a
  test can check what the proxy passed on;
- `GET /` (plain HTTP): a page whose script opens `wss://<host>/ws`,
  sends `page-hello` and writes the echo into `#out` (for a browser).
"""

import argparse
import asyncio
import json
import signal
from collections import deque

from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response

PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>ws echo</title></head>
<body><p id="out">waiting</p><script>
const ws = new WebSocket(`wss://${location.host}/ws`);
ws.onopen = () => ws.send("page-hello");
ws.onmessage = (e) => {
  document.getElementById("out").textContent = "echo: " + e.data;
  ws.close(1000);
};
ws.onerror = () => { document.getElementById("out").textContent = "error"; };
</script></body></html>"""

# The handshakes seen, newest last; bounded.
HANDSHAKES = deque(maxlen=100)


def answer(status, body, content_type):
    headers = Headers({"Content-Type": content_type, "Content-Length": str(len(body))})
    return Response(status, "OK" if status == 200 else "Not Found", headers, body)


def process_request(connection, request):
    """Plain HTTP answers; `None` lets the WebSocket handshake go on."""
    wants_websocket = "upgrade" in request.headers.get("Connection", "").lower()
    if request.path == "/handshakes":
        body = json.dumps(list(HANDSHAKES)).encode()
        return answer(200, body, "application/json")
    if not wants_websocket:
        if request.path == "/":
            return answer(200, PAGE, "text/html; charset=utf-8")
        return answer(404, b"not a WebSocket handshake\n", "text/plain")
    HANDSHAKES.append({"path": request.path, "headers": [[k, v] for k, v in request.headers.raw_items()]})
    return None


async def echo(websocket):
    try:
        async for message in websocket:
            await websocket.send(message)
    except Exception:
        # A client gone without a close, or a tunnel the proxy cut: the
        # connection's end is all there is to it.
        pass


async def main(port):
    stop = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    async with serve(
        echo,
        "127.0.0.1",
        port,
        process_request=process_request,
        max_size=4 * 1024 * 1024,
        # No keepalive pings of its own: tests count every byte and wait
        # for idle timeouts.
        ping_interval=None,
    ) as server:
        print("LISTENING", server.sockets[0].getsockname()[1], flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(main(parser.parse_args().port))
