package replica

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"msgsys/proto"
)

// catchUpPoll is the pause between sync rounds with a peer that has sent
// everything but does not yet count this server in sync.
const catchUpPoll = 20 * time.Millisecond

// CatchUp pulls every op this server lacks from each reachable peer, and
// waits until each of them counts this server in sync, so that no write
// those peers acknowledge from then on can miss it. It gives up on a peer
// that does not reply and returns when every peer is done or timeout has
// passed; the server may then serve, and a peer still behind catches up
// through normal replication.
func (r *Replicator) CatchUp(ctx context.Context, peers []Peer, timeout time.Duration) error {
	r.catchingUp.Store(true)
	defer r.catchingUp.Store(false)

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	before := total(r.cfg.Store.VersionVector())
	r.log.Info("catch-up started", "peers", len(peers))

	var unfinished []string
	for _, p := range peers {
		if p.Name == r.cfg.Name || p.Addr == "" {
			continue
		}
		if err := r.syncWith(ctx, p); err != nil {
			r.log.Warn("catch-up incomplete", "peer", p.Name, "err", err)
			unfinished = append(unfinished, p.Name)
		}
	}

	after := total(r.cfg.Store.VersionVector())
	r.log.Info("catch-up finished", "ops", after-before, "duration_ms", time.Since(start).Milliseconds(), "incomplete", len(unfinished))
	r.mu.Lock()
	for _, name := range unfinished {
		r.unsynced[name] = true
	}
	r.mu.Unlock()
	if len(unfinished) > 0 {
		return fmt.Errorf("replica: catch-up incomplete with %v", unfinished)
	}
	return nil
}

// syncWith pulls batches from one peer until it reports done and in sync.
func (r *Replicator) syncWith(ctx context.Context, p Peer) error {
	requester := proto.NewKeyedRequester(p.Addr, r.cfg.ClusterKey)
	defer requester.Close()

	for {
		req := &SyncRequest{Name: r.cfg.Name, Addr: r.cfg.Addr, Version: r.cfg.Store.VersionVector()}
		frame, err := proto.Encode(ServiceSync, req, r.cfg.Clocks.Meta())
		if err != nil {
			return err
		}
		payload, err := requester.Request(ctx, frame, r.cfg.RequestTimeout)
		if err != nil {
			return err
		}
		var reply SyncReply
		if _, err := proto.DecodeInto(payload, &reply); err != nil {
			return err
		}
		r.cfg.Clocks.Lamport.Witness(reply.Clock)
		if !proto.IsSuccess(reply.Status) {
			return errRejected
		}
		if len(reply.Ops) > 0 {
			if _, err := r.Apply(ctx, reply.Ops); err != nil {
				return err
			}
			continue
		}
		if reply.Done && reply.InSync {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(catchUpPoll):
		}
	}
}

func total(version map[string]uint64) uint64 {
	var sum uint64
	for _, seq := range version {
		sum += seq
	}
	return sum
}

// AntiEntropy pulls, every period, whatever this server lacks from one
// peer, a different one each time. Pushes only carry each origin's own
// writes, so without it a write acknowledged while this server was marked
// lagging would never arrive if its origin died before pushing it again:
// a surviving peer holds it, and this pull fetches it.
func (r *Replicator) AntiEntropy(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	next := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		r.mu.Lock()
		peers := make([]Peer, 0, len(r.peers))
		for _, p := range r.peers {
			peers = append(peers, p.Peer)
		}
		r.mu.Unlock()
		if len(peers) == 0 {
			continue
		}
		slices.SortFunc(peers, func(a, b Peer) int { return strings.Compare(a.Name, b.Name) })
		p := peers[next%len(peers)]
		next++

		before := total(r.cfg.Store.VersionVector())
		pullCtx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
		err := r.pull(pullCtx, p)
		cancel()
		if err != nil {
			r.log.Debug("anti-entropy pull failed", "peer", p.Name, "err", err)
			continue
		}
		r.mu.Lock()
		if r.unsynced[p.Name] {
			delete(r.unsynced, p.Name)
			r.log.Info("catch-up completed by anti-entropy", "peer", p.Name)
		}
		r.mu.Unlock()
		if fetched := total(r.cfg.Store.VersionVector()) - before; fetched > 0 {
			r.log.Info("anti-entropy fetched missing ops", "peer", p.Name, "ops", fetched)
		}
	}
}

// pull fetches batches from p until it has sent all it holds beyond this
// server's version vector.
func (r *Replicator) pull(ctx context.Context, p Peer) error {
	requester := proto.NewKeyedRequester(p.Addr, r.cfg.ClusterKey)
	defer requester.Close()
	for {
		req := &SyncRequest{Name: r.cfg.Name, Addr: r.cfg.Addr, Version: r.cfg.Store.VersionVector(), Background: true}
		frame, err := proto.Encode(ServiceSync, req, r.cfg.Clocks.Meta())
		if err != nil {
			return err
		}
		payload, err := requester.Request(ctx, frame, r.cfg.RequestTimeout)
		if err != nil {
			return err
		}
		var reply SyncReply
		if _, err := proto.DecodeInto(payload, &reply); err != nil {
			return err
		}
		r.cfg.Clocks.Lamport.Witness(reply.Clock)
		if !proto.IsSuccess(reply.Status) {
			return errRejected
		}
		if len(reply.Ops) > 0 {
			if _, err := r.Apply(ctx, reply.Ops); err != nil {
				return err
			}
		}
		if reply.Done {
			return nil
		}
	}
}
