package client

import (
	"sync"

	"msgsys/proto"
)

// subscriptions records why the client subscribes to each topic. Posts
// are published on the channel's name and direct messages on the
// recipient's name, so a user and a channel of the same name share a
// topic. A topic stays subscribed while a joined channel or a name of the
// logged-in user needs it.
type subscriptions struct {
	sub *proto.Subscriber

	mu       sync.Mutex      // guards the sets below
	channels map[string]bool // topics of joined channels
	names    map[string]bool // topics of direct messages to the user
}

func newSubscriptions(sub *proto.Subscriber) *subscriptions {
	return &subscriptions{sub: sub, channels: make(map[string]bool), names: make(map[string]bool)}
}

// AddChannel subscribes to a joined channel's topic.
func (s *subscriptions) AddChannel(topic string) { s.add(s.channels, topic) }

// RemoveChannel drops a left channel's topic, and unsubscribes from it
// unless direct messages to the user arrive on it.
func (s *subscriptions) RemoveChannel(topic string) { s.remove(s.channels, topic) }

// AddName subscribes to the direct messages to name.
func (s *subscriptions) AddName(name string) { s.add(s.names, name) }

// RemoveName drops the direct messages to name, and unsubscribes from
// its topic unless a joined channel has that name.
func (s *subscriptions) RemoveName(name string) { s.remove(s.names, name) }

// SetNames subscribes to the direct messages to names, in place of those
// to the previous names.
func (s *subscriptions) SetNames(names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := make([]string, 0, len(s.names))
	for name := range s.names {
		old = append(old, name)
	}
	clear(s.names)
	for _, name := range names {
		s.names[name] = true
		s.sub.Subscribe(name)
	}
	for _, name := range old {
		s.release(name)
	}
}

// add records that set needs topic and subscribes to it. The sets are
// never replaced, so the caller may pass s.channels or s.names unlocked.
func (s *subscriptions) add(set map[string]bool, topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set[topic] = true
	s.sub.Subscribe(topic)
}

// remove drops topic from set and unsubscribes unless the other set
// needs it.
func (s *subscriptions) remove(set map[string]bool, topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(set, topic)
	s.release(topic)
}

// HasName reports whether direct messages published on topic are for the
// user. A topic subscribed only for a joined channel also carries the
// direct messages to another user of that name.
func (s *subscriptions) HasName(topic string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.names[topic]
}

// release unsubscribes from topic when nothing needs it. The caller holds
// s.mu.
func (s *subscriptions) release(topic string) {
	if !s.channels[topic] && !s.names[topic] {
		s.sub.Unsubscribe(topic)
	}
}
