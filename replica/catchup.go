package replica

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"msgsys/proto"
)

// catchUpPoll is the pause between sync rounds with a peer that has sent
// everything but does not yet count this server in sync.
const catchUpPoll = 20 * time.Millisecond

// catchUpRelist is the pause between readings of the available servers
// while a catch-up waits for expected servers to come up.
const catchUpRelist = 100 * time.Millisecond

// Expected names servers that a catch-up waits for although they are not
// available, or do not accept connections, when it starts. After a
// restart of the whole cluster the reference lists only the servers that
// have registered since it started. A server that comes up first would
// otherwise serve without the writes that the others acknowledged while
// it was down, until an anti-entropy pull brought them.
type Expected struct {
	// Names are the servers to wait for, such as every server that the
	// reference has registered.
	Names []string
	// Wait bounds the wait, counted from the start of the catch-up.
	Wait time.Duration
	// Relist returns the servers available now, with their current
	// addresses. CatchUp calls it every catchUpRelist while it waits. With
	// a nil Relist, CatchUp waits for nothing.
	Relist func(context.Context) []Peer
}

// CatchUp pulls every op this server lacks from each reachable peer, and
// waits until each of them counts this server in sync, so that no write
// those peers acknowledge from then on can miss it. It gives up on a peer
// that does not reply. A peer that refuses connections, and a server of
// expected.Names that no list has named yet, are tried again with each new
// list until expected.Wait has passed. CatchUp returns when every peer is
// done or given up, or timeout has passed. The server may then serve, and
// a peer still behind catches up through normal replication.
func (r *Replicator) CatchUp(ctx context.Context, peers []Peer, timeout time.Duration, expected Expected) error {
	r.catchingUp.Store(true)
	defer r.catchingUp.Store(false)

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	waitEnd := start.Add(expected.Wait)
	before := total(r.cfg.Store.VersionVector())

	done := make(map[string]bool) // synced with or given up on
	// pending holds the servers not yet synced with and not given up on.
	pending := make(map[string]bool)
	for _, name := range expected.Names {
		if name != r.cfg.Name {
			pending[name] = true
		}
	}
	r.log.Info("catch-up started", "peers", len(peers), "expected", len(pending))
	var unfinished []string
	listed := make(map[string]bool) // named by some list of available servers
	loggedWait := false
	for {
		for _, p := range peers {
			if p.Name == r.cfg.Name || p.Addr == "" || done[p.Name] {
				continue
			}
			pending[p.Name] = true
			listed[p.Name] = true
			err := r.syncWith(ctx, p)
			switch {
			case err == nil:
				r.markReplied(p.Name)
				delete(pending, p.Name)
				done[p.Name] = true
			case errors.Is(err, errUnsupported):
				// A server without msgsys replication holds no replicated
				// data, so there is nothing to catch up from it.
				delete(pending, p.Name)
				done[p.Name] = true
			case errors.Is(err, proto.ErrUnreachable) && expected.Relist != nil && time.Now().Before(waitEnd):
				// Not up yet, or restarting on a new address: tried
				// again with the next list.
			default:
				r.log.Warn("catch-up incomplete", "peer", p.Name, "err", err)
				delete(pending, p.Name)
				done[p.Name] = true
				unfinished = append(unfinished, p.Name)
			}
		}
		if len(pending) == 0 {
			break
		}
		waiting := slices.Sorted(maps.Keys(pending))
		if expected.Relist == nil || !time.Now().Before(waitEnd) || ctx.Err() != nil {
			// A server that never became available may be gone for good,
			// and status would show it as unsynced for as long. One that
			// was available but refused connections is marked unsynced.
			var neverListed []string
			for _, name := range waiting {
				if listed[name] {
					r.log.Warn("catch-up incomplete", "peer", name, "err", "not reachable within the catch-up wait", "wait", expected.Wait)
					unfinished = append(unfinished, name)
				} else {
					neverListed = append(neverListed, name)
				}
			}
			if len(neverListed) > 0 {
				// One line, because the reference may have registered
				// thousands of names that never come up.
				r.log.Warn("catch-up stopped waiting for registered servers",
					"count", len(neverListed), "servers", firstNames(neverListed), "wait", expected.Wait)
			}
			break
		}
		if !loggedWait {
			r.log.Info("catch-up waiting for servers to come up",
				"count", len(waiting), "servers", firstNames(waiting), "wait", expected.Wait)
			loggedWait = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(catchUpRelist):
		}
		peers = expected.Relist(ctx)
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

// loggedNames is how many names a log line about many servers shows.
const loggedNames = 5

// firstNames returns the first loggedNames of names.
func firstNames(names []string) []string {
	return names[:min(len(names), loggedNames)]
}

// syncWith pulls batches from one peer until it reports done and in sync.
func (r *Replicator) syncWith(ctx context.Context, p Peer) error {
	requester := proto.NewKeyedRequester(p.Addr, r.cfg.ClusterKey)
	defer requester.Close()

	for {
		reply, err := r.requestSync(ctx, requester, p, false)
		if err != nil {
			return err
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
//
// While some peer does not reply to pushes, the pulls run ten times as
// often, from the peers that do. When only the link to one server is cut,
// that server's writes then reach this one through a third server within
// a tenth of the period. A channel created there, or a user who logged in
// there, is then known here before most clients send their next request.
func (r *Replicator) AntiEntropy(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	ticker := time.NewTicker(max(every/10, 10*time.Millisecond))
	defer ticker.Stop()
	var last time.Time
	next := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		peers, cut := r.pullPeers()
		if len(peers) == 0 || (!cut && time.Since(last) < every) {
			continue
		}
		last = time.Now()
		p := peers[next%len(peers)]
		next++
		r.antiEntropyPull(ctx, p)
	}
}

// pullPeers returns the peers that anti-entropy pulls from, sorted by
// name: those that replied to their last push or probe, or every peer when
// none did. cut reports whether some peer does not reply while another
// does.
func (r *Replicator) pullPeers() (peers []Peer, cut bool) {
	replying, silent := r.peersByReply()
	if len(replying) == 0 {
		return silent, false
	}
	return replying, len(silent) > 0
}

// peersByReply splits the peers, sorted by name, into those that replied
// to their last push or probe and the others. A peer without msgsys
// replication holds nothing to pull and is in neither. Its sender probes it
// again now and then and clears the mark.
func (r *Replicator) peersByReply() (replying, silent []Peer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.peers {
		switch {
		case r.unsupported[p.Name]:
		case p.reachable:
			replying = append(replying, p.Peer)
		default:
			silent = append(silent, p.Peer)
		}
	}
	byName := func(a, b Peer) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(replying, byName)
	slices.SortFunc(silent, byName)
	return replying, silent
}

// antiEntropyPull pulls from p once and logs what it fetched.
func (r *Replicator) antiEntropyPull(ctx context.Context, p Peer) {
	before := total(r.cfg.Store.VersionVector())
	pullCtx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	earliest, err := r.pull(pullCtx, p)
	cancel()
	if err != nil {
		r.log.Debug("anti-entropy pull failed", "peer", p.Name, "err", err)
		return
	}
	r.mu.Lock()
	if r.unsynced[p.Name] {
		delete(r.unsynced, p.Name)
		r.log.Info("catch-up completed by anti-entropy", "peer", p.Name)
	}
	r.mu.Unlock()
	// Under load every pull finds ops still on their way, so only
	// older ones, which replication lost, make an INFO line.
	fetched := total(r.cfg.Store.VersionVector()) - before
	switch {
	case fetched == 0:
	case time.Since(time.Unix(0, earliest)) > inFlightAge:
		r.log.Info("anti-entropy fetched missing ops", "peer", p.Name, "ops", fetched, "oldest", time.Unix(0, earliest).UTC())
	default:
		r.log.Debug("anti-entropy fetched ops in flight", "peer", p.Name, "ops", fetched)
	}
}

// requestSync sends one sync request with this server's version vector to
// p and returns its successful reply. A background request comes from
// anti-entropy and marks the request as one from a server that did not restart.
func (r *Replicator) requestSync(ctx context.Context, requester *proto.Requester, p Peer, background bool) (SyncReply, error) {
	req := &SyncRequest{Name: r.cfg.Name, Addr: r.cfg.Addr, Version: r.cfg.Store.VersionVector(), Background: background}
	frame, err := proto.Encode(ServiceSync, req, r.cfg.Clocks.Meta())
	if err != nil {
		return SyncReply{}, err
	}
	payload, err := requester.Request(ctx, frame, r.cfg.RequestTimeout)
	if err != nil {
		return SyncReply{}, err
	}

	var reply SyncReply
	_, err = proto.DecodeInto(payload, &reply)
	if (err != nil || !proto.IsSuccess(reply.Status)) && isUnsupportedReply(payload, "done") {
		r.markUnsupported(p.Name, ServiceSync)
		return SyncReply{}, errUnsupported
	}
	if err != nil {
		return SyncReply{}, err
	}
	r.witness(ServiceSync, reply.Clock)
	if !proto.IsSuccess(reply.Status) {
		return SyncReply{}, errRejected
	}
	return reply, nil
}

// pull fetches batches from p until it has sent all it holds beyond this
// server's version vector. It returns the earliest origin time among the
// ops it received, zero when none came.
func (r *Replicator) pull(ctx context.Context, p Peer) (earliest int64, err error) {
	requester := proto.NewKeyedRequester(p.Addr, r.cfg.ClusterKey)
	defer requester.Close()
	for {
		reply, err := r.requestSync(ctx, requester, p, true)
		if err != nil {
			return earliest, err
		}
		for _, op := range reply.Ops {
			if earliest == 0 || op.Time < earliest {
				earliest = op.Time
			}
		}
		if len(reply.Ops) > 0 {
			if _, err := r.Apply(ctx, reply.Ops); err != nil {
				return earliest, err
			}
		}
		if reply.Done {
			return earliest, nil
		}
	}
}

// inFlightAge is the age under which an op that anti-entropy fetches
// counts as one still on its way from its origin, as under steady load,
// rather than one that replication lost.
const inFlightAge = 5 * time.Second
