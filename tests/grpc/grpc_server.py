"""A real gRPC backend (grpcio) for mirrorgate's end-to-end tests.

Plaintext HTTP/2 (h2c) on 127.0.0.1, as a `protocol = "h2"` service's
backend. Methods are generic handlers on raw bytes, so no .proto file and
no generated code are needed. Service `mirrorgate.test.Echo`:

  Unary   echoes the request; initial metadata `x-initial: i`, trailing
          metadata `x-trailer: v` and `x-trailer-bin: 00 01 fe ff`, status
          OK with the detail `unary done`.
  Fail    no message: status INVALID_ARGUMENT, detail `bad: <request>`,
          trailing metadata `x-fail: why` (a "Trailers-Only" answer, one
          HEADERS frame that ends the stream).
  Stream  the request is a decimal N: streams `message-0` .. `message-N-1`,
          then trailing metadata `x-stream-trailer: done`.
  Slow    answers only when the call ends (deadline or cancel), or after
          30 s: for deadline tests.
  Count   JSON of the calls seen so far per method (Count itself not
          counted) and, for Slow, whether each call carried a deadline.

Run: grpc_server.py --port 0  ->  prints `LISTENING <port>` once serving.
It stops on SIGTERM or when its stdin closes (so a dead test never
leaves it behind).
"""

import argparse
import json
import signal
import sys
import threading
from concurrent import futures

import grpc

SERVICE = "mirrorgate.test.Echo"
# How long Slow waits at most for its call to end: bounds a call whose
# client set no deadline.
SLOW_LIMIT_SECONDS = 30


class Calls:
    """Calls per method, shared by the handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {"Unary": 0, "Fail": 0, "Stream": 0, "Slow": 0}
        self.slow_deadlines = []

    def seen(self, method):
        with self.lock:
            self.counts[method] += 1

    def slow(self, had_deadline):
        with self.lock:
            self.counts["Slow"] += 1
            self.slow_deadlines.append(had_deadline)

    def snapshot(self):
        with self.lock:
            return {"counts": dict(self.counts), "slow_deadlines": list(self.slow_deadlines)}


def handlers(calls):
    def unary(request, context):
        calls.seen("Unary")
        context.send_initial_metadata((("x-initial", "i"),))
        context.set_trailing_metadata(
            (("x-trailer", "v"), ("x-trailer-bin", b"\x00\x01\xfe\xff"))
        )
        context.set_details("unary done")
        return request

    def fail(request, context):
        calls.seen("Fail")
        context.set_trailing_metadata((("x-fail", "why"),))
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad: " + request.decode())

    def stream(request, context):
        calls.seen("Stream")
        context.set_trailing_metadata((("x-stream-trailer", "done"),))
        for i in range(int(request.decode())):
            yield f"message-{i}".encode()

    def slow(request, context):
        calls.slow(context.time_remaining() is not None)
        ended = threading.Event()
        if context.add_callback(ended.set):
            ended.wait(SLOW_LIMIT_SECONDS)
        return request

    def count(request, context):
        return json.dumps(calls.snapshot()).encode()

    raw = {"request_deserializer": None, "response_serializer": None}
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary, **raw),
            "Fail": grpc.unary_unary_rpc_method_handler(fail, **raw),
            "Stream": grpc.unary_stream_rpc_method_handler(stream, **raw),
            "Slow": grpc.unary_unary_rpc_method_handler(slow, **raw),
            "Count": grpc.unary_unary_rpc_method_handler(count, **raw),
        },
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: the OS picks one")
    args = parser.parse_args()

    # Slow holds a thread until its call ends: enough workers that a few
    # slow calls (and their mirror copies) never starve the others.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((handlers(Calls()),))
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    if port == 0:
        sys.exit(f"cannot bind 127.0.0.1:{args.port}")
    server.start()
    print(f"LISTENING {port}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # stdin at EOF: the process that started us is gone.
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    server.stop(grace=0).wait(5)


if __name__ == "__main__":
    main()
