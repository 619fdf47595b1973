package replica

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// Peer names another server and its server-to-server endpoint.
type Peer struct {
	Name string
	Addr string
}

// peer is the replication state of one other server. Its fields are
// guarded by Replicator.mu.
type peer struct {
	Peer
	acked  uint64 // highest own seq the peer holds, per its last reply
	known  bool   // acked comes from a reply since the sender started
	inSync bool   // writes wait for this peer's acknowledgement
	// reachable is whether the last push or probe got a reply; a write
	// waits for a second copy only while some peer is reachable.
	reachable bool
	// lostAt is when the sender last failed. For CopyTimeout after it
	// the peer still counts as reachable (recentlyLost), because a server
	// that resumes after a stop finds every stream timed out at once,
	// while its peers are fine.
	lostAt time.Time
	// wake ends the sender's pause between retries early, once catch-up
	// has shown that the peer replies again.
	wake chan struct{}
	// replied is whether the peer has sent a msgsys replicate reply since
	// this sender started.
	replied bool
	// missingSince is when the peer first went missing from the list of
	// available servers; zero while it is listed.
	missingSince time.Time
	cancel       context.CancelFunc
	done         chan struct{}
}

func (p *peer) stop() {
	if p.cancel != nil {
		p.cancel()
	}
}

// SetPeers replaces the set of peers with the available servers other
// than this one. New peers start lagging: they hold no write up until
// they have caught up with this server's own ops.
func (r *Replicator) SetPeers(peers []Peer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]bool, len(peers))
	for _, p := range peers {
		if p.Name == r.cfg.Name || p.Addr == "" {
			continue
		}
		seen[p.Name] = true
		r.addPeerLocked(p)
	}
	now := time.Now()
	for name, p := range r.peers {
		if seen[name] {
			p.missingSince = time.Time{}
			continue
		}
		// A reference that just restarted lists no server until heartbeats
		// arrive again, so a peer leaves only after missing from the list
		// for a while; until then a dead one is merely lagging.
		if p.missingSince.IsZero() {
			p.missingSince = now
		}
		if now.Sub(p.missingSince) >= peerRemoveAfter {
			r.log.Info("replica peer removed", "peer", name)
			p.stop()
			delete(r.peers, name)
			delete(r.unsupported, name)
			// A server that left may be gone for good, and status would
			// list it as unsynced for as long.
			if r.unsynced[name] {
				r.log.Warn("unsynced peer removed: writes that only it held stay missing until it returns", "peer", name)
				delete(r.unsynced, name)
			}
		}
	}
	r.releaseLocked()
}

// peerRemoveAfter is how long a peer may be missing from the reference's
// list of available servers before replication drops it, the reference's
// default heartbeat expiry.
const peerRemoveAfter = 3 * time.Second

// notePeer adds a peer that introduced itself with a sync request and
// makes its sender probe the peer's position again, because a peer that
// syncs has restarted and may hold less than it did. A new name is not
// added while MaxPeers peers are known.
func (r *Replicator) notePeer(p Peer) {
	if p.Name == "" || p.Name == r.cfg.Name || p.Addr == "" {
		return
	}
	r.mu.Lock()
	_, known := r.peers[p.Name]
	if !known && r.cfg.MaxPeers > 0 && len(r.peers) >= r.cfg.MaxPeers {
		r.mu.Unlock()
		r.peerLimit.Warn(r.log, "sync from a server beyond the peer limit, not added as a peer", "peer", p.Name, "max_peers", r.cfg.MaxPeers)
		return
	}
	r.addPeerLocked(p).known = false
	r.mu.Unlock()
	r.appended.broadcast()
}

// addPeerLocked adds p, or restarts its sender when its address changed,
// and returns its state.
func (r *Replicator) addPeerLocked(p Peer) *peer {
	if existing, ok := r.peers[p.Name]; ok {
		if existing.Addr == p.Addr {
			return existing
		}
		existing.stop()
	}
	state := &peer{Peer: p, wake: make(chan struct{}, 1)}
	r.peers[p.Name] = state
	r.hadPeers = true
	r.log.Info("replica peer added", "peer", p.Name, "addr", p.Addr)
	r.startSender(state)
	return state
}

// startSender starts the goroutine that pushes own ops to p, once Run has
// started. Callers hold r.mu.
func (r *Replicator) startSender(p *peer) {
	if !r.running {
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	p.cancel, p.done = cancel, make(chan struct{})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(p.done)
		r.runSender(ctx, p)
	}()
}

// probeEvery is how often an idle sender checks a peer's position, so a
// peer that restarted empty is noticed without waiting for a write.
const probeEvery = 2 * time.Second

