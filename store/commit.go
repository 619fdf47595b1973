package store

import (
	"cmp"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A batch reaches the store in two steps. Logging sorts it, checks it
// against the version vector and appends the ops that extend their
// origin's log to the write-ahead log. From then on the version vector
// counts them. Materialising applies logged ops to the bbolt file in one
// transaction, which makes them visible to reads.
//
// Apply does both at once, because its callers need each op's outcome.
// ApplyAsync, for this server's own writes, and Receive, for ops pushed by
// other servers, only log and leave the ops pending: the next commit, the
// next read, or a timer after settleAfter materialises them with whatever
// else is pending. Each bbolt commit costs about ten page writes whatever
// its size, so sharing commits among many batches cuts the disk's load and
// the CPU (docs/benchmarks.md).

// settleAfter bounds how long a received op stays pending when nothing
// reads or writes, and pendingMax how many ops may be pending before
// Receive commits them itself.
const (
	settleAfter = 20 * time.Millisecond
	pendingMax  = 4096
)

// idleAfter is how long a store goes without a commit before it writes
// the request ids it holds in memory to the file. A server that goes
// quiet after a burst then gives that memory back.
const idleAfter = time.Second

// Apply stores a batch of ops and returns once they are visible and synced,
// so one sync makes the batch durable. It sorts the ops by origin and seq
// first, so a batch may hold the ops of one origin in any order. An op
// whose seq is the next of its origin is appended to the log, and
// materialised unless its kind is unknown or a name in it is invalid
// (StatusLogged). Other ops are skipped, and the result gives the status of
// each. After a failed write or sync the store refuses every later write,
// because it cannot tell what the disk holds.
func (s *Store) Apply(ops []Op) (ApplyResult, error) {
	res, durable, err := s.applyAsync(ops, false)
	if err != nil {
		return ApplyResult{}, err
	}
	if err := durable.Wait(); err != nil {
		return ApplyResult{}, err
	}
	return res, nil
}

// ApplyAsync logs ops as Apply does but returns before they are synced or
// materialised: reads see them at once, and the returned Durable waits
// until they would survive a crash of the machine. The sync starts at once.
// A caller can apply the next batch while it runs, and one sync then
// covers both. The ops stay pending, as Receive leaves its ops.
//
// The result is provisional. It gives each op's status as logging decides
// it, but not the outcomes that depend on the file (OpResult.Channel and
// NewUser). An op that repeats the request of a pending op is reported
// applied, and the commit then hides it. Callers look a request id up
// before they write it, so only an op that arrives in between is missed.
func (s *Store) ApplyAsync(ops []Op) (ApplyResult, Durable, error) {
	return s.applyAsync(ops, true)
}

func (s *Store) applyAsync(ops []Op, provisional bool) (ApplyResult, Durable, error) {
	if s.readOnly {
		return ApplyResult{}, Durable{}, ErrReadOnly
	}
	s.logMu.Lock()
	p, err := s.log(ops)
	upTo := s.wal.written
	var res ApplyResult
	if err == nil && provisional {
		// Under logMu, before a commit can take the plan and fill in
		// p.res.
		res = p.provisional()
	}
	s.logMu.Unlock()
	if err != nil {
		return ApplyResult{}, Durable{}, err
	}
	if len(p.logged) == 0 {
		return p.finish(), Durable{}, nil
	}
	s.wal.startSync()
	if provisional {
		return res, Durable{s: s, upTo: upTo}, s.settleLater(p.upTo)
	}
	if err := s.materialise(p.upTo); err != nil {
		return ApplyResult{}, Durable{}, err
	}
	return p.finish(), Durable{s: s, upTo: upTo}, nil
}

// provisional returns the outcome of a plan whose ops are left pending:
// logged ops are applied unless a name in them is invalid. Callers hold
// logMu.
func (p *plan) provisional() ApplyResult {
	res := p.finish()
	res.Ops = slices.Clone(res.Ops)
	for j, i := range p.order {
		r := OpResult{Status: StatusApplied}
		if _, err := checkPayload(p.logged[j]); err != nil {
			r = OpResult{Status: StatusLogged, Reason: err}
		}
		res.Ops[i] = r
		res.Applied++
	}
	return res
}

// settleLater leaves the ops logged up to upTo pending, as Receive does,
// and commits them now only when too many are pending.
func (s *Store) settleLater(upTo int64) error {
	if upTo-s.committedOps.Load() > pendingMax {
		return s.materialise(upTo)
	}
	s.armSettle()
	return nil
}

// Received is the outcome of Receive.
type Received struct {
	Logged  []Op              // the ops logged, in log order
	Missing []Range           // per origin, the seqs to fetch before ops that did not follow on
	Version map[string]uint64 // version vector after the batch
}

// Receive logs ops, as Apply does, and leaves them to be materialised
// later.
func (s *Store) Receive(ops []Op) (Received, error) {
	if s.readOnly {
		return Received{}, ErrReadOnly
	}
	s.logMu.Lock()
	p, err := s.log(ops)
	s.logMu.Unlock()
	if err != nil {
		return Received{}, err
	}
	// A peer that pushes faster than this server commits waits here for a
	// commit, so pending ops stay few.
	if len(p.logged) > 0 {
		if err := s.settleLater(p.upTo); err != nil {
			return Received{}, err
		}
	}
	// Not p.finish: a commit may be filling in p.res right now.
	return Received{Logged: p.logged, Missing: p.missing(), Version: maps.Clone(p.version)}, nil
}

// settle materialises pending ops, so that a read returns every op
// logged before it began.
func (s *Store) settle() {
	_ = s.materialise(s.loggedOps.Load()) // a failure is recorded and refuses later writes
}

// armSettle starts the timer that materialises pending ops when nothing
// else does.
func (s *Store) armSettle() {
	s.trimMu.Lock()
	defer s.trimMu.Unlock()
	if s.closed || s.settleTimer != nil {
		return
	}
	s.settleTimer = time.AfterFunc(s.settleAfter, func() {
		s.trimMu.Lock()
		s.settleTimer = nil
		s.trimMu.Unlock()
		s.settle()
	})
}

// log plans a batch, appends the ops it logs to the write-ahead log and
// queues them to be materialised. Callers hold logMu.
func (s *Store) log(ops []Op) (*plan, error) {
	if err := s.failure(); err != nil {
		return nil, err
	}
	p := s.plan(ops)
	if len(p.logged) == 0 {
		return p, nil
	}
	if err := s.wal.append(p.logged); err != nil {
		return nil, s.fail(fmt.Errorf("store: failed to write the log: %w", err))
	}
	p.end = s.wal.end
	s.mu.Lock()
	s.version = maps.Clone(p.version)
	s.mu.Unlock()
	s.pending = append(s.pending, p)
	s.countRIDs(p, 1)
	p.upTo = s.loggedOps.Add(int64(len(p.logged)))
	return p, nil
}

// materialise returns once the first upTo ops logged by this process are
// committed to the bbolt file, by this call or by another. It commits
// every queued plan in one transaction, in log order. Logging goes on
// meanwhile, so a peer's push waits for a commit only when Receive finds
// more than pendingMax ops pending. A failure leaves logged ops out of the
// file, so the store rejects later writes. The next Open replays them from
// the log.
func (s *Store) materialise(upTo int64) error {
	if s.committedOps.Load() >= upTo {
		return s.failure()
	}

	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if s.committedOps.Load() >= upTo {
		return s.failure()
	}

	// The plans leave the queue only once committed, so a lookup that
	// searches the queue before the file finds every logged op.
	s.logMu.Lock()
	plans := slices.Clone(s.pending)
	s.logMu.Unlock()
	if len(plans) == 0 {
		return s.failure()
	}
	last := plans[len(plans)-1]
	err := s.commit(plans, &last.end)

	s.logMu.Lock()
	for _, p := range plans {
		s.countRIDs(p, -1)
	}
	// Shift the rest down and clear the tail: a slice of the old array
	// would keep every committed plan, and its ops, reachable.
	n := copy(s.pending, s.pending[len(plans):])
	clear(s.pending[n:])
	s.pending = s.pending[:n]
	s.logMu.Unlock()

	if err != nil {
		return s.fail(err)
	}
	s.committedOps.Store(last.upTo)
	return nil
}

// pendingRID returns the ops logged and not yet committed that carry rid
// and lie within the horizon of slice.
func (s *Store) pendingRID(rid string, slice int64) []Op {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if s.pendingRIDs[rid] == 0 {
		return nil
	}
	var found []Op
	for _, p := range s.pending {
		for _, op := range p.logged {
			if op.RID == rid && within(sliceOf(op.Time), slice, ridHorizon) {
				found = append(found, op)
			}
		}
	}
	return found
}

// countRIDs adds delta to the count of each request id among p's logged
// ops. The caller holds logMu.
func (s *Store) countRIDs(p *plan, delta int) {
	for _, op := range p.logged {
		if op.RID == "" {
			continue
		}
		if n := s.pendingRIDs[op.RID] + delta; n > 0 {
			s.pendingRIDs[op.RID] = n
		} else {
			delete(s.pendingRIDs, op.RID)
		}
	}
}

// Durable waits for a batch of ApplyAsync to reach the disk.
type Durable struct {
	s    *Store
	upTo int64 // log bytes written by this process that must be synced
}

// Wait returns once the batch is synced, or the sync's error. After a
// failed sync the store refuses every later write.
func (d Durable) Wait() error {
	if d.s == nil {
		return nil
	}
	if err := d.s.wal.syncUpTo(d.upTo); err != nil {
		return d.s.fail(fmt.Errorf("store: failed to sync the log: %w", err))
	}
	return nil
}

// syncFailed returns the function that refuses every later write once a
// sync of the log has failed, even one that no writer waited for. With
// Options.SyncEvery most syncs are such, and a writer whose ops the
// failed sync covered would find the next sync successful.
func (s *Store) syncFailed(log *slog.Logger) func(error) {
	return func(err error) {
		first := s.failure() == nil
		s.fail(fmt.Errorf("store: failed to sync the log: %w", err))
		if first && log != nil {
			log.Error("log sync failed", "err", err, "writes", "refused")
		}
	}
}

// fail records the first error that leaves the disk in an unknown state,
// and returns the recorded one.
func (s *Store) fail(err error) error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if s.failed == nil {
		s.failed = err
	}
	return s.failed
}

