// Package replica keeps every server's store holding every write: the
// server that accepts a write commits it locally and pushes it to every
// peer, and a write is acknowledged only when the peers that are in sync
// hold it too. Servers that start or fall behind pull what they lack with
// version vectors before they serve. docs/replication.md explains the
// method and its messages.
package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"msgsys/proto"
	"msgsys/store"
)

// ErrStopped is returned by writes that were not committed because the
// replicator is shutting down.
var ErrStopped = errors.New("replica: stopped")

// Config configures a Replicator.
type Config struct {
	Name   string // server name, shown to peers
	Addr   string // own server-to-server endpoint, given to peers
	Origin string // this run's origin id; unique per process start
	Rank   int64  // this server's rank, the tie-breaker of the total order
	Store  *store.Store
	Clocks proto.Clocks
	Log    *slog.Logger
	// ClusterKey, when set, is presented to peers' endpoints.
	ClusterKey string

	// AckTimeout is how long a write waits for an in-sync peer before that
	// peer is marked lagging and stops holding writes up.
	AckTimeout time.Duration
	// CopyTimeout is how long a write waits in all for a second copy. A
	// reachable peer that holds none by then counts as unreachable until
	// it replies again, so the writes after it do not wait too. It stays
	// below the broker's request timeout (3 s), after which the client
	// would get an error for a write that succeeds.
	CopyTimeout time.Duration
	// RequestTimeout bounds one replicate or sync round trip.
	RequestTimeout time.Duration
	// BatchOps and BatchBytes bound one replication or sync batch.
	BatchOps   int
	BatchBytes int
	// OnApply, when set, is called with every batch of ops stored, local
	// and replicated alike: applied own ops, and logged replicated ops.
	OnApply func(ops []store.Op)
	// AckBeforeSync lets a write that a peer holds return before the
	// local log's sync, which the store then runs on its period
	// (store.Options.SyncEvery). A write that no peer holds still waits
	// for its sync. See docs/replication.md, "Durability choices".
	AckBeforeSync bool
	// MaxPeers bounds the peers that sync requests introduce, which
	// anyone who reaches the server's endpoint without a cluster key can
	// send under any name. Zero means no bound.
	MaxPeers int
}

// DefaultConfig returns the production timings.
func DefaultConfig() Config {
	return Config{
		AckTimeout:     500 * time.Millisecond,
		CopyTimeout:    1500 * time.Millisecond,
		RequestTimeout: 5 * time.Second,
		BatchOps:       1000,
		BatchBytes:     4 << 20,
	}
}

// recentKeep is how many of its own ops a replicator keeps in memory, so
// that pushing them to peers does not wait for or read the store.
const recentKeep = 1 << 16

// Replicator sequences this server's writes, commits them in batches and
// replicates them.
type Replicator struct {
	cfg     Config
	log     *slog.Logger
	commits chan *commit

	mu         sync.Mutex // guards next, lastTime, recent, recentBase, peers, waiters, unsynced and unsupported
	next       uint64     // sequence number of the next own op
	lastTime   int64      // timestamp of the newest own op
	recent     []store.Op // own ops from recentBase on, committed or not
	recentBase uint64
	peers      map[string]*peer
	running    bool // Run has started, so new peers get a sender

	// unsynced names the peers that a catch-up could not finish with and
	// that no anti-entropy pull has completed with since. Data that only
	// they held may be missing here, which status shows.
	unsynced map[string]bool
	// unsupported names the peers whose last replicate or sync reply was
	// the error of a server without msgsys replication (markUnsupported).
	unsupported map[string]bool

	appended   *signal      // new own ops were sequenced
	waiters    []*ackWaiter // writes waiting for their peers
	catchingUp atomic.Bool
	now        nowPulls        // pulls for requests that name what this server lacks
	ctx        context.Context // Run's, parent of the senders'
	wg         sync.WaitGroup

	// badRequests holds back log lines about invalid requests from peers.
	badRequests proto.RateLog
	// clockAhead holds back warnings about peers' clocks held back.
	clockAhead proto.RateLog
	// peerLimit holds back warnings about sync requests from servers
	// that MaxPeers leaves out.
	peerLimit proto.RateLog
	// hadPeers is set once a peer is known, so that a server that never
	// had one does not warn about each write it holds alone. Guarded by mu.
	hadPeers bool
	// singleCopy holds back warnings about writes acknowledged while no
	// peer held them.
	singleCopy proto.RateLog
}

// commit is a batch handed to the committer goroutine.
type commit struct {
	ops     []store.Op
	results []store.OpResult
	durable store.Durable // waits for the batch's sync
	err     error
	done    chan struct{}
}

