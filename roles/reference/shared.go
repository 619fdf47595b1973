package reference

import (
	"sync"
	"time"

	"msgsys/proto"
)

// sharedNames notices two servers started with the same name. Each
// heartbeat moves the name to its sender's address, so the address goes
// back and forth, twice a second, between the two. A server that moved
// once, after a restart on another port, does not move back.
type sharedNames struct {
	log proto.RateLog

	mu    sync.Mutex
	moves map[string]addrMove // by name
}

// addrMove is a name's last change of address.
type addrMove struct {
	from, to string
	at       time.Time
}

// moved records that name moved from one address to another at now, and
// reports whether it moved back to the address it left within window:
// two live servers send heartbeats under that name.
func (s *sharedNames) moved(name, from, to string, now time.Time, window time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.moves == nil {
		s.moves = make(map[string]addrMove)
	}
	last, ok := s.moves[name]
	s.moves[name] = addrMove{from: from, to: to, at: now}

	// Moves of names long gone are dropped, so the map stays small.
	for key, m := range s.moves {
		if now.Sub(m.at) > window {
			delete(s.moves, key)
		}
	}
	return ok && last.from == to && last.to == from && now.Sub(last.at) <= window
}
