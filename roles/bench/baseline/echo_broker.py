"""Baseline request broker for msgsys bench: a libzmq ROUTER for clients
and a DEALER for echo servers, joined by zmq.proxy, which forwards in C.

Usage: python3 echo_broker.py
Binds both sockets to ephemeral loopback ports, prints one line
"ready FRONTEND BACKEND LIBZMQ_VERSION" and forwards until killed.
"""
import sys

import zmq


def main():
    context = zmq.Context()
    frontend = context.socket(zmq.ROUTER)
    frontend.bind("tcp://127.0.0.1:*")
    backend = context.socket(zmq.DEALER)
    backend.bind("tcp://127.0.0.1:*")
    print(
        "ready",
        frontend.getsockopt_string(zmq.LAST_ENDPOINT),
        backend.getsockopt_string(zmq.LAST_ENDPOINT),
        zmq.zmq_version(),
        flush=True,
    )
    zmq.proxy(frontend, backend)


if __name__ == "__main__":
    sys.exit(main())
