package store

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestSyncPaceIgnoresLoneSlowSync(t *testing.T) {
	var p syncPace
	now := time.Unix(1_700_000_000, 0)
	if !p.keep(now) {
		t.Fatal("the first sync does not keep its processor")
	}
	for i := range 100 {
		d := 300 * time.Microsecond
		if i%10 == 0 {
			d = 20 * time.Millisecond
		}
		p.observe(now, d, true)
		if !p.keep(now) {
			t.Fatalf("sync %d: one slow sync in ten stopped syncs keeping the processor", i)
		}
	}
}

// TestSyncPaceBlocksUntilFastAgain feeds blocking syncs that go on timing
// the disk: first slow ones, then fast ones. Syncs must keep the
// processor again only after the given number of fast ones.
func TestSyncPaceBlocksUntilFastAgain(t *testing.T) {
	cases := []struct {
		name      string
		slow      []time.Duration
		fastUntil int // fast syncs after which syncs keep the processor
	}{
		{"eight slow syncs", []time.Duration{5, 5, 5, 5, 5, 5, 5, 5}, 4},
		{"one stalled sync", []time.Duration{600}, 8},
	}
	for _, c := range cases {
		var p syncPace
		now := time.Unix(1_700_000_000, 0)
		for _, ms := range c.slow {
			p.observe(now, ms*time.Millisecond, false)
		}
		for fast := 1; fast <= c.fastUntil; fast++ {
			p.observe(now, 300*time.Microsecond, false)
			if keeps := p.keep(now); keeps != (fast == c.fastUntil) {
				t.Errorf("%s: after %d fast syncs, keep = %v, want %v", c.name, fast, keeps, fast == c.fastUntil)
			}
		}
	}
}

func TestSyncPaceStallPausesAndDoubles(t *testing.T) {
	var p syncPace
	now := time.Unix(1_700_000_000, 0)
	fast := func() {
		for range 8 {
			p.observe(now, 300*time.Microsecond, false)
		}
	}

	p.observe(now, 200*time.Millisecond, true)
	fast()
	if p.keep(now.Add(stallPause - time.Second)) {
		t.Fatal("a sync keeps its processor within a minute of a stall")
	}
	now = now.Add(stallPause)
	if !p.keep(now) {
		t.Fatal("no sync keeps its processor a minute after a lone stall")
	}

	// A second stall pauses twice as long.
	p.observe(now, 200*time.Millisecond, true)
	fast()
	if p.keep(now.Add(2*stallPause - time.Second)) {
		t.Fatal("a sync keeps its processor within two minutes of a second stall")
	}
	if !p.keep(now.Add(2 * stallPause)) {
		t.Fatal("no sync keeps its processor two minutes after a second stall")
	}
}

func TestSyncPaceStallsForgottenAfterAnHour(t *testing.T) {
	var p syncPace
	now := time.Unix(1_700_000_000, 0)
	p.observe(now, 300*time.Millisecond, true)

	// A stall more than maxStallPause after the last pauses a minute, not
	// two.
	now = now.Add(maxStallPause + time.Minute)
	p.observe(now, 300*time.Millisecond, true)
	for range 8 {
		p.observe(now, 300*time.Microsecond, false)
	}
	if !p.keep(now.Add(stallPause)) {
		t.Fatalf("no sync keeps its processor a minute after a stall an hour after the last; %d stalls", p.stalls)
	}
}

// TestSyncPaceExcusesStop stalls a kept sync and then reports the process
// continued after a stop that began during it: the stall pause ends. A
// continue from before the stall leaves the pause running.
func TestSyncPaceExcusesStop(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	var resumed time.Time
	p := syncPace{resumed: func() time.Time { return resumed }}

	resumed = start.Add(-time.Second) // a stop before this sync
	p.observe(start, 3*time.Second, true)
	now := start.Add(3 * time.Second)
	if p.keep(now) {
		t.Fatal("a sync keeps its processor right after a stall")
	}

	resumed = start.Add(2900 * time.Millisecond)
	if !p.keep(now) {
		t.Fatal("a stall that a stop explains still pauses kept syncs")
	}
	if p.stalls != 0 {
		t.Errorf("stalls = %d after the excused stall, want 0", p.stalls)
	}

	// A real stall afterwards pauses for the first stall's time.
	p.observe(now, 300*time.Millisecond, true)
	for range 8 {
		p.observe(now, 300*time.Microsecond, false)
	}
	if p.keep(now.Add(stallPause - time.Second)) {
		t.Fatal("a stall with no stop does not pause kept syncs")
	}
	if !p.keep(now.Add(stallPause)) {
		t.Fatal("the stall after an excused one paused longer than a first stall")
	}
}

// TestSyncPaceWarnsOnlyOfUnexcusedStalls checks that a stall that a stop
// explains logs no warning, and that one no stop explains logs it once
// reportDelay has passed.
func TestSyncPaceWarnsOnlyOfUnexcusedStalls(t *testing.T) {
	var logs bytes.Buffer
	start := time.Unix(1_700_000_000, 0)
	var resumed time.Time
	p := syncPace{log: slog.New(slog.NewTextHandler(&logs, nil)), resumed: func() time.Time { return resumed }}

	p.observe(start, time.Second, true)
	resumed = start.Add(900 * time.Millisecond)
	p.keep(start.Add(time.Second + reportDelay))
	if strings.Contains(logs.String(), "stalled the server") {
		t.Errorf("an excused stall was warned of:\n%s", logs.String())
	}

	later := start.Add(time.Minute)
	p.observe(later, time.Second, true)
	end := later.Add(time.Second)
	p.keep(end)
	if strings.Contains(logs.String(), "stalled the server") {
		t.Error("a stall was warned of before a stop could excuse it")
	}
	p.keep(end.Add(reportDelay))
	if n := strings.Count(logs.String(), "stalled the server"); n != 1 {
		t.Errorf("a stall no stop explains was warned of %d times, want 1:\n%s", n, logs.String())
	}
}
