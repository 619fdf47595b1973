package clock

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestPhysicalSkewApplied(t *testing.T) {
	const skew = 2 * time.Hour
	p := NewPhysical(PhysicalConfig{Skew: skew})

	if got := p.Offset(); got != skew {
		t.Fatalf("Offset() = %v, want %v", got, skew)
	}
	before := time.Now()
	now := p.Now()
	after := time.Now()
	if now.Before(before.Add(skew)) || now.After(after.Add(skew)) {
		t.Fatalf("Now() = %v, want between %v and %v", now, before.Add(skew), after.Add(skew))
	}
}

func TestPhysicalAdjustLogsOffsets(t *testing.T) {
	logger, logs := newRecordingLogger(t)
	p := NewPhysical(PhysicalConfig{Skew: 300 * time.Millisecond, Logger: logger})

	p.Adjust(-450 * time.Millisecond)
	if got, want := p.Offset(), -150*time.Millisecond; got != want {
		t.Fatalf("Offset() after Adjust(-450ms) = %v, want %v", got, want)
	}
	p.Adjust(150 * time.Millisecond)
	if got := p.Offset(); got != 0 {
		t.Fatalf("Offset() after Adjust(+150ms) = %v, want 0", got)
	}

	records := logs.withMessage("clock adjusted")
	if len(records) != 2 {
		t.Fatalf("logged %d 'clock adjusted' records, want 2", len(records))
	}
	first := records[0]
	if first["offset_before_ms"] != 300.0 {
		t.Errorf("offset_before_ms = %v, want 300", first["offset_before_ms"])
	}
	if first["offset_after_ms"] != -150.0 {
		t.Errorf("offset_after_ms = %v, want -150", first["offset_after_ms"])
	}
	if first["delta_ms"] != -450.0 {
		t.Errorf("delta_ms = %v, want -450", first["delta_ms"])
	}
}

func TestPhysicalStampSurvivesNegativeAdjust(t *testing.T) {
	p := NewPhysical(PhysicalConfig{})

	first := p.Stamp()
	p.Adjust(-500 * time.Millisecond)
	if now := p.Now(); !now.Before(first) {
		t.Fatalf("Now() = %v after Adjust(-500ms), want before the stamp %v", now, first)
	}
	second := p.Stamp()
	if second.Before(first) {
		t.Fatalf("Stamp() went backwards: %v after %v", second, first)
	}

	// Once the clock is ahead again, stamps follow it forward.
	p.Adjust(time.Second)
	third := p.Stamp()
	if !third.After(second) {
		t.Fatalf("Stamp() = %v after Adjust(+1s), want after %v", third, second)
	}
	if third.Location() != time.UTC {
		t.Errorf("Stamp() location = %v, want UTC", third.Location())
	}
}

func TestPhysicalStampConcurrent(t *testing.T) {
	const goroutines, stamps = 8, 2000
	p := NewPhysical(PhysicalConfig{})
	errs := make(chan string, goroutines+1)

	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			var previous time.Time
			for range stamps {
				stamp := p.Stamp()
				if stamp.Before(previous) {
					errs <- "Stamp() went backwards: " + stamp.String() + " after " + previous.String()
					return
				}
				previous = stamp
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			if i%2 == 0 {
				p.Adjust(-500 * time.Millisecond)
			} else {
				p.Adjust(400 * time.Millisecond)
			}
		}
	})
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

func TestPhysicalJitterBounded(t *testing.T) {
	const (
		skew   = time.Second
		jitter = 20 * time.Millisecond
		drifts = 5
	)
	logger, logs := newRecordingLogger(t)
	p := NewPhysical(PhysicalConfig{
		Skew:        skew,
		Jitter:      jitter,
		JitterEvery: time.Millisecond,
		Rand:        rand.New(rand.NewPCG(1, 2)),
		Logger:      logger,
	})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()

	sawDrifts := waitFor(5*time.Second, func() bool {
		return len(logs.withMessage("clock drift")) >= drifts
	})
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancel")
	}
	if !sawDrifts {
		t.Fatalf("saw %d 'clock drift' records within 5s, want %d", len(logs.withMessage("clock drift")), drifts)
	}

	// Run has returned, so the records are all the drifts it applied.
	records := logs.withMessage("clock drift")
	limit := float64(jitter) / float64(time.Millisecond)
	moved := false
	for i, attrs := range records {
		step, ok := attrs["drift_ms"].(float64)
		if !ok {
			t.Fatalf("record %d: drift_ms = %v, want a float64", i, attrs["drift_ms"])
		}
		if step < -limit || step > limit {
			t.Errorf("record %d: drift %vms exceeds the %vms jitter", i, step, limit)
		}
		moved = moved || step != 0
	}
	if !moved {
		t.Error("no drift moved the clock")
	}

	offset := p.Offset()
	maxDrift := time.Duration(len(records)) * jitter
	if offset < skew-maxDrift || offset > skew+maxDrift {
		t.Errorf("Offset() = %v after %d drifts, want within %v of %v", offset, len(records), maxDrift, skew)
	}
	last := records[len(records)-1]["offset_ms"]
	if want := float64(offset) / float64(time.Millisecond); last != want {
		t.Errorf("last logged offset_ms = %v, want %v", last, want)
	}
}

func TestPhysicalRunWithoutJitter(t *testing.T) {
	p := NewPhysical(PhysicalConfig{Skew: -time.Second, JitterEvery: time.Millisecond})
	if p.every != time.Millisecond {
		t.Fatalf("JitterEvery not applied: every = %v", p.every)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancel")
	}
	if got := p.Offset(); got != -time.Second {
		t.Errorf("Offset() = %v with no jitter, want -1s", got)
	}
}

func TestPhysicalDefaults(t *testing.T) {
	p := NewPhysical(PhysicalConfig{Jitter: -time.Second})
	if p.every != DefaultJitterEvery {
		t.Errorf("every = %v, want %v", p.every, DefaultJitterEvery)
	}
	if p.jitter != 0 {
		t.Errorf("jitter = %v for a negative Jitter, want 0", p.jitter)
	}
	if p.log == nil {
		t.Error("nil Logger was not replaced")
	}
	if p.rng == nil {
		t.Error("nil Rand was not replaced")
	}
}

// waitFor polls cond every millisecond until it returns true or timeout
// passes, and returns the last result.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}
