package broker

import (
	"log/slog"
	"slices"
	"sync"

	"msgsys/proto"
)

// subscriber is one connection on the proxy's subscriber side.
type subscriber struct {
	addr   string
	out    *outbox             // publications on their way to the subscriber
	topics map[string]struct{} // its subscriptions, guarded by fanout.mu
}

// fanout matches publications to subscribers as ZeroMQ does: a
// subscription is a prefix, and a publication goes to every subscriber
// with a subscription that prefixes its topic, once however many match.
// Subscriptions are indexed by prefix, so a publication costs one map
// lookup per distinct subscription length up to its topic's length,
// whatever the number of subscribers.
type fanout struct {
	log   *slog.Logger
	drops proto.RateLog

	mu       sync.RWMutex // guards the fields below and subscriber.topics
	byPrefix map[string]map[*subscriber]struct{}
	byLength map[int]int // number of keys of byPrefix of each length
	lengths  []int       // keys of byLength, sorted
}

func newFanout(log *slog.Logger) *fanout {
	return &fanout{
		log:      log,
		byPrefix: make(map[string]map[*subscriber]struct{}),
		byLength: make(map[int]int),
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
	s.topics[topic] = struct{}{}

	set, ok := f.byPrefix[topic]
	if !ok {
		set = make(map[*subscriber]struct{})
		f.byPrefix[topic] = set
		f.countLength(len(topic), +1)
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
		f.countLength(len(topic), -1)
	}
}

// countLength tracks how many index keys have length n. The caller holds
// mu for writing.
func (f *fanout) countLength(n, delta int) {
	before := f.byLength[n]
	after := before + delta
	switch {
	case before == 0 && after > 0:
		f.lengths = append(f.lengths, n)
		slices.Sort(f.lengths)
	case before > 0 && after == 0:
		f.lengths = slices.DeleteFunc(f.lengths, func(m int) bool { return m == n })
	}
	if after == 0 {
		delete(f.byLength, n)
	} else {
		f.byLength[n] = after
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
	for _, n := range f.lengths {
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
