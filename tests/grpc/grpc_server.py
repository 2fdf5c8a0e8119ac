"""A gRPC test backend (grpcio), plaintext HTTP/2 (h2c) on 127.0.0.1.

No protobuf and no generated code: generic handlers whose messages are
raw bytes (no serializers), so any gRPC client can call them by path.

- ``/test.Echo/Unary``: answers the request bytes, with trailing
  metadata ``x-trailer: done`` and status OK;
- ``/test.Echo/Stream``: the request is a count N (``b"5"``); answers N
  messages ``msg-0`` .. ``msg-{N-1}``, with trailing metadata
  ``x-trailer: streamed``;
- ``/test.Echo/Slow``: waits (at most 30 s) until the client's call is
  gone, so a client deadline shorter than that expires;
- ``/test.Echo/Count``: answers how many Unary and Stream calls this
  server has served (as ASCII digits), so a test sees that a mirror got
  its copies.

    python tests/grpc/grpc_server.py --port 0

prints ``LISTENING <port>`` as its first line once it serves, then runs
until it is killed.
"""

import argparse
import sys
import threading
import time
from concurrent import futures

import grpc

# Bounds Slow's wait: a client that never goes away must not hold a
# worker thread for ever.
SLOW_LIMIT_S = 30.0
# Bounds Stream's count: a bad request must not make it answer for ever.
MAX_STREAM = 1000


class Counter:
    """Unary and Stream calls served, shared by the worker threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = 0

    def add(self):
        with self.lock:
            self.calls += 1

    def get(self):
        with self.lock:
            return self.calls


def handlers(counter: Counter) -> grpc.GenericRpcHandler:
    def unary(request: bytes, context) -> bytes:
        counter.add()
        context.set_trailing_metadata((("x-trailer", "done"),))
        return request

    def stream(request: bytes, context):
        counter.add()
        try:
            count = int(request.decode("ascii"))
        except ValueError:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "not a count")
        if not 0 <= count <= MAX_STREAM:
            context.abort(grpc.StatusCode.OUT_OF_RANGE, "count out of range")
        context.set_trailing_metadata((("x-trailer", "streamed"),))
        for i in range(count):
            yield f"msg-{i}".encode()

    def slow(request: bytes, context) -> bytes:
        end = time.monotonic() + SLOW_LIMIT_S
        while context.is_active() and time.monotonic() < end:
            time.sleep(0.02)
        return request

    def count(request: bytes, context) -> bytes:
        return str(counter.get()).encode()

    return grpc.method_handlers_generic_handler(
        "test.Echo",
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary),
            "Stream": grpc.unary_stream_rpc_method_handler(stream),
            "Slow": grpc.unary_unary_rpc_method_handler(slow),
            "Count": grpc.unary_unary_rpc_method_handler(count),
        },
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handlers(Counter()),))
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    if port == 0:
        print(f"cannot bind 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    server.start()
    print(f"LISTENING {port}", flush=True)
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main())
