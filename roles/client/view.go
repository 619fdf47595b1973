package client

import (
	"sort"
	"sync"

	"msgsys/proto"
)

// seenLimit bounds how many message keys a joined channel remembers for
// recognising duplicates. History pages hold at most 1000 messages, so
// a few thousand keys cover a join and a refill after a reconnection.
const seenLimit = 4096

// channelView is the client's state of one joined channel.
type channelView struct {
	name    string              // the channel's topic, as first written
	joining bool                // history requested: live posts wait in pending
	pending []Message           // live posts received while joining
	seen    map[MessageKey]bool // posts already shown
	order   []MessageKey        // keys of seen, oldest first, to bound its size
	// floor is the newest Lamport clock of the history read at the join.
	// A refill shows only newer posts, so that it never shows history
	// that the join left out.
	floor uint64
}

// markNew records m as shown and reports whether it was new.
func (cv *channelView) markNew(m Message) bool {
	if cv.seen[m.Key] {
		return false
	}
	cv.seen[m.Key] = true
	cv.order = append(cv.order, m.Key)
	if len(cv.order) > seenLimit {
		delete(cv.seen, cv.order[0])
		cv.order = cv.order[1:]
	}
	return true
}

// view holds the joined channels and prints their posts in order: history
// first, then live posts not already shown. Its mutex is held while
// printing, so the lines of one channel never interleave out of order.
// Lock order: view.mu, then printer.mu.
type view struct {
	lang string
	out  *printer

	mu       sync.Mutex              // guards channels
	channels map[string]*channelView // by proto.FoldName of the channel
}

func newView(l string, out *printer) *view {
	return &view{lang: l, out: out, channels: make(map[string]*channelView)}
}

// Joined returns the joined channel's topic regardless of case.
func (v *view) Joined(name string) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	cv, ok := v.channels[proto.FoldName(name)]
	if !ok {
		return "", false
	}
	return cv.name, true
}

// Begin starts joining channel: live posts are held until Finish.
func (v *view) Begin(channel string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.channels[proto.FoldName(channel)] = &channelView{
		name:    channel,
		joining: true,
		seen:    make(map[MessageKey]bool),
	}
}

// Finish prints channel's history, unless show is false, then the live
// posts held since Begin that the history did not contain, and lets later
// posts print at once. The history's newest clock bounds later refills.
func (v *view) Finish(channel string, history []Message, show bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	cv, ok := v.channels[proto.FoldName(channel)]
	if !ok {
		return
	}
	for _, m := range history {
		cv.floor = max(cv.floor, m.Clock)
		if cv.markNew(m) && show {
			v.out.Async(formatMessage(v.lang, "", m))
		}
	}
	for _, m := range cv.pending {
		if cv.markNew(m) {
			v.out.Async(formatMessage(v.lang, "", m))
		}
	}
	cv.pending, cv.joining = nil, false
}

// Deliver prints a live post unless it was shown already, holds it while
// its channel is joining, and drops it when the channel was left.
func (v *view) Deliver(m Message) {
	v.mu.Lock()
	defer v.mu.Unlock()
	cv, ok := v.channels[proto.FoldName(m.Channel)]
	switch {
	case !ok:
	case cv.joining:
		cv.pending = append(cv.pending, m)
	case cv.markNew(m):
		v.out.Async(formatMessage(v.lang, "", m))
	}
}

// Refill prints the posts of a history page that were never shown, as
// after a reconnection, when live posts may have been missed. A channel
// still joining is left alone: its own history covers it.
func (v *view) Refill(channel string, history []Message) {
	v.mu.Lock()
	defer v.mu.Unlock()
	cv, ok := v.channels[proto.FoldName(channel)]
	if !ok || cv.joining {
		return
	}
	for _, m := range history {
		if m.Clock > cv.floor && cv.markNew(m) {
			v.out.Async(formatMessage(v.lang, "", m))
		}
	}
}

// Floor returns the newest Lamport clock of the history that joining
// channel read, and whether channel is joined and done joining.
func (v *view) Floor(channel string) (uint64, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	cv, ok := v.channels[proto.FoldName(channel)]
	if !ok || cv.joining {
		return 0, false
	}
	return cv.floor, true
}

// Leave removes channel from the joined ones and returns its topic.
func (v *view) Leave(channel string) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	key := proto.FoldName(channel)
	cv, ok := v.channels[key]
	if !ok {
		return "", false
	}
	delete(v.channels, key)
	return cv.name, true
}

// Live returns the topics of the joined channels that are not joining,
// sorted.
func (v *view) Live() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var names []string
	for _, cv := range v.channels {
		if !cv.joining {
			names = append(names, cv.name)
		}
	}
	sort.Strings(names)
	return names
}
