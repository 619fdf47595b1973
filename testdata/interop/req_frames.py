"""A libzmq REQ client that sends one multipart request, for tests of
frame counts.

Usage: req_frames.py ENDPOINT HEX_FRAME...

Sends the frames given in hexadecimal as one request to ENDPOINT and waits
up to five seconds for the reply. Prints one JSON line: {"reply": [HEX,
...]} with the reply's frames as libzmq's REQ socket delivers them, or
{"reply": null} when no reply came.
"""

import json
import sys

import zmq


def main():
    endpoint = sys.argv[1]
    frames = [bytes.fromhex(arg) for arg in sys.argv[2:]]
    context = zmq.Context()
    sock = context.socket(zmq.REQ)
    sock.setsockopt(zmq.RCVTIMEO, 5000)
    sock.setsockopt(zmq.SNDTIMEO, 5000)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        sock.send_multipart(frames)
        reply = [frame.hex() for frame in sock.recv_multipart()]
    except zmq.Again:
        reply = None
    print(json.dumps({"reply": reply}), flush=True)
    sock.close()
    context.term()


if __name__ == "__main__":
    main()