func (s *Store) failure() error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	return s.failed
}

// plan is one batch sorted and checked against the version vector: the ops
// that extend their origin's log, and the outcome of the others.
type plan struct {
	order    []int // index in the batch of each logged op
	logged   []Op
	res      ApplyResult
	version  map[string]uint64 // after the batch
	firstGap map[string]uint64
	end      walPos // log position after the batch
	upTo     int64  // ops logged by this process up to this batch
}

// plan decides which ops of a batch the store logs. Callers hold logMu.
func (s *Store) plan(ops []Op) *plan {
	s.mu.RLock()
	version := maps.Clone(s.version)
	s.mu.RUnlock()

	order := make([]int, len(ops))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(ops[a].Origin, ops[b].Origin), cmp.Compare(ops[a].Seq, ops[b].Seq))
	})

	p := &plan{res: ApplyResult{Ops: make([]OpResult, len(ops))}, version: version, firstGap: make(map[string]uint64)}
	for _, i := range order {
		op := ops[i]
		if err := checkIdentity(op); err != nil {
			p.res.Ops[i] = OpResult{Status: StatusInvalid, Reason: err}
			continue
		}
		have := version[op.Origin]
		switch {
		case op.Seq <= have:
			p.res.Ops[i].Status = StatusDuplicate
		case op.Seq > have+1:
			p.res.Ops[i].Status = StatusGap
			if _, seen := p.firstGap[op.Origin]; !seen {
				p.firstGap[op.Origin] = op.Seq
			}
		default:
			p.order = append(p.order, i)
			p.logged = append(p.logged, op)
			version[op.Origin] = op.Seq
		}
	}
	return p
}

