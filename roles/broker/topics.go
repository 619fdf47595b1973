package broker

import (
	"log/slog"
	"sync"

	"msgsys/proto"
)

// subscriber is one connection on the proxy's subscriber side.
type subscriber struct {
	addr   string
	out    *outbox             // publications on their way to the subscriber
	topics map[string]struct{} // its subscriptions, guarded by fanout.mu
}

// publisher is one connection on the proxy's publisher side.
type publisher struct {
	addr string
	conn *proto.Conn
	out  *outbox // subscription messages on their way to the publisher
	// all is set when the publisher was subscribed to every topic, because
	// too many prefixes were subscribed when it connected. It then gets
	// no further changes. Guarded by fanout.mu.
	all bool
}

// Bounds of subscription forwarding.
const (
	// subscriptionBacklog bounds the subscription changes queued for one
	// publisher beyond those it received when it connected. A publisher
	// that falls that far behind is disconnected, and gets every
	// subscription again when it reconnects.
	subscriptionBacklog = 10000
	// maxForwarded is the most prefixes a connecting publisher receives one
	// by one. Beyond it the publisher gets one subscription to everything,
	// and the proxy does all the filtering for it.
	maxForwarded = 10000
	// maxSubscriptionBytes bounds a subscription's prefix. msgsys topics
	// are names of at most 32 characters, and a longer prefix would cost
	// memory in the proxy and in every publisher.
	maxSubscriptionBytes = 1024
	// maxSubscriptions bounds the subscriptions of one subscriber.
	maxSubscriptions = 10000
)

// fanout matches publications to subscribers as ZeroMQ does: a
// subscription is a prefix, and a publication goes to every subscriber
// with a subscription that prefixes its topic, once however many match.
// Subscriptions are indexed by prefix, so a publication costs one map
// lookup per distinct subscription length up to its topic's length,
// whatever the number of subscribers.
//
// Like an XSUB socket, the fan-out forwards subscriptions to publishers,
// so that they send only what some subscriber wants: a prefix's first
// subscriber subscribes every publisher to it, and its last one
// unsubscribes them.
type fanout struct {
	log     *slog.Logger
	drops   proto.RateLog
	rejects proto.RateLog

	mu         sync.RWMutex // guards the fields below and subscriber.topics
	byPrefix   map[string]map[*subscriber]struct{}
	prefixes   *proto.Prefixes // keys of byPrefix, indexed by length
	publishers map[*publisher]struct{}
}

func newFanout(log *slog.Logger) *fanout {
	return &fanout{
		log:        log,
		byPrefix:   make(map[string]map[*subscriber]struct{}),
		prefixes:   proto.NewPrefixes(),
		publishers: make(map[*publisher]struct{}),
	}
}

// subscribe adds topic to s's subscriptions. A repeated one changes
// nothing, as in libzmq's XPUB.
func (f *fanout) subscribe(s *subscriber, topic string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := s.topics[topic]; ok {
		return
	}
	if len(topic) > maxSubscriptionBytes || len(s.topics) >= maxSubscriptions {
		f.rejects.Warn(f.log, "subscription rejected", "subscriber", s.addr, "bytes", len(topic), "subscriptions", len(s.topics),
			"max_bytes", maxSubscriptionBytes, "max_subscriptions", maxSubscriptions)
		return
	}
	s.topics[topic] = struct{}{}

	set, ok := f.byPrefix[topic]
	if !ok {
		set = make(map[*subscriber]struct{})
		f.byPrefix[topic] = set
		f.prefixes.Add(topic)
		f.forward(true, topic)
	}
	set[s] = struct{}{}
}

// unsubscribe removes topic from s's subscriptions.
func (f *fanout) unsubscribe(s *subscriber, topic string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drop(s, topic)
}

// removeAll removes every subscription of s, which has disconnected.
func (f *fanout) removeAll(s *subscriber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for topic := range s.topics {
		f.drop(s, topic)
	}
}

// drop removes one subscription. The caller holds mu for writing.
func (f *fanout) drop(s *subscriber, topic string) {
	if _, ok := s.topics[topic]; !ok {
		return
	}
	delete(s.topics, topic)
	set := f.byPrefix[topic]
	delete(set, s)
	if len(set) == 0 {
		delete(f.byPrefix, topic)
		f.prefixes.Remove(topic)
		f.forward(false, topic)
	}
}

// addPublisher registers p and queues for it every prefix subscribed so
// far. Changes after that reach it through forward, in order, because both
// happen under mu.
func (f *fanout) addPublisher(p *publisher) {
	f.mu.Lock()
	defer f.mu.Unlock()
	prefixes := f.prefixes.All()
	if len(prefixes) > maxForwarded {
		f.log.Warn("publisher subscribed to every topic", "publisher", p.addr, "prefixes", len(prefixes), "max_forwarded", maxForwarded)
		prefixes, p.all = []string{""}, true
	}
	p.out = newOutbox(len(prefixes) + subscriptionBacklog)
	for _, prefix := range prefixes {
		p.out.push([][]byte{proto.Subscription(true, prefix)})
	}
	f.publishers[p] = struct{}{}
}

// removePublisher removes p, which has disconnected.
func (f *fanout) removePublisher(p *publisher) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.publishers, p)
}

// forward queues a subscription change for every publisher. One whose
// queue is full is disconnected rather than left with a wrong set. The
// caller holds mu for writing.
func (f *fanout) forward(subscribe bool, topic string) {
	msg := [][]byte{proto.Subscription(subscribe, topic)}
	for p := range f.publishers {
		if p.all {
			continue
		}
		if ok, _ := p.out.push(msg); !ok {
			f.log.Warn("publisher dropped, subscription queue full", "publisher", p.addr, "queued", subscriptionBacklog)
			p.conn.Close()
			delete(f.publishers, p)
		}
	}
}

// publish queues msg, whose first frame is the topic, for every matching
// subscriber. It never waits for a subscriber's writes, because a
// subscriber whose queue is full loses msg.
func (f *fanout) publish(msg [][]byte) {
	topic := msg[0]

	f.mu.RLock()
	defer f.mu.RUnlock()

	// The sets matched so far, to send msg once to a subscriber that
	// matches through several prefixes. Few topics match more than four.
	var stack [4]map[*subscriber]struct{}
	matched := stack[:0]
	for _, n := range f.prefixes.Lengths() {
		if n > len(topic) {
			break
		}
		set, ok := f.byPrefix[string(topic[:n])]
		if !ok {
			continue
		}
		for s := range set {
			if !inAny(matched, s) {
				f.enqueue(s, msg)
			}
		}
		matched = append(matched, set)
	}
}

func inAny(sets []map[*subscriber]struct{}, s *subscriber) bool {
	for _, set := range sets {
		if _, ok := set[s]; ok {
			return true
		}
	}
	return false
}

// enqueue hands msg to s's writer, counting and logging a drop.
func (f *fanout) enqueue(s *subscriber, msg [][]byte) {
	if ok, dropped := s.out.push(msg); !ok && dropped > 0 {
		f.drops.Warn(f.log, "publication dropped, subscriber queue full", "subscriber", s.addr, "dropped", dropped)
	}
}

// subscriptionCount is the number of subscriptions of every subscriber,
// for tests and logs.
func (f *fanout) subscriptionCount() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n := 0
	for _, set := range f.byPrefix {
		n += len(set)
	}
	return n
}
