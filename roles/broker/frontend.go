package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"time"

	"msgsys/proto"
)

// client is one connection on the frontend.
type client struct {
	id    []byte // routing identity, unique for the broker's lifetime
	idKey string // id as a map key
	addr  string
	out   *outbox // replies on their way to the client
}

// newIdentity returns a fresh client identity: a zero byte and a 32-bit
// counter, the form libzmq's ROUTER gives peers. It repeats only after
// 2^32 connections.
func (b *Broker) newIdentity() []byte {
	id := make([]byte, 5)
	binary.BigEndian.PutUint32(id[1:], b.clientSeq.Add(1))
	return id
}

// serveClient reads requests from one client until it disconnects.
func (b *Broker) serveClient(conn *proto.Conn) {
	id := b.newIdentity()
	c := &client{id: id, idKey: string(id), addr: conn.RemoteAddr(), out: newOutbox(clientQueue)}
	b.log.Debug("client connected", "client", c.addr, "peer_type", conn.PeerType())

	written := make(chan struct{})
	go func() {
		defer close(written)
		c.out.run(conn)
	}()
	defer func() {
		conn.Close()
		<-written
		c.out.close()
		b.log.Debug("client disconnected", "client", c.addr)
	}()

	conn.SkipOversized()
	for {
		frames, err := conn.Recv()
		var tooLarge *proto.MessageTooLargeError
		if errors.As(err, &tooLarge) {
			b.rejectTooLarge(c, tooLarge)
			continue
		}
		if err != nil {
			b.logRecvFailure(err, "client", c.addr)
			return
		}
		b.handleRequest(c, frames)
	}
}

// rejectTooLarge sends the error reply to a request above the transport
// limit, which Recv read past without keeping. Its envelope still routes
// the reply.
func (b *Broker) rejectTooLarge(c *client, e *proto.MessageTooLargeError) {
	delim := delimiterIndex(e.Envelope)
	if delim < 0 {
		b.malformed.Warn(b.log, "malformed request dropped", "client", c.addr,
			"frames", e.Frames, "bytes", e.Bytes, "reason", "too large, and no empty delimiter frame before the limit")
		return
	}
	b.badRequests.Warn(b.log, "request rejected", "client", c.addr, "bytes", e.Bytes, "reason", "too large")
	b.fail(&request{client: c, frames: append([][]byte{c.id}, e.Envelope...), envLen: delim}, failTooLarge)
}

// logRecvFailure logs why a connection's Recv failed, unless the peer
// closed the connection. A message too large to read past closes the
// connection and is logged at warn level, rate-limited. Other failures,
// such as a peer's reset, are logged at debug level.
func (b *Broker) logRecvFailure(err error, peerKey, peer string) {
	switch {
	case errors.Is(err, proto.ErrClosed):
	case errors.Is(err, proto.ErrMessageTooLarge):
		b.recvFailed.Warn(b.log, "connection closed, message too large to read", peerKey, peer, "err", err)
	default:
		b.log.Debug("connection failed", peerKey, peer, "err", err)
	}
}

// handleRequest forwards one client message to a server, queues it, or
// sends the client an error reply. A REQ client sends [delimiter, body]. A
// DEALER client may put envelope frames before the delimiter, and they
// come back with the reply.
func (b *Broker) handleRequest(c *client, frames [][]byte) {
	// The two kinds of bad request have their own rate limits, so that a
	// flood of one kind cannot hide every line of the other.
	delim := delimiterIndex(frames)
	if delim < 0 || delim == len(frames)-1 {
		reason := "no body after the delimiter"
		if delim < 0 {
			reason = "no empty delimiter frame"
		}
		b.malformed.Warn(b.log, "malformed request dropped", "client", c.addr,
			"frames", len(frames), "reason", reason)
		return
	}

	size := 0
	for _, frame := range frames[delim+1:] {
		size += len(frame)
	}
	if size > MaxRequestBytes {
		b.badRequests.Warn(b.log, "request rejected", "client", c.addr, "bytes", size, "reason", "too large")
		b.fail(&request{client: c, frames: append([][]byte{c.id}, frames...), envLen: delim, payload: frames[delim+1]}, failTooLarge)
		return
	}

	forwarded := make([][]byte, 0, len(frames)+1)
	forwarded = append(forwarded, c.id)
	forwarded = append(forwarded, frames...)
	req := &request{
		client:    c,
		key:       pendingKey(c.idKey, frames[:delim]),
		frames:    forwarded,
		envLen:    delim,
		payload:   frames[delim+1],
		retrySafe: b.cfg.HedgeAfter > 0 && len(frames) == delim+2 && proto.PeekRetrySafe(frames[delim+1]),
	}

	s, fail := b.table.assign(req, time.Now())
	switch {
	case s != nil:
		b.forward(s, req)
	case fail != noFailure:
		b.fail(req, fail)
	}
}

// forward queues req for s. A request that s's outbox has no room for, or
// that comes after s disconnected, stays pending until it times out or
// the server's reader fails it.
func (b *Broker) forward(s *server, req *request) {
	if ok, _ := s.out.push(req.frames); !ok {
		b.log.Debug("forward to server failed, outbox full or closed", "server", s.addr)
	}
}

// deliver queues a reply for c. The reply is lost when c has gone, or when
// c has left clientQueue replies unread.
func (b *Broker) deliver(c *client, msg [][]byte) {
	if ok, dropped := c.out.push(msg); !ok && dropped > 0 {
		b.lostReplies.Warn(b.log, "reply dropped, client not reading", "client", c.addr, "dropped", dropped)
	}
}

// delimiterIndex returns the index of the first empty frame, or -1.
func delimiterIndex(frames [][]byte) int {
	for i, frame := range frames {
		if len(frame) == 0 {
			return i
		}
	}
	return -1
}

// pendingKey identifies a request among those pending on one server: the
// client identity, then each envelope frame behind its length, so that
// different envelopes never give the same key.
func pendingKey(id string, envelope [][]byte) string {
	if len(envelope) == 0 {
		return id
	}
	size := len(id)
	for _, frame := range envelope {
		size += binary.MaxVarintLen64 + len(frame)
	}
	var buf bytes.Buffer
	buf.Grow(size)
	buf.WriteString(id)
	for _, frame := range envelope {
		buf.Write(binary.AppendUvarint(nil, uint64(len(frame))))
		buf.Write(frame)
	}
	return buf.String()
}