// commit materialises the logged ops of plans, in order, in one bbolt
// transaction, and records end, when set, as the log position the file
// holds up to. Callers hold commitMu.
func (s *Store) commit(plans []*plan, end *walPos) error {
	s.mu.RLock()
	counts := s.counts
	s.mu.RUnlock()

	var rids *ridTx
	var renamed []nameRef
	applied := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		rids = newRIDTx(s.rids, tx.Bucket(bucketRIDs), s.now().UnixNano())
		a := newApplier(tx, &counts, rids)
		defer func() { renamed = a.renamed }()
		for _, p := range plans {
			for j, i := range p.order {
				r, err := a.apply(p.logged[j])
				if err != nil {
					return err
				}
				p.res.Ops[i] = r
				p.res.Applied++
				applied++
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := rids.flush(meta); err != nil {
			return err
		}
		if end != nil {
			if err := meta.Put(metaWAL, end.encode()); err != nil {
				return err
			}
		}
		return meta.Put(metaCounts, encodeCounts(counts))
	})
	switch {
	case rids == nil: // the transaction never began
	case err != nil:
		rids.rollback()
	default:
		rids.commit()
	}
	if err != nil {
		return fmt.Errorf("store: failed to apply %d ops: %w", applied, err)
	}
	s.names.drop(renamed)

	s.mu.Lock()
	s.counts = counts
	s.mu.Unlock()
	s.touch(applied)
	s.trimAfterWrite()
	s.armIdle()
	return nil
}

