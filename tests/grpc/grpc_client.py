"""A real gRPC client (grpcio) for mirrorgate's end-to-end tests.

  grpc_client.py checks --target 127.0.0.1:PORT --cafile CA.pem --authority localhost
      Over TLS (HTTP/2 by ALPN) to mirrorgate, calls grpc_server.py's
      methods and prints one JSON object: what the client saw of each call
      (messages, initial and trailing metadata, status code and detail).
      Ports and timings are left out, so two runs through two proxies print
      the same thing when both delivered the same calls.
  grpc_client.py count --target 127.0.0.1:PORT
      Plaintext, straight to a grpc_server.py: prints its Count.

Every call has a deadline, so nothing here can hang. Exits non-zero when a
check fails (a message on stderr); the JSON is printed either way.
"""

import argparse
import json
import sys

import grpc
from grpc_expect import FAIL_REQUEST, STREAMED, UNARY_REQUEST, metadata, problems

SERVICE = "/mirrorgate.test.Echo/"
# Deadline of the calls that must succeed: generous, a slow CI is fine.
CALL_TIMEOUT = 30
# Deadline of the call to Slow, which answers only once its call ended:
# it always runs out, whatever the machine's speed.
SHORT_DEADLINE = 1.0


def outcome(call):
    return {
        "initial": metadata(call.initial_metadata()),
        "trailing": metadata(call.trailing_metadata()),
        "code": call.code().name,
        "details": call.details(),
    }


def unary(channel):
    method = channel.unary_unary(SERVICE + "Unary")
    reply, call = method.with_call(UNARY_REQUEST, timeout=CALL_TIMEOUT)
    return {"reply": reply.hex(), **outcome(call)}


def fail(channel):
    method = channel.unary_unary(SERVICE + "Fail")
    try:
        method(FAIL_REQUEST, timeout=CALL_TIMEOUT)
    except grpc.RpcError as error:
        return outcome(error)
    return {"code": "OK", "error": "Fail succeeded"}


def stream(channel):
    method = channel.unary_stream(SERVICE + "Stream")
    call = method(str(STREAMED).encode(), timeout=CALL_TIMEOUT)
    messages = [m.decode() for m in call]
    return {"messages": messages, **outcome(call)}


def deadline(channel):
    method = channel.unary_unary(SERVICE + "Slow")
    try:
        method(b"slow", timeout=SHORT_DEADLINE)
    except grpc.RpcError as error:
        return {"code": error.code().name}
    return {"code": "OK"}


def checks(args):
    with open(args.cafile, "rb") as f:
        credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
    # Connect to the address, verify the certificate for (and send
    # :authority) the name.
    options = [
        ("grpc.ssl_target_name_override", args.authority),
        ("grpc.default_authority", args.authority),
    ]
    with grpc.secure_channel(args.target, credentials, options) as channel:
        grpc.channel_ready_future(channel).result(timeout=CALL_TIMEOUT)
        result = {
            "unary": unary(channel),
            "fail": fail(channel),
            "stream": stream(channel),
            "deadline": deadline(channel),
        }
    print(json.dumps(result, sort_keys=True), flush=True)
    wrong = problems(result)
    for problem in wrong:
        print(problem, file=sys.stderr)
    return 1 if wrong else 0


def count(args):
    with grpc.insecure_channel(args.target) as channel:
        reply = channel.unary_unary(SERVICE + "Count")(b"", timeout=CALL_TIMEOUT)
    print(reply.decode(), flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["checks", "count"])
    parser.add_argument("--target", required=True, help="HOST:PORT to connect to")
    parser.add_argument("--cafile", help="PEM CA of the proxy's certificate (checks)")
    parser.add_argument("--authority", default="localhost", help="TLS name and :authority")
    args = parser.parse_args()
    if args.mode == "checks" and not args.cafile:
        parser.error("checks needs --cafile")
    sys.exit(checks(args) if args.mode == "checks" else count(args))


if __name__ == "__main__":
    main()
