"""A libzmq REP server, for proto's interop tests.

Usage: rep_server.py COUNT

Binds a REP socket to an ephemeral port on 127.0.0.1 and prints
{"endpoint": ...}. For each of COUNT requests it prints
{"request": DECODED} and replies with a MessagePack map that repeats the
request's service, with data {"status": "sucesso", "user": the request's
user, "clock": the request's clock + 1, "timestamp": a fixed string}.
"""

import json
import sys

import msgpack
import zmq


def main():
    count = int(sys.argv[1])
    context = zmq.Context()
    sock = context.socket(zmq.REP)
    sock.setsockopt(zmq.RCVTIMEO, 10000)
    sock.setsockopt(zmq.LINGER, 1000)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    print(json.dumps({"endpoint": "tcp://127.0.0.1:%d" % port}), flush=True)
    for _ in range(count):
        try:
            frame = sock.recv()
        except zmq.Again:
            print(json.dumps({"error": "no request within 10 s"}), flush=True)
            sys.exit(1)
        request = msgpack.unpackb(frame, raw=False)
        print(json.dumps({"request": request}, ensure_ascii=False), flush=True)
        data = request["data"]
        reply = {
            "service": request["service"],
            "data": {
                "status": "sucesso",
                "user": data["user"],
                "clock": data["clock"] + 1,
                "timestamp": "2026-12-04T19:33:45.000Z",
            },
        }
        sock.send(msgpack.packb(reply, use_bin_type=True))
    sock.close()
    context.term()


if __name__ == "__main__":
    main()
