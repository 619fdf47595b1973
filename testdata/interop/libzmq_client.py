"""A client written with libzmq (pyzmq), run against msgsys's broker.

Usage:
  libzmq_client.py session FRONTEND XPUB USER PEER CHANNEL
  libzmq_client.py heartbeat FRONTEND COUNT

session: a REQ socket logs in as USER and PEER, creates CHANNEL and checks
the users and channels lists. A SUB socket on XPUB subscribes to CHANNEL
and PEER. The client posts to CHANNEL until its own post arrives, then
sends PEER a direct message, which must arrive too. A received publication counts only
when its topic frame equals the topic exactly. Prints one JSON line,
{"post": DATA, "direct": DATA, "timestamps": [...]}.

heartbeat: a REQ socket with ZMQ_HEARTBEAT_IVL 50 ms and
ZMQ_HEARTBEAT_TIMEOUT 150 ms sends COUNT users requests, pausing 200 ms
after each so that PINGs go out while it is idle. Prints
{"ok": N, "failed": [INDEXES], "disconnects": N}: libzmq drops and
redials a connection whose PINGs go unanswered, so any disconnect means
the broker did not answer them.

On any failure it prints {"error": REASON} and exits with status 1.
"""

import json
import sys
import time

import msgpack
import zmq

SUCCESS = ("sucesso", "success", "ok")


class Failure(Exception):
    """A step did not behave as the standard requires."""


def fail(reason):
    print(json.dumps({"error": reason}, ensure_ascii=False), flush=True)
    sys.exit(1)


class Client:
    """A REQ socket that stamps requests with a Lamport clock."""

    def __init__(self, context, endpoint):
        self.sock = context.socket(zmq.REQ)
        self.sock.setsockopt(zmq.RCVTIMEO, 5000)
        self.sock.setsockopt(zmq.SNDTIMEO, 5000)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.clock = 0
        self.timestamps = []

    def call(self, service, **data):
        self.clock += 1
        # Unix seconds as a float: one of the timestamp forms the standard
        # allows, and not the one msgsys sends itself.
        data.update(timestamp=time.time(), clock=self.clock)
        self.sock.send(msgpack.packb({"service": service, "data": data}, use_bin_type=True))
        try:
            frame = self.sock.recv()
        except zmq.Again:
            raise Failure("no reply to %s within 5 s" % service)
        reply = msgpack.unpackb(frame, raw=False)
        if reply.get("service") != service:
            raise Failure("reply to %s has service %r" % (service, reply.get("service")))
        body = reply.get("data")
        if not isinstance(body, dict):
            raise Failure("reply to %s has no data map" % service)
        clock = body.get("clock")
        if not isinstance(clock, int) or clock < 0:
            raise Failure("reply to %s has clock %r" % (service, clock))
        self.clock = max(self.clock, clock)
        self.timestamps.append(body.get("timestamp"))
        return body

    def ok(self, service, **data):
        body = self.call(service, **data)
        status = body.get("status")
        if not isinstance(status, str) or status.lower() not in SUCCESS:
            raise Failure("%s failed: %r" % (service, body))
        return body


def receive(sub, topic, predicate, deadline):
    """Returns the first publication on exactly topic that predicate
    accepts, or None when deadline passes."""
    while time.monotonic() < deadline:
        if not sub.poll(100):
            return None
        frames = sub.recv_multipart()
        if len(frames) != 2:
            raise Failure("publication of %d frames" % len(frames))
        if frames[0] != topic.encode():
            continue
        payload = msgpack.unpackb(frames[1], raw=False)
        if predicate(payload):
            return payload
    return None


def session(frontend, xpub, user, peer, channel):
    context = zmq.Context()
    client = Client(context, frontend)
    client.ok("login", user=user)
    client.ok("login", user=peer)
    client.ok("channel", channel=channel)
    users = client.call("users").get("users")
    if not isinstance(users, list) or user not in users or peer not in users:
        raise Failure("users reply lacks %s or %s: %r" % (user, peer, users))
    listed = client.call("channels")
    channels = listed.get("channels", listed.get("users"))
    if not isinstance(channels, list) or channel not in channels:
        raise Failure("channels reply lacks %s: %r" % (channel, listed))

    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, channel.encode())
    sub.setsockopt(zmq.SUBSCRIBE, peer.encode())
    sub.connect(xpub)

    # A subscription takes a moment to reach the proxy, and pub/sub drops
    # what is published before it does: post until a post comes back.
    deadline = time.monotonic() + 15
    post = None
    attempt = 0
    while post is None and time.monotonic() < deadline:
        attempt += 1
        text = "hello %d" % attempt
        client.ok("publish", user=user, channel=channel, message=text)
        post = receive(sub, channel, lambda p: p.get("message", "").startswith("hello "), time.monotonic() + 0.3)
    if post is None:
        raise Failure("own post never arrived on topic %s" % channel)
    if post.get("user") != user or post.get("channel") != channel:
        raise Failure("post has user %r, channel %r" % (post.get("user"), post.get("channel")))

    client.ok("message", src=user, dst=peer, message="oi, tudo bem?")
    direct = receive(sub, peer, lambda p: p.get("message") == "oi, tudo bem?", time.monotonic() + 5)
    if direct is None:
        raise Failure("direct message never arrived on topic %s" % peer)
    for key, want in (("src", user), ("from", user), ("dst", peer)):
        if direct.get(key) != want:
            raise Failure("direct message has %s %r, want %r" % (key, direct.get(key), want))

    print(json.dumps({"post": post, "direct": direct, "timestamps": client.timestamps},
                     ensure_ascii=False, default=str), flush=True)
    sub.close()
    client.sock.close()
    context.term()


def heartbeat(frontend, count):
    context = zmq.Context()

    def make_socket():
        sock = context.socket(zmq.REQ)
        sock.setsockopt(zmq.HEARTBEAT_IVL, 50)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 150)
        sock.setsockopt(zmq.RCVTIMEO, 3000)
        sock.setsockopt(zmq.SNDTIMEO, 3000)
        sock.setsockopt(zmq.LINGER, 0)
        return sock

    sock = make_socket()
    monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    sock.connect(frontend)
    ok, failed = 0, []
    for i in range(count):
        request = {"service": "users", "data": {"timestamp": time.time(), "clock": i + 1}}
        try:
            sock.send(msgpack.packb(request, use_bin_type=True))
            reply = msgpack.unpackb(sock.recv(), raw=False)
        except zmq.Again:
            failed.append(i)
            # A REQ socket that timed out cannot send again: start afresh.
            sock.disable_monitor()
            monitor.close()
            sock.close()
            sock = make_socket()
            monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
            sock.connect(frontend)
            continue
        if reply.get("service") == "users" and isinstance(reply.get("data", {}).get("users"), list):
            ok += 1
        else:
            failed.append(i)
        time.sleep(0.2)

    disconnects = 0
    while monitor.poll(0):
        monitor.recv_multipart()
        disconnects += 1
    print(json.dumps({"ok": ok, "failed": failed, "disconnects": disconnects}), flush=True)
    sock.disable_monitor()
    monitor.close()
    sock.close()
    context.term()


def main():
    try:
        if len(sys.argv) == 7 and sys.argv[1] == "session":
            session(*sys.argv[2:])
        elif len(sys.argv) == 4 and sys.argv[1] == "heartbeat":
            heartbeat(sys.argv[2], int(sys.argv[3]))
        else:
            fail("usage: see the docstring of " + sys.argv[0])
    except Failure as err:
        fail(str(err))


if __name__ == "__main__":
    main()
