"""Baseline server for msgsys bench: a libzmq REP socket that returns
every request unchanged.

Usage: python3 echo_server.py BACKEND
Connects to the broker's DEALER at BACKEND, prints "ready" and echoes
until killed.
"""
import sys

import zmq


def main():
    context = zmq.Context()
    socket = context.socket(zmq.REP)
    socket.connect(sys.argv[1])
    print("ready", flush=True)
    while True:
        socket.send(socket.recv(copy=False), copy=False)


if __name__ == "__main__":
    sys.exit(main())
