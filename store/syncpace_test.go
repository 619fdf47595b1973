package store

import (
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

func TestSyncPaceSlowDiskBlocks(t *testing.T) {
	var p syncPace
	now := time.Unix(1_700_000_000, 0)
	for range 8 {
		p.observe(now, 5*time.Millisecond, false)
	}
	if p.keep(now) {
		t.Fatal("a sync keeps its processor after eight slow syncs")
	}

	// Blocking syncs go on timing the disk, which is fast again. Once four
	// of the last eight were fast, syncs keep the processor.
	for i := range 3 {
		p.observe(now, 100*time.Microsecond, false)
		if p.keep(now) {
			t.Fatalf("a sync keeps its processor with %d fast syncs of eight", i+1)
		}
	}
	p.observe(now, 100*time.Microsecond, false)
	if !p.keep(now) {
		t.Fatal("syncs do not keep the processor with four fast syncs of eight")
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

func TestSyncPaceStallInWindowBlocks(t *testing.T) {
	var p syncPace
	now := time.Unix(1_700_000_000, 0)
	p.observe(now, 600*time.Millisecond, false)
	for i := range 7 {
		p.observe(now, 300*time.Microsecond, false)
		if p.keep(now) {
			t.Fatalf("a sync keeps its processor %d syncs after a blocking sync of 600 ms", i+1)
		}
	}
	p.observe(now, 300*time.Microsecond, false)
	if !p.keep(now) {
		t.Fatal("syncs do not keep the processor once the 600 ms sync left the window")
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
