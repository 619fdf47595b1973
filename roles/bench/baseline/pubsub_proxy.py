"""Baseline pub/sub proxy for msgsys bench: a libzmq XSUB for publishers
and an XPUB for subscribers, joined by zmq.proxy, which forwards in C.

Usage: python3 pubsub_proxy.py
Binds both sockets to ephemeral loopback ports, prints one line
"ready XSUB XPUB LIBZMQ_VERSION" and forwards until killed. The high-water
marks are 10000 messages per peer, the same bound as the msgsys broker's
default per-subscriber queue.
"""
import sys

import zmq

QUEUE = 10000


def main():
    context = zmq.Context()
    xsub = context.socket(zmq.XSUB)
    xsub.setsockopt(zmq.RCVHWM, QUEUE)
    xsub.bind("tcp://127.0.0.1:*")
    xpub = context.socket(zmq.XPUB)
    xpub.setsockopt(zmq.SNDHWM, QUEUE)
    xpub.bind("tcp://127.0.0.1:*")
    print(
        "ready",
        xsub.getsockopt_string(zmq.LAST_ENDPOINT),
        xpub.getsockopt_string(zmq.LAST_ENDPOINT),
        zmq.zmq_version(),
        flush=True,
    )
    zmq.proxy(xsub, xpub)


if __name__ == "__main__":
    sys.exit(main())
