package broker

import (
	"context"
	"time"
	"unicode/utf8"

	"msgsys/proto"
)

// serveServer sends one server requests and routes its replies until it
// disconnects. Then every request still pending on it gets an error reply.
func (b *Broker) serveServer(conn *proto.Conn) {
	var credit int
	switch conn.PeerType() {
	case proto.Rep:
		credit = 1
	case proto.Dealer, proto.Router:
		credit = b.cfg.ServerCredit
	default:
		b.log.Warn("server rejected, unsupported socket type", "server", conn.RemoteAddr(), "peer_type", conn.PeerType())
		return
	}

	// The outbox holds the requests not yet written. The table bounds
	// those in flight by credit, and tombstones of abandoned requests let
	// a few more through, so it holds several times credit.
	s := &server{conn: conn, out: newOutbox(serverQueueFactor * credit), addr: peerLabel(conn), credit: credit}
	s.out.gather = true
	b.log.Info("server connected", "server", s.addr, "peer_type", conn.PeerType(), "credit", credit)
	written := make(chan struct{})
	go func() {
		defer close(written)
		s.out.run(conn)
	}()
	b.dispatch(b.table.add(s))

	defer func() {
		conn.Close()
		<-written
		s.out.close()
		failed := b.table.remove(s)
		b.log.Info("server disconnected", "server", s.addr, "failed_requests", len(failed))
		for _, f := range failed {
			b.fail(f.req, f.reason)
		}
	}()

	for {
		frames, err := conn.Recv()
		if err != nil {
			b.logRecvFailure(err, "server", s.addr)
			return
		}
		b.handleReply(s, frames)
	}
}

// serverQueueFactor sizes a server's outbox as a multiple of its credit.
const serverQueueFactor = 4

// peerLabel names a server or publisher in logs: the name that a msgsys
// server announces in its handshake, then its address, or the address
// alone.
func peerLabel(conn *proto.Conn) string {
	name := conn.PeerIdentity()
	if name == "" || !utf8.ValidString(name) {
		return conn.RemoteAddr()
	}
	return proto.Shorten(name) + "@" + conn.RemoteAddr()
}

// handleReply routes one reply, [identity, envelope..., "", body...], to
// the client of the request it replies to.
func (b *Broker) handleReply(s *server, frames [][]byte) {
	if len(frames) < 2 {
		b.badReplies.Warn(b.log, "malformed reply dropped", "server", s.addr,
			"frames", len(frames), "reason", "no identity or no body")
		return
	}
	rest := frames[1:]
	delim := delimiterIndex(rest)
	if delim < 0 || delim == len(rest)-1 {
		b.badReplies.Warn(b.log, "malformed reply dropped", "server", s.addr,
			"frames", len(frames), "reason", "no delimiter or no body")
		return
	}

	req, sends := b.table.complete(s, pendingKey(string(frames[0]), rest[:delim]))
	if req != nil {
		b.deliver(req.client, rest)
	} else {
		b.log.Debug("late or unknown reply dropped", "server", s.addr)
	}
	b.dispatch(sends)
}

// dispatch writes requests that the table assigned while they waited.
func (b *Broker) dispatch(sends []dispatch) {
	for _, d := range sends {
		b.forward(d.server, d.req)
	}
}

// expireLoop runs the table's periodic checks until ctx is done. One
// ticker serves every request, so the cost does not grow with the load.
func (b *Broker) expireLoop(ctx context.Context) {
	shortest := b.cfg.RequestTimeout
	if b.cfg.QueueTimeout > 0 {
		shortest = min(shortest, b.cfg.QueueTimeout)
	}
	if b.cfg.HedgeAfter > 0 {
		shortest = min(shortest, b.cfg.HedgeAfter)
	}
	// A timeout fires at most a quarter of itself late, and at most 50ms.
	ticker := time.NewTicker(min(max(shortest/4, time.Millisecond), 50*time.Millisecond))
	defer ticker.Stop()

	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			e := b.table.expire(now)
			for _, addr := range e.slowed {
				b.slowServers.Warn(b.log, "server slow to reply, sending its requests to another server too", "server", addr, "after", b.cfg.HedgeAfter)
			}
			b.dispatch(e.hedges)
			for _, s := range e.dropped {
				b.log.Warn("server disconnected, a request unanswered for too long", "server", s.addr, "after", 10*b.cfg.RequestTimeout)
				s.conn.Close()
			}
			stalled := make(map[string]int)
			for _, f := range e.failed {
				if f.reason == failTimeout {
					stalled[f.server]++
				}
				b.fail(f.req, f.reason)
			}
			for addr, n := range stalled {
				b.log.Warn("server stalled, requests timed out", "server", addr, "requests", n)
			}
		}
	}
}
