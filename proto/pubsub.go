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
type Publisher struct {
	endpoint string
	log      *slog.Logger
	queue    chan [2][]byte
	key      string // cluster key presented to the proxy, or ""
}

// NewPublisher returns a Publisher for endpoint; Run connects it.
func NewPublisher(endpoint string, log *slog.Logger) *Publisher {
	return &Publisher{endpoint: endpoint, log: log, queue: make(chan [2][]byte, 8192)}
}

// UseKey makes the publisher present a cluster key to a proxy that
// requires one. Call it before Run.
func (p *Publisher) UseKey(key string) { p.key = key }

// Publish queues a publication and reports whether it was queued.
func (p *Publisher) Publish(topic string, payload []byte) bool {
	select {
	case p.queue <- [2][]byte{[]byte(topic), payload}:
		return true
	default:
		return false
	}
}

// Run keeps the connection to the proxy until ctx is done.
func (p *Publisher) Run(ctx context.Context) {
	RedialKey(ctx, p.endpoint, zmq4.Pub, p.key, p.log, func(ctx context.Context, conn *Conn) error {
		go Heartbeat(ctx, conn, pubsubPing, pubsubTimeout)
		// The proxy sends subscriptions upstream; a PUB that sends
		// everything has no use for them, but must read them so the
		// connection's buffers do not fill.
		go func() {
			for {
				if _, err := conn.Recv(); err != nil {
					return
				}
			}
		}()
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
}

// NewSubscriber returns a Subscriber for endpoint; Run connects it.
func NewSubscriber(endpoint string, log *slog.Logger) *Subscriber {
	return &Subscriber{
		endpoint:  endpoint,
		log:       log,
		out:       make(chan Delivery, 1024),
		topics:    make(map[string]struct{}),
		connected: make(chan struct{}, 1),
	}
}

// Deliveries is the channel publications arrive on.
func (s *Subscriber) Deliveries() <-chan Delivery { return s.out }

// Connected signals each (re)connection to the proxy.
func (s *Subscriber) Connected() <-chan struct{} { return s.connected }

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
		_ = s.conn.Send(subscription(1, topic))
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
		_ = s.conn.Send(subscription(0, topic))
	}
}

// subscription is a ZMTP 3.0 subscribe (1) or unsubscribe (0) message.
func subscription(kind byte, topic string) []byte {
	return append([]byte{kind}, topic...)
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
		if err := conn.Send(subscription(1, topic)); err != nil {
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
