package store

import (
	"log/slog"
	"time"
)

// A blocking system call gives the goroutine's processor to another
// thread, and on return the goroutine waits in the global run queue until
// the processor is free. Under load a server with one processor
// (roles/common.ChildProcs) waited there longer than the sync took, and so
// did every writer of the batch. A sync that keeps its processor stops the
// process instead, which is cheap while syncs take a fraction of a
// millisecond (docs/benchmarks.md). syncPace chooses between the two.

const (
	// slowSync is the time from which a sync counts as slow. A blocking
	// sync's time includes the wait for the processor, a few tenths of a
	// millisecond under load, so the bound leaves room for it.
	slowSync = 2 * time.Millisecond
	// stallSync is the time from which a sync that keeps the processor
	// stalls the server. The coordinator's peers call an election after
	// two missed checks of 150 ms (election.DefaultConfig), and an in-sync
	// peer is marked lagging after --ack-timeout (500 ms). Syncs of 60 to
	// 100 ms came now and then on ext4 under load, and they harm nothing.
	stallSync = 200 * time.Millisecond
	// stallPause is how long syncs block after a kept sync stalled. Each
	// further stall within maxStallPause of the last doubles it, up to
	// maxStallPause.
	stallPause    = time.Minute
	maxStallPause = time.Hour
)

// syncPace is the record of the last eight syncs, kept or blocking. A sync
// keeps its processor while most of those were fast and none stalled, and
// no stall pause runs. The log calls it from one sync at a time.
type syncPace struct {
	recent     [8]time.Duration // ring of sync times, zero before the first
	next       int              // index in recent of the next time
	stalls     int              // stalls of kept syncs, each within maxStallPause of the one before
	lastStall  time.Time        // when the last stall began
	blockUntil time.Time        // end of the running stall pause, zero when none runs
	log        *slog.Logger     // nil for none

	// resumed returns when the process last continued after a stop, nil
	// if unknown. A stop during a kept sync makes the sync seem to last
	// the whole stop, and the continue arrives after observe, so keep
	// checks for it.
	resumed func() time.Time
	// unreported is the stall whose warning waits, while resumed is
	// known, until a stop has had reportDelay to show up and excuse it.
	unreported *stallReport
}

// stallReport is the warning about a stall that keep logs later.
type stallReport struct {
	end   time.Time // when the stalled sync returned
	sync  time.Duration
	pause time.Duration
}

// reportDelay is how long after a stalled sync its warning waits for the
// continue signal that would excuse it. The signal goroutine runs within
// microseconds of the continue, unless the server is busy.
const reportDelay = 100 * time.Millisecond

// keep reports whether the sync about to start keeps its processor.
func (p *syncPace) keep(now time.Time) bool {
	p.excuseStop()
	if r := p.unreported; r != nil && now.Sub(r.end) >= reportDelay {
		p.unreported = nil
		p.warnStall(r.sync, r.pause)
	}
	if !p.blockUntil.IsZero() {
		if now.Before(p.blockUntil) {
			return false
		}
		p.blockUntil = time.Time{}
		if p.log != nil {
			p.log.Info("log sync pause ended", "stalls", p.stalls)
		}
	}
	slow := 0
	for _, d := range p.recent {
		if d >= stallSync {
			return false
		}
		if d >= slowSync {
			slow++
		}
	}
	return 2*slow <= len(p.recent)
}

// excuseStop ends the running stall pause and removes the stall from the
// record when the process continued after the stalled sync began, because
// then the stop, not the disk, made the sync slow.
func (p *syncPace) excuseStop() {
	if p.blockUntil.IsZero() || p.resumed == nil || !p.resumed().After(p.lastStall) {
		return
	}
	p.blockUntil = time.Time{}
	p.unreported = nil
	p.stalls--
	for i, d := range p.recent {
		if d >= stallSync {
			p.recent[i] = 0
		}
	}
	if p.log != nil {
		p.log.Info("log sync stall was a stop of the process", "stalls", p.stalls)
	}
}

// observe records the time of one sync, and whether it kept its processor.
func (p *syncPace) observe(now time.Time, d time.Duration, keptProcessor bool) {
	p.recent[p.next] = d
	p.next = (p.next + 1) % len(p.recent)
	if !keptProcessor || d < stallSync {
		return
	}

	if now.Sub(p.lastStall) > maxStallPause {
		p.stalls = 0
	}
	pause := min(stallPause<<min(p.stalls, 6), maxStallPause)
	p.stalls++
	p.lastStall = now
	p.blockUntil = now.Add(pause)
	if p.resumed != nil {
		p.unreported = &stallReport{end: now.Add(d), sync: d, pause: pause}
		return
	}
	p.warnStall(d, pause)
}

func (p *syncPace) warnStall(d, pause time.Duration) {
	if p.log != nil {
		p.log.Warn("log sync stalled the server", "sync_ms", d.Milliseconds(), "pause", pause, "stalls", p.stalls)
	}
}
