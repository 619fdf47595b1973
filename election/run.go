package election

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Run elects at start and then watches the coordinator until ctx is done.
// Elections, pings and announcements all happen in this goroutine, which
// is what keeps a burst of failures from starting a burst of elections.
func (n *Node) Run(ctx context.Context) {
	n.Trigger()
	ticker := time.NewTicker(n.cfg.CheckEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.trigger:
			n.elect(ctx)
		case <-ticker.C:
			n.check(ctx)
		}
	}
}

// check pings the coordinator and starts an election after Misses
// consecutive failures.
func (n *Node) check(ctx context.Context) {
	n.mu.Lock()
	current := n.current
	target := Member{Name: current.Coordinator, Rank: current.Rank, Addr: current.Addr}
	for _, m := range n.members {
		if m.Name == current.Coordinator {
			target = m
		}
	}
	n.mu.Unlock()

	switch {
	case current.Coordinator == "":
		n.elect(ctx)
		return
	case current.Coordinator == n.cfg.Self.Name:
		return
	}

	// A coordinator that the reference no longer lists and whose address
	// is unknown counts as a failed ping: it stopped sending heartbeats.
	alive := false
	if target.Addr != "" {
		pingCtx, cancel := context.WithTimeout(ctx, n.cfg.CheckTimeout)
		alive = n.cfg.Transport.Ping(pingCtx, target)
		cancel()
	}
	n.mu.Lock()
	if alive || n.current.Coordinator != current.Coordinator {
		n.misses = 0
		n.mu.Unlock()
		return
	}
	n.misses++
	lost := n.misses >= n.cfg.Misses
	if lost {
		n.current = Announcement{}
		n.misses = 0
	}
	n.mu.Unlock()

	if lost {
		n.log.Warn("coordinator unreachable", "coordinator", current.Coordinator, "epoch", current.Epoch)
		n.elect(ctx)
	}
}

// elect runs one Bully election: it sends election to every higher rank
// and, when none replies OK in time, wins.
func (n *Node) elect(ctx context.Context) {
	select {
	case <-n.announced:
	default:
	}
	members := n.Members()
	var higher []Member
	for _, m := range members {
		if m.Rank > n.cfg.Self.Rank {
			higher = append(higher, m)
		}
	}

	if len(higher) > 0 {
		n.log.Debug("election started", "higher", len(higher))
		if n.anyOK(ctx, higher) {
			select {
			case <-ctx.Done():
			case <-n.announced:
			case <-time.After(n.cfg.AnnounceTimeout):
				n.log.Warn("no announcement after ok, electing again")
				n.Trigger()
			}
			return
		}
	}
	n.win(ctx, members)
}

// anyOK sends election to each member concurrently and reports whether
// any replied OK within OKTimeout.
func (n *Node) anyOK(ctx context.Context, higher []Member) bool {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.OKTimeout)
	defer cancel()
	epoch := n.Epoch()
	var ok atomic.Bool
	var wg sync.WaitGroup
	for _, m := range higher {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n.cfg.Transport.Elect(ctx, m, epoch) {
				ok.Store(true)
			}
		}()
	}
	wg.Wait()
	return ok.Load()
}

// win makes this node coordinator with a new epoch and announces it once.
// A node that already coordinates at the newest epoch only re-sends its
// announcement to the members.
func (n *Node) win(ctx context.Context, members []Member) {
	self := n.cfg.Self
	n.mu.Lock()
	if n.current.Coordinator == self.Name && n.current.Epoch == n.epoch {
		a := n.current
		n.mu.Unlock()
		n.tellAll(ctx, a, members)
		return
	}
	n.epoch++
	a := Announcement{Coordinator: self.Name, Rank: self.Rank, Epoch: n.epoch, Addr: self.Addr}
	n.current, n.misses = a, 0
	n.mu.Unlock()

	n.log.Info("coordinator elected", "coordinator", self.Name, "coordinator_rank", self.Rank, "epoch", a.Epoch)
	n.cfg.Transport.Announce(ctx, a, members)
	if n.cfg.OnChange != nil {
		n.cfg.OnChange(a)
	}
}

func (n *Node) tellAll(ctx context.Context, a Announcement, members []Member) {
	var wg sync.WaitGroup
	for _, m := range members {
		if m.Name == n.cfg.Self.Name {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.cfg.Transport.Tell(ctx, a, m)
		}()
	}
	wg.Wait()
}