// armIdle restarts the countdown to flushIdle.
func (s *Store) armIdle() {
	s.trimMu.Lock()
	defer s.trimMu.Unlock()
	if s.closed {
		return
	}
	if s.idleTimer == nil {
		s.idleTimer = time.AfterFunc(idleAfter, s.flushIdle)
		return
	}
	s.idleTimer.Reset(idleAfter)
}

// flushIdle writes every request id held in memory to the file, in chunks
// of one transaction each, and returns the memory that the burst before
// left to the operating system. A process that collects garbage rarely
// (common.TuneGC) would otherwise keep the heap of the burst while idle.
func (s *Store) flushIdle() {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	before := s.rids.refs
	now := s.now().UnixNano()
	for range 1 + before/ridFlushChunk {
		if s.failure() != nil || s.rids.refs == 0 {
			break
		}
		var rids *ridTx
		err := s.db.Update(func(tx *bolt.Tx) error {
			rids = newRIDTx(s.rids, tx.Bucket(bucketRIDs), now)
			rids.target = max(rids.target, sliceOf(now))
			s.rids.forced = rids.target
			return rids.flush(tx.Bucket(bucketMeta))
		})
		switch {
		case rids == nil:
			return
		case err != nil:
			rids.rollback()
			_ = s.fail(fmt.Errorf("store: failed to write request ids: %w", err))
			return
		default:
			rids.commit()
		}
	}
	debug.FreeOSMemory()
}

// finish completes the result with the gaps and the version vector.
func (p *plan) finish() ApplyResult {
	res := p.res
	res.Missing = p.missing()
	res.Version = maps.Clone(p.version)
	return res
}

// missing lists per origin the seqs to fetch before the batch's gaps.
func (p *plan) missing() []Range {
	var missing []Range
	for origin, seq := range p.firstGap {
		missing = append(missing, Range{Origin: origin, From: p.version[origin] + 1, To: seq - 1})
	}
	slices.SortFunc(missing, func(a, b Range) int { return cmp.Compare(a.Origin, b.Origin) })
	return missing
}
