package proto

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
)

// Publication heartbeat timings: a connection to the proxy that stays
// silent for pubsubTimeout, PONGs included, is dropped and redialled.
const (
	pubsubPing    = time.Second
	pubsubTimeout = 3500 * time.Millisecond
)

// Publisher sends publications to the proxy's publisher side as a PUB
// socket. Publishing never blocks: pub/sub is lossy by nature, so while
// the proxy is down or slow, publications beyond the queue are dropped and
// subscribers fill the gap with history.
//
// Like a ZeroMQ PUB socket, it sends only the topics its peer subscribed
// to, which an XSUB proxy forwards from its subscribers. A post to a
// channel without subscribers then costs neither a write nor the proxy's
// read.
type Publisher struct {
	endpoint string
	log      *slog.Logger
	queue    chan [2][]byte
	key      string // cluster key presented to the proxy, or ""
	identity string // name announced to the proxy, or ""

	mu         sync.Mutex // guards subscribed
	subscribed *Prefixes  // subscriptions received on the current connection
}

// NewPublisher returns a Publisher for endpoint; Run connects it.
func NewPublisher(endpoint string, log *slog.Logger) *Publisher {
	return &Publisher{endpoint: endpoint, log: log, queue: make(chan [2][]byte, 8192), subscribed: NewPrefixes()}
}

// UseKey makes the publisher present a cluster key to a proxy that
// requires one. Call it before Run.
func (p *Publisher) UseKey(key string) { p.key = key }

// UseIdentity makes the publisher announce name in its handshakes, so that
// the proxy names it in its logs (RedialAs). Call it before Run.
func (p *Publisher) UseIdentity(name string) { p.identity = name }

// Publish queues a publication for the proxy, and reports false only when
// the queue is full. A publication whose topic the proxy did not subscribe
// to is not sent. Those on ReservedTopic always are, because coordinator
// announcements must not be lost in the moment between connecting and
// receiving the proxy's subscriptions.
func (p *Publisher) Publish(topic string, payload []byte) bool {
	if topic != ReservedTopic && !p.Wants(topic) {
		return true
	}
	select {
	case p.queue <- [2][]byte{[]byte(topic), payload}:
		return true
	default:
		return false
	}
}

// Run keeps the connection to the proxy until ctx is done.
func (p *Publisher) Run(ctx context.Context) {
	RedialAs(ctx, p.endpoint, zmq4.Pub, p.key, p.identity, p.log, func(ctx context.Context, conn *Conn) error {
		go Heartbeat(ctx, conn, pubsubPing, pubsubTimeout)
		// A proxy sends every subscription it holds when a publisher
		// connects, so those of an earlier connection no longer count.
		p.mu.Lock()
		p.subscribed = NewPrefixes()
		p.mu.Unlock()
		go p.readSubscriptions(conn)
		var batch [][][]byte
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-conn.Done():
				return ErrClosed
			case pub := <-p.queue:
				batch = p.drain(append(batch[:0], pub[:]))
				if err := conn.SendBatch(batch); err != nil {
					return err
				}
				clear(batch) // lets the sent payloads go
			}
		}
	})
}

// Wants reports whether the proxy subscribed to a prefix of topic.
func (p *Publisher) Wants(topic string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.subscribed.Match(topic)
}

// readSubscriptions applies the subscribe and unsubscribe messages that
// the proxy sends until the connection ends. Anything else is not for a
// PUB socket and is skipped.
func (p *Publisher) readSubscriptions(conn *Conn) {
	for {
		frames, err := conn.Recv()
		if err != nil {
			return
		}
		subscribe, topic, ok := ParseSubscription(frames)
		if !ok {
			continue
		}
		p.mu.Lock()
		if subscribe {
			p.subscribed.Add(topic)
		} else {
			p.subscribed.Remove(topic)
		}
		p.mu.Unlock()
	}
}

// publishBatch bounds how many queued publications one write carries.
const publishBatch = 256

// drain appends publications already queued to batch, so that a burst of
// writes costs the proxy connection one system call.
func (p *Publisher) drain(batch [][][]byte) [][][]byte {
	for len(batch) < publishBatch {
		select {
		case pub := <-p.queue:
			batch = append(batch, pub[:])
		default:
			return batch
		}
	}
	return batch
}

