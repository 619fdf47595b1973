"""A libzmq REQ client with ZMTP heartbeats, for proto's interop tests.

Usage: req_heartbeat.py ENDPOINT COUNT

Sends COUNT MessagePack requests to ENDPOINT, one at a time, pausing
between them so that several 50 ms heartbeats (PING commands) go out
while the connection is idle. libzmq disconnects a peer that sends no
PONG for a PING within the heartbeat timeout. Prints one JSON
line: {"ok": N, "failed": [indexes of requests without a matching reply]}.
"""

import json
import sys
import time

import msgpack
import zmq


def make_socket(context, endpoint):
    sock = context.socket(zmq.REQ)
    sock.setsockopt(zmq.HEARTBEAT_IVL, 50)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 150)
    sock.setsockopt(zmq.RCVTIMEO, 2000)
    sock.setsockopt(zmq.SNDTIMEO, 2000)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    return sock


def main():
    endpoint, count = sys.argv[1], int(sys.argv[2])
    context = zmq.Context()
    sock = make_socket(context, endpoint)
    ok, failed = 0, []
    for i in range(count):
        request = msgpack.packb(
            {"service": "login", "data": {"user": "ana%d" % i, "clock": i}},
            use_bin_type=True,
        )
        try:
            sock.send(request)
            reply = sock.recv()
        except zmq.Again:
            failed.append(i)
            # A REQ socket that timed out cannot send again; start afresh.
            sock.close()
            sock = make_socket(context, endpoint)
            continue
        if reply == request:
            ok += 1
        else:
            failed.append(i)
        time.sleep(0.2)
    print(json.dumps({"ok": ok, "failed": failed}), flush=True)
    sock.close()
    context.term()


if __name__ == "__main__":
    main()