// New returns a Replicator. Nothing runs until Run.
func New(cfg Config) *Replicator {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	defaults := DefaultConfig()
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = defaults.AckTimeout
	}
	if cfg.CopyTimeout <= 0 {
		cfg.CopyTimeout = defaults.CopyTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaults.RequestTimeout
	}
	if cfg.BatchOps <= 0 {
		cfg.BatchOps = defaults.BatchOps
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = defaults.BatchBytes
	}
	next := cfg.Store.VersionVector()[cfg.Origin] + 1
	return &Replicator{
		cfg:         cfg,
		log:         cfg.Log,
		commits:     make(chan *commit, 4096),
		next:        next,
		recentBase:  next,
		peers:       make(map[string]*peer),
		unsynced:    make(map[string]bool),
		unsupported: make(map[string]bool),
		appended:    newSignal(),
	}
}

// Run commits batches until ctx is done, then stops every peer sender.
func (r *Replicator) Run(ctx context.Context) {
	r.mu.Lock()
	r.ctx, r.running = ctx, true
	for _, p := range r.peers {
		r.startSender(p)
	}
	r.mu.Unlock()

	r.commitLoop(ctx)

	r.mu.Lock()
	for _, p := range r.peers {
		p.stop()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// commitLoop logs this server's own writes in batches, merging whatever is
// queued into one append to the store's log and one sync. The store
// materialises them later with the ops that peers pushed (Apply). Each
// writer then waits for the sync itself (Write), so the loop logs the next
// batch while the previous one syncs, and one sync covers every batch
// logged before it.
func (r *Replicator) commitLoop(ctx context.Context) {
	for {
		var first *commit
		select {
		case <-ctx.Done():
			r.failPending()
			return
		case first = <-r.commits:
		}

		// Writers that are ready to run queue their ops first, so that
		// one append and one sync cover them all. The first writer's
		// wake-up put this goroutine ahead of them.
		runtime.Gosched()
		batch := []*commit{first}
		size := len(first.ops)
	drain:
		for size < r.cfg.BatchOps {
			select {
			case c := <-r.commits:
				batch = append(batch, c)
				size += len(c.ops)
			default:
				break drain
			}
		}
		r.apply(batch, size)
	}
}

func (r *Replicator) apply(batch []*commit, size int) {
	ops := make([]store.Op, 0, size)
	for _, c := range batch {
		ops = append(ops, c.ops...)
	}
	result, durable, err := r.cfg.Store.ApplyAsync(ops)
	if err != nil {
		r.log.Error("store apply failed", "ops", len(ops), "err", err)
	}

	var applied []store.Op
	offset := 0
	for _, c := range batch {
		c.err, c.durable = err, durable
		if err == nil {
			c.results = result.Ops[offset : offset+len(c.ops)]
			for i, res := range c.results {
				if res.Status == store.StatusApplied {
					applied = append(applied, c.ops[i])
				}
			}
		}
		offset += len(c.ops)
		close(c.done)
	}
	if len(applied) > 0 && r.cfg.OnApply != nil {
		r.cfg.OnApply(applied)
	}
}

// failPending releases writers still queued at shutdown.
func (r *Replicator) failPending() {
	for {
		select {
		case c := <-r.commits:
			c.err = ErrStopped
			close(c.done)
		default:
			return
		}
	}
}

// Write sequences op as this server's next write, commits it and waits
// until every in-sync peer holds it. Origin, Seq and Rank are set here;
// the caller sets the rest, Clock and Time included. A Time earlier than
// the previous own op's is raised to it, because the store finds an
// origin's recent ops at the end of its log by their times. The returned
// result is the local store's outcome.
func (r *Replicator) Write(ctx context.Context, op store.Op) (store.Op, store.OpResult, error) {
	c := &commit{done: make(chan struct{})}

	// Sequencing and queueing happen under one lock, so the committer
	// receives own ops in sequence order and never sees a gap.
	r.mu.Lock()
	op.Origin, op.Rank, op.Seq = r.cfg.Origin, r.cfg.Rank, r.next
	op.Time = max(op.Time, r.lastTime)
	r.next++
	r.lastTime = op.Time
	r.recent = append(r.recent, op)
	if len(r.recent) > 2*recentKeep {
		drop := len(r.recent) - recentKeep
		r.recent = append([]store.Op(nil), r.recent[drop:]...)
		r.recentBase += uint64(drop)
	}
	c.ops = []store.Op{op}
	r.commits <- c
	r.mu.Unlock()
	r.appended.broadcast()

	select {
	case <-c.done:
	case <-ctx.Done():
		return op, store.OpResult{}, ctx.Err()
	}
	if c.err != nil {
		return op, store.OpResult{}, c.err
	}
	// A write is on this server's disk before it waits for its peers,
	// unless a copy in a peer's log may stand in for the local sync.
	if !r.cfg.AckBeforeSync {
		if err := r.sync(c, op.Seq); err != nil {
			return op, store.OpResult{}, err
		}
	}
	if err := r.awaitPeers(ctx, op.Seq); err != nil {
		return op, c.results[0], err
	}
	if r.cfg.AckBeforeSync && !r.copied(op.Seq) {
		if err := r.sync(c, op.Seq); err != nil {
			return op, store.OpResult{}, err
		}
	}
	return op, c.results[0], nil
}

// sync waits until the batch of c is in the synced log.
func (r *Replicator) sync(c *commit, seq uint64) error {
	if err := c.durable.Wait(); err != nil {
		r.log.Error("store sync failed", "seq", seq, "err", err)
		return err
	}
	return nil
}

// copied reports whether some peer has acknowledged own op seq.
func (r *Replicator) copied(seq uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.peers {
		if p.acked >= seq {
			return true
		}
	}
	return false
}

// awaitPeers waits until every in-sync peer holds own op seq, and at
// least one peer does whenever one is reachable, so that an acknowledged
// write survives the loss of any one server, its disk included. An in-sync
// peer that has not acknowledged within AckTimeout is marked lagging, so a
// slow or frozen peer costs one write a bounded delay. The second wait is
// bounded by CopyTimeout. A server whose peers are all gone or silent
// accepts writes alone.
func (r *Replicator) awaitPeers(ctx context.Context, seq uint64) error {
	r.mu.Lock()
	if _, _, ok := r.heldLocked(seq); ok {
		r.warnIfAloneLocked(seq)
		r.mu.Unlock()
		return nil
	}
	w := &ackWaiter{seq: seq, done: make(chan struct{})}
	r.waiters = append(r.waiters, w)
	r.mu.Unlock()
	defer r.dropWaiter(w)

	start := time.Now()
	lagTimer := time.NewTimer(r.cfg.AckTimeout)
	defer lagTimer.Stop()
	copyWait := max(r.cfg.CopyTimeout, r.cfg.AckTimeout)
	hardTimer := time.NewTimer(copyWait)
	defer hardTimer.Stop()
	// A timer that fires far later than set found the process stopped
	// (SIGSTOP, a suspended machine): the peers had no chance to reply,
	// so the wait starts over once instead of blaming them.
	lagRestarted, copyRestarted := false, false
	for {
		select {
		case <-w.done:
			r.mu.Lock()
			r.warnIfAloneLocked(seq)
			r.mu.Unlock()
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-lagTimer.C:
			if !lagRestarted && stoodStill(start, time.Now(), r.cfg.AckTimeout) {
				lagRestarted = true
				lagTimer.Reset(r.cfg.AckTimeout)
				continue
			}
			r.mu.Lock()
			waiting, _, _ := r.heldLocked(seq)
			r.mu.Unlock()
			r.markLagging(waiting, seq)
		case <-hardTimer.C:
			if !copyRestarted && stoodStill(start, time.Now(), copyWait) {
				copyRestarted = true
				hardTimer.Reset(copyWait)
				continue
			}
			r.mu.Lock()
			waiting, _, ok := r.heldLocked(seq)
			silent := 0
			if !ok {
				silent = r.silenceLocked(seq)
			}
			r.mu.Unlock()
			if ok {
				return nil
			}
			r.markLagging(waiting, seq)
			r.singleCopy.Warn(r.log, "write acknowledged without a second copy", "seq", seq, "silent_peers", silent)
			return nil
		}
	}
}

// stoodStill reports whether a timer set at start for wait and firing at
// now fired more than a whole wait late, as after a stop of the process.
// Under load a timer fires late by milliseconds, not by a whole wait.
func stoodStill(start, now time.Time, wait time.Duration) bool {
	return now.Sub(start) > 2*wait
}

// silenceLocked marks unreachable every reachable peer that does not hold
// seq, and wakes the writes that no longer wait for a copy. It returns how
// many it marked. A reply from such a peer marks it reachable again
// (noteAcked). Callers hold r.mu.
func (r *Replicator) silenceLocked(seq uint64) int {
	n := 0
	for _, p := range r.peers {
		if p.reachable && p.acked < seq {
			p.reachable = false
			p.lostAt = time.Time{} // silent after CopyTimeout: no grace
			n++
		}
	}
	if n > 0 {
		r.log.Warn("peers silent, writes go on without them", "peers", n, "seq", seq, "copy_timeout", r.cfg.CopyTimeout)
		r.releaseLocked()
	}
	return n
}

// warnIfAloneLocked logs a write acknowledged while no peer holds it,
// through the singleCopy rate limit. A server that never had a peer runs
// alone by design and logs nothing. Callers hold r.mu.
func (r *Replicator) warnIfAloneLocked(seq uint64) {
	if !r.hadPeers {
		return
	}
	for _, p := range r.peers {
		if p.acked >= seq {
			return
		}
	}
	r.singleCopy.Warn(r.log, "write acknowledged without a second copy", "seq", seq, "reachable_peers", 0)
}

// ackWaiter is a write waiting in awaitPeers. Its channel is closed once
// the peers hold its seq, so a reply from a peer wakes only the writers it
// completes, not every writer.
type ackWaiter struct {
	seq  uint64
	done chan struct{}
}

// heldLocked reports whether the peers hold own op seq as awaitPeers
// requires, the in-sync peers that lack it, and how many peers are
// reachable, counting those lost less than CopyTimeout ago. Callers hold
// r.mu.
func (r *Replicator) heldLocked(seq uint64) (waiting []*peer, reachable int, ok bool) {
	copies := 0
	var now time.Time
	for _, p := range r.peers {
		if p.inSync && p.acked < seq {
			waiting = append(waiting, p)
		}
		if p.acked >= seq {
			copies++
		}
		if p.reachable {
			reachable++
			continue
		}
		if !p.lostAt.IsZero() {
			if now.IsZero() {
				now = time.Now()
			}
			if p.recentlyLost(now, r.cfg.CopyTimeout) {
				reachable++
			}
		}
	}
	return waiting, reachable, len(waiting) == 0 && (copies > 0 || reachable == 0)
}

// releaseLocked wakes the waiters whose seq the peers now hold. Callers
// hold r.mu and call it after every change to a peer's position or state.
func (r *Replicator) releaseLocked() {
	remaining := r.waiters[:0]
	for _, w := range r.waiters {
		if _, _, ok := r.heldLocked(w.seq); ok {
			close(w.done)
			continue
		}
		remaining = append(remaining, w)
	}
	clear(r.waiters[len(remaining):])
	r.waiters = remaining
}

// dropWaiter removes a waiter that stopped waiting.
func (r *Replicator) dropWaiter(w *ackWaiter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.Index(r.waiters, w); i >= 0 {
		r.waiters = slices.Delete(r.waiters, i, i+1)
	}
}

// Apply stores ops from other origins, as replication and catch-up deliver
// them, and returns the store's version vector afterwards. It returns once
// the ops are in the write-ahead log, without waiting for their sync or
// their bbolt commit. The origin syncs each op before it acknowledges it,
// and the store commits received ops with the next batch, read or timer
// (store.Receive). A crash of this machine before its next sync costs only
// copies that catch-up restores (docs/replication.md).
func (r *Replicator) Apply(ctx context.Context, ops []store.Op) (map[string]uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, op := range ops {
		if err := store.CheckReceived(op); err != nil {
			return nil, fmt.Errorf("replica: op %s/%d: %w", op.Origin, op.Seq, err)
		}
	}
	return r.receive(ops)
}

// receive logs checked ops of other origins, as Apply does.
func (r *Replicator) receive(ops []store.Op) (map[string]uint64, error) {
	received, err := r.cfg.Store.Receive(ops)
	if err != nil {
		return nil, err
	}
	if len(received.Logged) > 0 && r.cfg.OnApply != nil {
		r.cfg.OnApply(received.Logged)
	}
	return received.Version, nil
}

// ownOpsAfter returns own ops with seq above after, from memory when it
// still has them and from the store otherwise.
func (r *Replicator) ownOpsAfter(after uint64) ([]store.Op, error) {
	r.mu.Lock()
	if after+1 >= r.recentBase {
		start := int(after + 1 - r.recentBase)
		end := min(len(r.recent), start+r.cfg.BatchOps)
		var ops []store.Op
		if start < end {
			ops = append(ops, r.recent[start:end]...)
		}
		r.mu.Unlock()
		return ops, nil
	}
	r.mu.Unlock()
	return r.cfg.Store.OpsAfter(r.cfg.Origin, after, r.cfg.BatchOps, r.cfg.BatchBytes)
}

// lastSeq is the sequence number of the newest own op. Callers hold r.mu.
func (r *Replicator) lastSeq() uint64 { return r.next - 1 }

// CatchingUp reports whether a catch-up is running.
func (r *Replicator) CatchingUp() bool { return r.catchingUp.Load() }