// Delivery is a publication received by a Subscriber.
type Delivery struct {
	Topic   string
	Payload []byte
}

// Subscriber receives publications from the proxy's subscriber side as a
// SUB socket. ZeroMQ matches subscriptions by prefix, so the Subscriber
// delivers only publications whose topic equals one it subscribed to
// (a subscriber to "ana" is not shown "anabela"'s messages).
type Subscriber struct {
	endpoint string
	log      *slog.Logger
	out      chan Delivery

	mu     sync.Mutex // guards topics and conn
	topics map[string]struct{}
	conn   *Conn
	// Connected receives a value each time a connection is established,
	// so a client can refill gaps with history; it never blocks.
	connected chan struct{}
	// lost receives a value each time an established connection ends. The
	// session skips the send when a value is already waiting.
	lost chan struct{}
}

// NewSubscriber returns a Subscriber for endpoint; Run connects it.
func NewSubscriber(endpoint string, log *slog.Logger) *Subscriber {
	return &Subscriber{
		endpoint:  endpoint,
		log:       log,
		out:       make(chan Delivery, 1024),
		topics:    make(map[string]struct{}),
		connected: make(chan struct{}, 1),
		lost:      make(chan struct{}, 1),
	}
}

// Deliveries is the channel publications arrive on.
func (s *Subscriber) Deliveries() <-chan Delivery { return s.out }

// Connected signals each (re)connection to the proxy.
func (s *Subscriber) Connected() <-chan struct{} { return s.connected }

// Lost signals the end of each connection to the proxy. A reader that
// gets it after the next connection is up can tell by Up.
func (s *Subscriber) Lost() <-chan struct{} { return s.lost }

// Up reports whether a connection to the proxy is established.
func (s *Subscriber) Up() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

// Subscribe adds a topic; it takes effect at once when connected and on
// every reconnection.
func (s *Subscriber) Subscribe(topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.topics[topic]; ok {
		return
	}
	s.topics[topic] = struct{}{}
	if s.conn != nil {
		_ = s.conn.Send(Subscription(true, topic))
	}
}

// Unsubscribe removes a topic.
func (s *Subscriber) Unsubscribe(topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.topics[topic]; !ok {
		return
	}
	delete(s.topics, topic)
	if s.conn != nil {
		_ = s.conn.Send(Subscription(false, topic))
	}
}

// The first byte of a ZMTP 3.0 subscription message, which the topic
// prefix follows.
const (
	unsubscribeKind = 0
	subscribeKind   = 1
)

// Subscription returns a ZMTP 3.0 subscribe (true) or unsubscribe
// (false) message for a topic prefix.
func Subscription(subscribe bool, topic string) []byte {
	kind := byte(unsubscribeKind)
	if subscribe {
		kind = subscribeKind
	}
	return append([]byte{kind}, topic...)
}

// ParseSubscription reads a subscription message, and reports false for
// anything else.
func ParseSubscription(frames [][]byte) (subscribe bool, topic string, ok bool) {
	if len(frames) != 1 || len(frames[0]) == 0 || frames[0][0] > subscribeKind {
		return false, "", false
	}
	return frames[0][0] == subscribeKind, string(frames[0][1:]), true
}

// Run keeps the subscription alive until ctx is done, then closes the
// Deliveries channel.
func (s *Subscriber) Run(ctx context.Context) {
	defer close(s.out)
	Redial(ctx, s.endpoint, zmq4.Sub, s.log, s.session)
}

func (s *Subscriber) session(ctx context.Context, conn *Conn) error {
	s.mu.Lock()
	for topic := range s.topics {
		if err := conn.Send(Subscription(true, topic)); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	s.conn = conn
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.conn = nil
		s.mu.Unlock()
		select {
		case s.lost <- struct{}{}:
		default:
		}
	}()

	select {
	case s.connected <- struct{}{}:
	default:
	}
	go Heartbeat(ctx, conn, pubsubPing, pubsubTimeout)

	for {
		frames, err := conn.Recv()
		if err != nil {
			return err
		}
		if len(frames) < 2 {
			continue
		}
		topic := string(frames[0])
		if !s.subscribed(topic) {
			continue
		}
		select {
		case s.out <- Delivery{Topic: topic, Payload: bytes.Clone(frames[1])}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Subscriber) subscribed(topic string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.topics[topic]
	return ok
}
