package replica

import (
	"context"
	"sync"
	"time"
)

// A request may name a user or channel that this server lacks although
// another server acknowledged it. Its origin's pushes may not reach this
// server, as at the end of a cut link, or this server was marked lagging
// for a moment. So before the server replies "not found", it pulls once
// from its peers (PullNow).
const (
	// pullNowTimeout bounds the wait of the request that asked.
	pullNowTimeout = 300 * time.Millisecond
	// pullNowEvery spaces the pulls, so that requests naming what exists
	// nowhere cost the peers at most a few pulls a second.
	pullNowEvery = 100 * time.Millisecond
)

// nowPulls shares one pull among the requests that ask at the same time.
type nowPulls struct {
	mu      sync.Mutex
	running chan struct{} // closed when the pull in flight ends; nil when none
	last    time.Time     // when the last pull started
}

// PullNow pulls what this server lacks from every peer that replies to
// pushes, at once, and returns when the first pull has ended, or after
// pullNowTimeout. A caller that arrives while a pull runs waits for that
// one. It reports whether a pull ran, so that the caller looks again.
func (r *Replicator) PullNow(ctx context.Context) bool {
	r.now.mu.Lock()
	if running := r.now.running; running != nil {
		r.now.mu.Unlock()
		select {
		case <-running:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if time.Since(r.now.last) < pullNowEvery {
		r.now.mu.Unlock()
		return false
	}
	running := make(chan struct{})
	r.now.running, r.now.last = running, time.Now()
	r.now.mu.Unlock()
	defer func() {
		r.now.mu.Lock()
		r.now.running = nil
		r.now.mu.Unlock()
		close(running)
	}()

	// Without a peer that replies, as on the minority side of a partition,
	// a pull would only make the request wait.
	peers, _ := r.peersByReply()
	if len(peers) == 0 {
		return false
	}
	// The first pull that succeeds ends the others, through cancel.
	ctx, cancel := context.WithTimeout(ctx, pullNowTimeout)
	defer cancel()
	ended := make(chan error, len(peers))
	for _, p := range peers {
		go func() {
			_, err := r.pull(ctx, p)
			ended <- err
		}()
	}
	for range peers {
		if err := <-ended; err == nil {
			return true
		}
	}
	r.log.Debug("pull for an unknown name failed", "peers", len(peers))
	return true
}