// runSender pushes own ops to one peer through stream, and after each
// failure marks the peer unreachable and lagging and tries again after a
// growing pause.
func (r *Replicator) runSender(ctx context.Context, p *peer) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := r.stream(ctx, p)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errReprobe) {
			continue
		}
		r.mu.Lock()
		if p.reachable {
			p.lostAt = time.Now()
		}
		p.reachable = false
		r.releaseLocked()
		r.mu.Unlock()
		r.setInSync(p, false)
		r.log.Debug("replicate failed", "peer", p.Name, "err", err)

		// A server of another implementation replies to every probe with an
		// error, so it is probed again only rarely.
		if errors.Is(err, errUnsupported) {
			r.markUnsupported(p.Name, ServiceReplicate)
			select {
			case <-ctx.Done():
				return
			case <-time.After(unsupportedRetry):
			}
			continue
		}

		// A stream that ran for a while earned a quick retry.
		if time.Since(start) > probeEvery {
			backoff = 50 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// markReplied records that the peer name has just replied to catch-up, so
// it counts as reachable again, and wakes its sender from its pause
// between retries. Until the sender has reconnected, writes then wait for
// a copy on that peer instead of being acknowledged with none.
func (r *Replicator) markReplied(name string) {
	r.mu.Lock()
	p, ok := r.peers[name]
	if ok {
		p.reachable = true
	}
	r.mu.Unlock()
	if ok {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// recentlyLost reports whether p's sender failed less than window ago,
// while the peer had been reachable. Callers hold r.mu.
func (p *peer) recentlyLost(now time.Time, window time.Duration) bool {
	return !p.reachable && !p.lostAt.IsZero() && now.Sub(p.lostAt) < window
}

// setInSync changes whether writes wait for p, and logs the change.
func (r *Replicator) setInSync(p *peer, inSync bool) {
	r.mu.Lock()
	if p.inSync == inSync {
		r.mu.Unlock()
		return
	}
	p.inSync = inSync
	acked := p.acked
	r.releaseLocked()
	r.mu.Unlock()

	if inSync {
		r.log.Info("replica in sync", "peer", p.Name, "acked", acked)
	} else {
		r.log.Warn("replica lagging", "peer", p.Name, "acked", acked)
	}
}

// markLagging stops waiting for peers that missed a write's deadline.
func (r *Replicator) markLagging(peers []*peer, seq uint64) {
	for _, p := range peers {
		r.mu.Lock()
		late := p.inSync && p.acked < seq
		r.mu.Unlock()
		if late {
			r.setInSync(p, false)
		}
	}
}

// Peers returns the peers this server replicates to.
func (r *Replicator) Peers() []Peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	peers := make([]Peer, 0, len(r.peers))
	for _, p := range r.peers {
		peers = append(peers, p.Peer)
	}
	return peers
}

// PeerStatus is one peer's replication state, for msgsys status.
type PeerStatus struct {
	Name   string `msgpack:"name" json:"name"`
	Acked  uint64 `msgpack:"acked" json:"acked"`
	InSync bool   `msgpack:"insync" json:"insync"`
}

// Status is this server's replication state.
type Status struct {
	Origin     string            `msgpack:"origin" json:"origin"`
	Sequence   uint64            `msgpack:"sequence" json:"sequence"`
	Version    map[string]uint64 `msgpack:"version" json:"version"`
	CatchingUp bool              `msgpack:"catchingup" json:"catching_up"`
	Peers      []PeerStatus      `msgpack:"peers" json:"peers"`
	// Unsynced lists the peers that a catch-up could not finish with and
	// that no later pull has reached: data only they held may be missing.
	Unsynced []string `msgpack:"unsynced,omitempty" json:"unsynced,omitempty"`
}

// Status reports the version vector, the own sequence and each peer.
func (r *Replicator) Status() Status {
	st := Status{
		Origin:     r.cfg.Origin,
		Version:    r.cfg.Store.VersionVector(),
		CatchingUp: r.CatchingUp(),
	}
	r.mu.Lock()
	st.Sequence = r.lastSeq()
	for _, p := range r.peers {
		st.Peers = append(st.Peers, PeerStatus{Name: p.Name, Acked: p.acked, InSync: p.inSync})
	}
	for name := range r.unsynced {
		st.Unsynced = append(st.Unsynced, name)
	}
	r.mu.Unlock()
	slices.Sort(st.Unsynced)
	slices.SortFunc(st.Peers, func(a, b PeerStatus) int { return strings.Compare(a.Name, b.Name) })
	return st
}
