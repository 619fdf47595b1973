"""A libzmq REQ client with the PLAIN mechanism, for proto's interop tests.

Usage: req_plain.py ENDPOINT PASSWORD

Sends one request to ENDPOINT as user "any" with PASSWORD and waits up to
one second for the reply. Prints one JSON line: {"reply": true} when the
echo came back, {"reply": false} when it did not.
"""

import json
import sys

import zmq


def main():
    endpoint, password = sys.argv[1], sys.argv[2]
    context = zmq.Context()
    sock = context.socket(zmq.REQ)
    sock.setsockopt(zmq.PLAIN_USERNAME, b"any")
    sock.setsockopt(zmq.PLAIN_PASSWORD, password.encode())
    sock.setsockopt(zmq.RCVTIMEO, 1000)
    sock.setsockopt(zmq.SNDTIMEO, 1000)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        sock.send(b"oi")
        ok = sock.recv() == b"oi"
    except zmq.Again:
        ok = False
    print(json.dumps({"reply": ok}), flush=True)
    sock.close()
    context.term()


if __name__ == "__main__":
    main()
