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
)

// syncPace is the record of the last eight syncs that kept their
// processor. Syncs keep it unless most of those were slow, so a lone slow
// sync changes nothing. The log calls it from one sync at a time.
type syncPace struct {
	recent [8]time.Duration // ring of kept sync times, zero before the first
	next   int              // index in recent of the next time
	slow   int              // number of slow times in recent
	retime time.Time        // while syncs are slow, when one keeps its processor again
}

// keep reports whether the sync about to start keeps its processor.
func (p *syncPace) keep(now time.Time) bool {
	if 2*p.slow <= len(p.recent) {
		return true
	}
	if now.Before(p.retime) {
		return false
	}
	p.retime = now.Add(retimeEvery)
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
	if 2*p.slow > len(p.recent) {
		p.retime = now.Add(retimeEvery)
	}
}
