package store

import "time"

// A blocking system call gives the goroutine's processor to another
// thread, and on return the goroutine waits in the global run queue until
// the processor is free. Under load a server with one processor
// (roles/common.ChildProcs) waited there longer than the sync took, and so
// did every writer of the batch. A sync that keeps its processor stops the
// process instead, which is cheap while syncs take a fraction of a
// millisecond (docs/benchmarks.md). syncPace chooses between the two.

const (
	// slowSync is the time from which a kept sync counts as slow.
	slowSync = time.Millisecond
	// retimeEvery is how often one sync keeps its processor while syncs
	// are slow, to time the disk again. A blocking sync's time includes
	// the wait for the processor, so it cannot be used.
	retimeEvery = time.Second
	// stallSync is the time from which one kept sync stops syncs from
	// keeping the processor for stallPause. A server that stands still
	// for half a second misses its peers' acknowledgement deadline
	// (replica.Config.AckTimeout) and is marked lagging.
	stallSync  = 100 * time.Millisecond
	stallPause = time.Minute
)

// syncPace is the record of the last eight syncs that kept their
// processor. Syncs keep it unless most of those were slow, so a lone slow
// sync changes nothing, unless it took stallSync. The log calls it from
// one sync at a time.
type syncPace struct {
	recent     [8]time.Duration // ring of kept sync times, zero before the first
	next       int              // index in recent of the next time
	slow       int              // number of slow times in recent
	blockUntil time.Time        // syncs block before this time
}

// keep reports whether the sync about to start keeps its processor.
func (p *syncPace) keep(now time.Time) bool {
	if now.Before(p.blockUntil) {
		return false
	}
	if 2*p.slow > len(p.recent) {
		// Syncs are slow: this one times the disk, and the next ones
		// block for retimeEvery.
		p.blockUntil = now.Add(retimeEvery)
	}
	return true
}

// observe records the time of one sync that kept its processor.
func (p *syncPace) observe(now time.Time, d time.Duration) {
	if p.recent[p.next] >= slowSync {
		p.slow--
	}
	if d >= slowSync {
		p.slow++
	}
	p.recent[p.next] = d
	p.next = (p.next + 1) % len(p.recent)

	switch {
	case d >= stallSync:
		p.blockUntil = now.Add(stallPause)
	case 2*p.slow > len(p.recent):
		p.blockUntil = now.Add(retimeEvery)
	default:
		p.blockUntil = time.Time{}
	}
}
