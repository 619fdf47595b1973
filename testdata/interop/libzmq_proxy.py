"""A broker or a pub/sub proxy made of libzmq's own zmq.proxy.

Usage: libzmq_proxy.py reqrep|pubsub

reqrep binds a ROUTER (clients) and a DEALER (servers) and runs
zmq.proxy(ROUTER, DEALER); it prints {"frontend": ..., "backend": ...}.
pubsub binds an XSUB (publishers) and an XPUB (subscribers) and runs
zmq.proxy(XSUB, XPUB); it prints {"xsub": ..., "xpub": ...}. Both bind
ephemeral ports on 127.0.0.1 and run until standard input closes.
"""

import json
import os
import sys
import threading

import zmq


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("reqrep", "pubsub"):
        print(json.dumps({"error": "usage: libzmq_proxy.py reqrep|pubsub"}), flush=True)
        sys.exit(1)
    context = zmq.Context()
    if sys.argv[1] == "reqrep":
        front, back = context.socket(zmq.ROUTER), context.socket(zmq.DEALER)
        names = ("frontend", "backend")
    else:
        front, back = context.socket(zmq.XSUB), context.socket(zmq.XPUB)
        names = ("xsub", "xpub")
    endpoints = {}
    for name, sock in zip(names, (front, back)):
        sock.setsockopt(zmq.LINGER, 0)
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        endpoints[name] = "tcp://127.0.0.1:%d" % port

    # zmq.proxy never returns, so it runs in a daemon thread and the
    # process ends when the test closes standard input.
    threading.Thread(target=zmq.proxy, args=(front, back), daemon=True).start()
    print(json.dumps(endpoints), flush=True)
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main()
