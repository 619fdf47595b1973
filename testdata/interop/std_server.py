"""A minimal server of the standard, written with libzmq (pyzmq).

Usage: std_server.py BACKEND XSUB [--channels-key users|both]
                     [--sender src|from|both] [--timestamps float|iso-naive]

It connects a REP socket to the broker's BACKEND and a PUB socket to the
proxy's XSUB side, and serves login, users, channel, channels, publish
and message from memory in the simplest way the standard allows. The
options choose the variants other teams' servers show:

  --channels-key users  the channels reply lists the names under "users"
                        only, the standard's key ("both" adds "channels")
  --sender from         a direct message names its sender under "from"
                        only ("src" only, or "both")
  --timestamps iso-naive  every timestamp is ISO 8601 without a zone, as
                        "2026-12-04T19:33:44" ("float": Unix seconds)

It prints {"ready": true} once connected, then one JSON line per request,
{"service": ..., "data": ..., "status": REPLY_STATUS}, and exits when its
standard input closes.
"""

import argparse
import datetime
import json
import sys
import time

import msgpack
import zmq


class Server:
    def __init__(self, args):
        self.args = args
        self.users = []
        self.channels = []
        self.clock = 0

    def stamp(self, data):
        """Adds the timestamp and clock every message carries."""
        self.clock += 1
        if self.args.timestamps == "iso-naive":
            now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
            data["timestamp"] = now.strftime("%Y-%m-%dT%H:%M:%S")
        else:
            data["timestamp"] = time.time()
        data["clock"] = self.clock
        return data

    def witness(self, data):
        clock = data.get("clock", 0)
        if isinstance(clock, int) and clock >= 0:
            self.clock = max(self.clock, clock)

    def handle(self, service, data, pub):
        """Returns the reply's data map."""
        if service == "login":
            user = data.get("user")
            if not isinstance(user, str) or not user:
                return {"status": "erro", "description": "usuário inválido"}
            if user not in self.users:
                self.users.append(user)
            return {"status": "sucesso"}
        if service == "users":
            return {"users": sorted(self.users)}
        if service == "channel":
            channel = data.get("channel")
            if not isinstance(channel, str) or not channel:
                return {"status": "erro", "description": "canal inválido"}
            if channel in self.channels:
                return {"status": "erro", "description": "canal já existe"}
            self.channels.append(channel)
            return {"status": "sucesso"}
        if service == "channels":
            reply = {"users": sorted(self.channels)}
            if self.args.channels_key == "both":
                reply["channels"] = sorted(self.channels)
            return reply
        if service == "publish":
            channel = data.get("channel")
            if channel not in self.channels:
                return {"status": "erro", "message": "canal inexistente"}
            post = self.stamp({"user": data.get("user"), "channel": channel, "message": data.get("message")})
            pub.send_multipart([channel.encode(), msgpack.packb(post, use_bin_type=True)])
            return {"status": "OK"}
        if service == "message":
            dst = data.get("dst")
            if dst not in self.users:
                return {"status": "erro", "message": "usuário inexistente"}
            direct = {"dst": dst, "message": data.get("message")}
            if self.args.sender in ("src", "both"):
                direct["src"] = data.get("src")
            if self.args.sender in ("from", "both"):
                direct["from"] = data.get("src")
            pub.send_multipart([dst.encode(), msgpack.packb(self.stamp(direct), use_bin_type=True)])
            return {"status": "OK"}
        return {"status": "erro", "description": "serviço desconhecido"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("backend")
    parser.add_argument("xsub")
    parser.add_argument("--channels-key", choices=("users", "both"), default="both")
    parser.add_argument("--sender", choices=("src", "from", "both"), default="both")
    parser.add_argument("--timestamps", choices=("float", "iso-naive"), default="float")
    args = parser.parse_args()

    context = zmq.Context()
    rep = context.socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    rep.connect(args.backend)
    pub = context.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.connect(args.xsub)
    print(json.dumps({"ready": True}), flush=True)

    server = Server(args)
    poller = zmq.Poller()
    poller.register(rep, zmq.POLLIN)
    poller.register(sys.stdin, zmq.POLLIN)
    while True:
        events = dict(poller.poll())
        if sys.stdin.fileno() in events or sys.stdin in events:
            if not sys.stdin.readline():
                break
        if rep not in events:
            continue
        try:
            request = msgpack.unpackb(rep.recv(), raw=False)
            service, data = request["service"], request.get("data") or {}
        except (ValueError, KeyError, TypeError, msgpack.ExtraData) as err:
            reply = {"service": "error", "data": server.stamp({"status": "erro", "description": str(err)})}
            rep.send(msgpack.packb(reply, use_bin_type=True))
            continue
        server.witness(data)
        body = server.stamp(server.handle(service, data, pub))
        rep.send(msgpack.packb({"service": service, "data": body}, use_bin_type=True))
        print(json.dumps({"service": service, "data": data, "status": body.get("status")},
                         ensure_ascii=False, default=str), flush=True)
    rep.close()
    pub.close()
    context.term()


if __name__ == "__main__":
    main()
