"""A gRPC test client (grpcio) for the calls of ``grpc_server.py``.

Over TLS to mirrorgate (verifying its certificate with ``--cafile``, the
server name and ``:authority`` from ``--authority``), or over plaintext
h2c straight to a backend with ``--plaintext``. Runs:

1. ``unary``: ``/test.Echo/Unary`` with a message; its reply, status and
   trailing metadata;
2. ``stream``: ``/test.Echo/Stream`` asking for 5 messages; the messages,
   status and trailing metadata;
3. ``deadline``: ``/test.Echo/Slow`` with a 1 s deadline; its status,
   which must be DEADLINE_EXCEEDED.

Prints one JSON object with what it got and exits 0; a call that failed
otherwise than expected prints what happened on stderr and exits 1.
``--count`` instead only asks ``/test.Echo/Count`` and prints
``{"count": N}``. Every call is bounded by ``--timeout``.

    python tests/grpc/grpc_client.py --target 127.0.0.1:PORT \\
        --cafile ca.pem --authority localhost
"""

import argparse
import json
import sys

import grpc

UNARY_MESSAGE = "hello gRPC \u2713"
STREAM_COUNT = 5
DEADLINE_S = 1.0


class Failure(Exception):
    """A call that went otherwise than expected."""


def channel(args) -> grpc.Channel:
    if args.plaintext:
        return grpc.insecure_channel(args.target)
    with open(args.cafile, "rb") as f:
        credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
    host = args.authority.rsplit(":", 1)[0] if ":" in args.authority else args.authority
    options = [
        ("grpc.ssl_target_name_override", host),
        ("grpc.default_authority", args.authority),
    ]
    return grpc.secure_channel(args.target, credentials, options=options)


def metadata(pairs) -> list:
    """Metadata as sorted [key, value] pairs (text)."""
    return sorted([k, v if isinstance(v, str) else v.decode()] for k, v in pairs or ())


def unary(ch: grpc.Channel, timeout: float) -> dict:
    call = ch.unary_unary("/test.Echo/Unary")
    try:
        reply, state = call.with_call(UNARY_MESSAGE.encode(), timeout=timeout)
    except grpc.RpcError as e:
        raise Failure(f"unary: {e.code()} {e.details()}")
    return {
        "message": reply.decode(),
        "code": state.code().name,
        "trailing_metadata": metadata(state.trailing_metadata()),
    }


def stream(ch: grpc.Channel, timeout: float) -> dict:
    call = ch.unary_stream("/test.Echo/Stream")(
        str(STREAM_COUNT).encode(), timeout=timeout
    )
    try:
        messages = [m.decode() for m in call]
    except grpc.RpcError as e:
        raise Failure(f"stream: {e.code()} {e.details()}")
    return {
        "messages": messages,
        "code": call.code().name,
        "trailing_metadata": metadata(call.trailing_metadata()),
    }


def deadline(ch: grpc.Channel) -> dict:
    try:
        ch.unary_unary("/test.Echo/Slow")(b"slow", timeout=DEADLINE_S)
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            raise Failure(f"deadline: expected DEADLINE_EXCEEDED, got {e.code()} {e.details()}")
        return {"code": e.code().name}
    raise Failure("deadline: Slow answered within its 1 s deadline")


def count(ch: grpc.Channel, timeout: float) -> int:
    try:
        return int(ch.unary_unary("/test.Echo/Count")(b"", timeout=timeout))
    except grpc.RpcError as e:
        raise Failure(f"count: {e.code()} {e.details()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="HOST:PORT to connect to")
    parser.add_argument("--cafile", help="CA to verify the server with (TLS)")
    parser.add_argument("--authority", default="localhost")
    parser.add_argument("--plaintext", action="store_true", help="h2c, no TLS")
    parser.add_argument("--count", action="store_true", help="only ask Count")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    if not args.plaintext and not args.cafile:
        parser.error("--cafile is needed unless --plaintext")
    ch = channel(args)
    try:
        # A channel that never connects must fail, not wait.
        grpc.channel_ready_future(ch).result(timeout=args.timeout)
        if args.count:
            report = {"count": count(ch, args.timeout)}
        else:
            report = {
                "unary": unary(ch, args.timeout),
                "stream": stream(ch, args.timeout),
                "deadline": deadline(ch),
            }
    except grpc.FutureTimeoutError:
        print(f"no connection to {args.target} within {args.timeout} s", file=sys.stderr)
        return 1
    except Failure as e:
        print(str(e), file=sys.stderr)
        return 1
    finally:
        ch.close()
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
