package broker

import (
	"msgsys/proto"
)

// servePublisher reads publications, [topic, payload], from one publisher
// and hands each to the fan-out, while the publisher's own writer
// goroutine sends it the subscriptions that the fan-out forwards. A PUB
// socket sends only what its peer subscribed to.
func (b *Broker) servePublisher(conn *proto.Conn) {
	pub := &publisher{addr: peerLabel(conn), conn: conn}
	b.fanout.addPublisher(pub)
	b.log.Info("publisher connected", "publisher", pub.addr)

	written := make(chan struct{})
	go func() {
		defer close(written)
		pub.out.run(conn)
	}()
	defer func() {
		conn.Close()
		b.fanout.removePublisher(pub)
		<-written
		pub.out.close()
		b.log.Info("publisher disconnected", "publisher", pub.addr)
	}()

	for {
		frames, err := conn.Recv()
		if err != nil {
			b.logRecvFailure(err, "publisher", pub.addr)
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
			b.logRecvFailure(err, "subscriber", sub.addr)
			return
		}
		// Anything else a SUB or XSUB peer may send, such as a
		// multi-frame message, is not for the proxy.
		subscribe, topic, ok := proto.ParseSubscription(frames)
		switch {
		case !ok:
		case subscribe:
			b.fanout.subscribe(sub, topic)
		default:
			b.fanout.unsubscribe(sub, topic)
		}
	}
}
