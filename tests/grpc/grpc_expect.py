"""What grpc_server.py answers, as the test clients report it: shared by
grpc_client.py (grpcio over HTTP/2) and grpc_h3.py (aioquic over HTTP/3),
so both check the same things and print the same JSON for the same calls.
"""

# The Unary request: a NUL and a 0xff, so the body must pass byte for byte.
UNARY_REQUEST = b"hello \x00\xff"
# The Fail request; its status detail is `bad: ` and this.
FAIL_REQUEST = b"no"
# How many messages Stream is asked for.
STREAMED = 5

# Response headers an HTTP server adds to every answer, not metadata the
# gRPC service sent: `date` changes every second and `alt-svc` names the
# proxy's port, so they would make two runs differ. (In a Trailers-Only
# answer they are in the trailing metadata: it is the only HEADERS frame.)
SERVER_HEADERS = {"date", "alt-svc"}

WANT = {
    ("unary", "reply"): UNARY_REQUEST.hex(),
    ("unary", "code"): "OK",
    ("unary", "details"): "unary done",
    ("unary", "initial"): [["x-initial", "i"]],
    ("unary", "trailing"): [["x-trailer", "v"], ["x-trailer-bin", "0001feff"]],
    ("fail", "code"): "INVALID_ARGUMENT",
    ("fail", "details"): "bad: " + FAIL_REQUEST.decode(),
    ("fail", "trailing"): [["x-fail", "why"]],
    ("stream", "messages"): [f"message-{i}" for i in range(STREAMED)],
    ("stream", "code"): "OK",
    ("stream", "trailing"): [["x-stream-trailer", "done"]],
    ("deadline", "code"): "DEADLINE_EXCEEDED",
}


def metadata(pairs):
    """Metadata as JSON, without SERVER_HEADERS: binary values (`-bin`
    keys) in hex."""
    return [
        [k, v.hex() if isinstance(v, bytes) else v]
        for k, v in pairs or ()
        if k not in SERVER_HEADERS
    ]


def problems(result):
    """What is wrong with a result of the four calls, as messages."""
    return [
        f"{call}.{key}: want {value!r}, got {result.get(call, {}).get(key)!r}"
        for (call, key), value in WANT.items()
        if result.get(call, {}).get(key) != value
    ]
