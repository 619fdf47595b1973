"""A libzmq XPUB publisher, for proto's interop tests.

Usage: xpub_server.py

Binds an XPUB socket to an ephemeral port on 127.0.0.1 and prints
{"endpoint": ...}. It waits for one subscription message, prints
{"subscription": HEX}, then publishes three MessagePack posts as
[topic, payload] on the topics "anabela", "bob" and "ana", in that
order, and exits when its standard input closes.
"""

import json
import sys

import msgpack
import zmq


def post(channel, text):
    return msgpack.packb(
        {"user": "py", "channel": channel, "message": text, "timestamp": 1796412824, "clock": 9},
        use_bin_type=True,
    )


def main():
    context = zmq.Context()
    sock = context.socket(zmq.XPUB)
    sock.setsockopt(zmq.RCVTIMEO, 10000)
    sock.setsockopt(zmq.LINGER, 1000)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    print(json.dumps({"endpoint": "tcp://127.0.0.1:%d" % port}), flush=True)
    try:
        subscription = sock.recv()
    except zmq.Again:
        print(json.dumps({"error": "no subscription within 10 s"}), flush=True)
        sys.exit(1)
    print(json.dumps({"subscription": subscription.hex()}), flush=True)
    for topic in ("anabela", "bob", "ana"):
        sock.send_multipart([topic.encode(), post(topic, "for " + topic)])
    sys.stdin.read()
    sock.close()
    context.term()


if __name__ == "__main__":
    main()
