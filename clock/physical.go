package clock

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultJitterEvery is the drift interval used when PhysicalConfig leaves
// JitterEvery at zero.
const DefaultJitterEvery = 5 * time.Second

// PhysicalConfig is the configuration of a simulated physical clock. Its
// zero value is a clock that follows the system time exactly.
type PhysicalConfig struct {
	Skew        time.Duration // initial offset from the system time (--clock-skew)
	Jitter      time.Duration // max drift either way added each JitterEvery (--clock-jitter), none if 0 or less
	JitterEvery time.Duration // interval between drifts, DefaultJitterEvery if 0 or less
	Rand        *rand.Rand    // source of the drift, a randomly seeded one if nil
	Logger      *slog.Logger  // destination of the logs, discarded if nil
}

// Physical is a process's physical clock, the system time plus an offset.
// The offset starts at the configured skew, drifts while Run runs, and moves
// by the corrections of Berkeley rounds. All methods are safe for concurrent
// use.
type Physical struct {
	offset    atomic.Int64 // nanoseconds added to the system time
	lastStamp atomic.Int64 // Unix nanoseconds of the latest Stamp result

	jitter time.Duration
	every  time.Duration
	log    *slog.Logger

	randMu sync.Mutex // guards rng, which is not safe for concurrent use
	rng    *rand.Rand
}

// NewPhysical returns a clock whose offset is cfg.Skew. Drift starts only
// when the owner runs Run.
func NewPhysical(cfg PhysicalConfig) *Physical {
	p := &Physical{
		jitter: max(cfg.Jitter, 0),
		every:  cfg.JitterEvery,
		log:    cfg.Logger,
		rng:    cfg.Rand,
	}
	if p.every <= 0 {
		p.every = DefaultJitterEvery
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.rng == nil {
		p.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	p.offset.Store(int64(cfg.Skew))
	return p
}

// Now returns the system time plus the current offset. Successive results
// may go backwards after a negative correction or drift; use Stamp for times
// that are stored.
func (p *Physical) Now() time.Time {
	return time.Now().Add(p.Offset())
}

// Offset returns the current difference between this clock and the system
// time.
func (p *Physical) Offset() time.Duration {
	return time.Duration(p.offset.Load())
}

// Adjust adds delta, a correction from a Berkeley round, to the offset and
// logs the offset before and after.
func (p *Physical) Adjust(delta time.Duration) {
	after := time.Duration(p.offset.Add(int64(delta)))
	before := after - delta
	// Rounds run every few seconds; corrections under a millisecond are
	// routine and logged only at debug level.
	level := slog.LevelInfo
	if delta.Abs() < time.Millisecond {
		level = slog.LevelDebug
	}
	p.log.Log(context.Background(), level, "clock adjusted",
		"delta_ms", milliseconds(delta),
		"offset_before_ms", milliseconds(before),
		"offset_after_ms", milliseconds(after))
}

// Stamp returns the later of Now and the previous Stamp result, in UTC, as
// the timestamp of data the server stores. Results never decrease, even after
// a negative correction, but may repeat until Now catches up again.
func (p *Physical) Stamp() time.Time {
	now := p.Now().UnixNano()
	for {
		last := p.lastStamp.Load()
		if now <= last {
			return time.Unix(0, last).UTC()
		}
		if p.lastStamp.CompareAndSwap(last, now) {
			return time.Unix(0, now).UTC()
		}
	}
}

// Run adds a random drift of at most Jitter, either way, to the offset every
// JitterEvery, and logs each one at debug level. It returns when ctx is
// cancelled. With no jitter configured it only waits for that.
func (p *Physical) Run(ctx context.Context) {
	if p.jitter == 0 {
		<-ctx.Done()
		return
	}
	ticker := time.NewTicker(p.every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			p.drift()
		}
	}
}

// drift adds one random step in [-jitter, +jitter] to the offset.
func (p *Physical) drift() {
	p.randMu.Lock()
	step := time.Duration(p.rng.Int64N(2*int64(p.jitter)+1)) - p.jitter
	p.randMu.Unlock()

	after := time.Duration(p.offset.Add(int64(step)))
	p.log.Debug("clock drift",
		"drift_ms", milliseconds(step),
		"offset_ms", milliseconds(after))
}

// milliseconds converts d to fractional milliseconds for log fields.
func milliseconds(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}
