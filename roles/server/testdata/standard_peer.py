"""A server of the standard protocol on the server-to-server side, written
with libzmq (pyzmq), as another team would write it.

Usage: standard_peer.py REFERENCE NAME [--skew SECONDS] [--xsub ENDPOINT]

It binds a REP socket on 127.0.0.1 at a free port, registers NAME with
the reference (rank, with its address as msgsys servers send it) and sends
a heartbeat every 200 ms. On its endpoint it replies to the two services the
standard fixes between servers:

  election  {"election": "OK"}; with --xsub it then announces itself as
            coordinator on topic "servers", without rank or epoch
  clock     {"time": Unix seconds plus SKEW}

and every other service (replicate, sync, claim, adjust ...) with
{"status": "erro", "description": ...} under the request's service name.

It prints {"ready": true, "rank": RANK, "addr": ADDR} once registered,
then {"service": NAME} for each request on its endpoint, and
{"announced": true} for each announcement. It exits when its standard
input closes.
"""

import argparse
import json
import sys
import time

import msgpack
import zmq


class Peer:
    def __init__(self, args):
        self.args = args
        self.clock = 0
        self.context = zmq.Context()

    def stamp(self, data):
        """Adds the timestamp and clock every message carries."""
        self.clock += 1
        data["timestamp"] = time.time() + self.args.skew
        data["clock"] = self.clock
        return data

    def witness(self, data):
        clock = data.get("clock", 0) if isinstance(data, dict) else 0
        if isinstance(clock, int) and clock >= 0:
            self.clock = max(self.clock, clock)

    def pack(self, service, data):
        return msgpack.packb({"service": service, "data": self.stamp(data)}, use_bin_type=True)

    def reference(self, service, data):
        """Sends one request to the reference; returns the reply data or None."""
        sock = self.context.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.args.reference)
        try:
            sock.send(self.pack(service, data))
            if not sock.poll(1000):
                return None
            reply = msgpack.unpackb(sock.recv(), raw=False).get("data") or {}
            self.witness(reply)
            return reply
        finally:
            sock.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("reference")
    parser.add_argument("name")
    parser.add_argument("--skew", type=float, default=0.0)
    parser.add_argument("--xsub", default="")
    args = parser.parse_args()
    peer = Peer(args)

    rep = peer.context.socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    addr = "tcp://127.0.0.1:%d" % port

    xpub = None
    if args.xsub:
        # XPUB, not PUB, so that the subscription to "servers" is seen
        # before the first announcement, which a PUB socket would drop.
        xpub = peer.context.socket(zmq.XPUB)
        xpub.setsockopt(zmq.LINGER, 0)
        xpub.connect(args.xsub)

    reply = None
    while reply is None:
        reply = peer.reference("rank", {"user": args.name, "addr": addr})
    print(json.dumps({"ready": True, "rank": reply.get("rank"), "addr": addr}), flush=True)

    poller = zmq.Poller()
    poller.register(rep, zmq.POLLIN)
    poller.register(sys.stdin, zmq.POLLIN)
    if xpub is not None:
        poller.register(xpub, zmq.POLLIN)
    subscribed = False
    pending = False
    next_beat = time.monotonic()
    while True:
        if time.monotonic() >= next_beat:
            peer.reference("heartbeat", {"user": args.name})
            next_beat = time.monotonic() + 0.2
        events = dict(poller.poll(100))
        if sys.stdin.fileno() in events or sys.stdin in events:
            if not sys.stdin.readline():
                break
        if xpub is not None and xpub in events:
            message = xpub.recv()
            if message in (b"\x01servers", b"\x01"):
                subscribed = True
        if rep in events:
            try:
                request = msgpack.unpackb(rep.recv(), raw=False)
                service, data = request["service"], request.get("data") or {}
            except (ValueError, KeyError, TypeError, msgpack.ExtraData) as err:
                rep.send(peer.pack("error", {"status": "erro", "description": str(err)}))
                continue
            peer.witness(data)
            if service == "election":
                rep.send(peer.pack(service, {"election": "OK"}))
                pending = xpub is not None
            elif service == "clock":
                rep.send(peer.pack(service, {"time": time.time() + args.skew}))
            else:
                rep.send(peer.pack(service, {"status": "erro", "description": "unknown service %s" % service}))
            print(json.dumps({"service": service}), flush=True)
        if pending and subscribed:
            announcement = {"service": "election", "data": peer.stamp({"coordinator": args.name})}
            xpub.send_multipart([b"servers", msgpack.packb(announcement, use_bin_type=True)])
            pending = False
            print(json.dumps({"announced": True}), flush=True)
    rep.close()
    if xpub is not None:
        xpub.close()
    peer.context.term()


if __name__ == "__main__":
    main()
