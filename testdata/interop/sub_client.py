"""A libzmq SUB client, for proto's interop tests.

Usage: sub_client.py ENDPOINT TOPIC

Connects a SUB socket to ENDPOINT, subscribes to TOPIC and prints
{"topic": ..., "payload": DECODED} for each two-frame publication, until
one whose payload has "message": "end". Prints {"error": ...} and exits
with status 1 when nothing arrives for 10 s.
"""

import json
import sys

import msgpack
import zmq


def main():
    endpoint, topic = sys.argv[1], sys.argv[2]
    context = zmq.Context()
    sock = context.socket(zmq.SUB)
    sock.setsockopt(zmq.RCVTIMEO, 10000)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
    sock.connect(endpoint)
    while True:
        try:
            frames = sock.recv_multipart()
        except zmq.Again:
            print(json.dumps({"error": "no publication within 10 s"}), flush=True)
            sys.exit(1)
        if len(frames) != 2:
            print(json.dumps({"error": "publication of %d frames" % len(frames)}), flush=True)
            sys.exit(1)
        payload = msgpack.unpackb(frames[1], raw=False)
        print(json.dumps({"topic": frames[0].decode(), "payload": payload}, ensure_ascii=False), flush=True)
        if payload.get("message") == "end":
            break
    sock.close()
    context.term()


if __name__ == "__main__":
    main()
