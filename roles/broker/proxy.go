package broker

import (
	"msgsys/proto"
)

// Subscription messages, as ZMTP 3.0 sends them: one frame, a kind byte
// and then the topic prefix.
const (
	unsubscribeKind = 0
	subscribeKind   = 1
)

// servePublisher reads publications, [topic, payload], from one publisher
// and hands each to the fan-out.
func (b *Broker) servePublisher(conn *proto.Conn) {
	addr := conn.RemoteAddr()
	// A PUB socket sends only what its peer subscribed to. Publishers get
	// one subscription to everything, and subscribers' subscriptions are
	// applied here rather than forwarded, so that one publisher's stream
	// serves every subscriber.
	if err := conn.Send([]byte{subscribeKind}); err != nil {
		b.log.Warn("publisher lost before subscribing", "publisher", addr, "err", err)
		return
	}
	b.log.Info("publisher connected", "publisher", addr)
	defer b.log.Info("publisher disconnected", "publisher", addr)

	for {
		frames, err := conn.Recv()
		if err != nil {
			return
		}
		b.fanout.publish(frames)
	}
}

// serveSubscriber reads one subscriber's subscriptions while its own
// writer goroutine sends it the publications queued for it.
func (b *Broker) serveSubscriber(conn *proto.Conn) {
	sub := &subscriber{
		addr:   conn.RemoteAddr(),
		out:    newOutbox(b.cfg.SubscriberQueue),
		topics: make(map[string]struct{}),
	}
	b.log.Debug("subscriber connected", "subscriber", sub.addr, "peer_type", conn.PeerType())

	written := make(chan struct{})
	go func() {
		defer close(written)
		sub.out.run(conn)
	}()
	defer func() {
		conn.Close()
		b.fanout.removeAll(sub)
		<-written
		sub.out.close()
		b.log.Debug("subscriber disconnected", "subscriber", sub.addr, "dropped", sub.out.droppedCount())
	}()

	for {
		frames, err := conn.Recv()
		if err != nil {
			return
		}
		// Anything else a SUB or XSUB peer may send, such as a
		// multi-frame message, is not for the proxy.
		if len(frames) != 1 || len(frames[0]) == 0 {
			continue
		}
		topic := string(frames[0][1:])
		switch frames[0][0] {
		case subscribeKind:
			b.fanout.subscribe(sub, topic)
		case unsubscribeKind:
			b.fanout.unsubscribe(sub, topic)
		}
	}
}
