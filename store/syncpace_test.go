package store

import (
	"testing"
	"time"
)

func TestSyncPaceIgnoresLoneSlowSync(t *testing.T) {
	var p syncPace
	now := time.Unix(1_700_000_000, 0)
	if !p.keep(now) {
		t.Fatal("the first sync does not keep its processor, so it is not timed")
	}
	for i := range 100 {
		d := 300 * time.Microsecond
		if i%10 == 0 {
			d = 20 * time.Millisecond
		}
		p.observe(now, d)
		if !p.keep(now) {
			t.Fatalf("sync %d: one slow sync in ten stopped syncs keeping the processor", i)
		}
	}
}

func TestSyncPaceSlowDiskRetimes(t *testing.T) {
	var p syncPace
	now := time.Unix(1_700_000_000, 0)
	for range 8 {
		p.observe(now, 5*time.Millisecond)
	}
	if p.keep(now.Add(time.Millisecond)) {
		t.Fatal("a sync keeps its processor after eight slow syncs")
	}

	// One sync a second keeps the processor to time the disk, which is
	// fast again. Once four of the last eight were fast, every sync does.
	for i := range 4 {
		now = now.Add(retimeEvery)
		if !p.keep(now) {
			t.Fatalf("second %d: no sync keeps its processor after retimeEvery", i)
		}
		if p.keep(now) {
			t.Fatalf("second %d: a second sync keeps its processor in the same second", i)
		}
		p.observe(now, 100*time.Microsecond)
	}
	if !p.keep(now) {
		t.Fatalf("syncs do not keep the processor with %d slow of 8", p.slow)
	}
}

func TestSyncPaceStallBlocksForAMinute(t *testing.T) {
	var p syncPace
	now := time.Unix(1_700_000_000, 0)
	p.observe(now, 300*time.Microsecond)
	p.observe(now, 200*time.Millisecond)
	if p.keep(now.Add(stallPause - time.Second)) {
		t.Fatal("a sync keeps its processor within a minute of a 200 ms sync")
	}
	if !p.keep(now.Add(stallPause)) {
		t.Fatal("no sync keeps its processor a minute after a lone 200 ms sync")
	}
}
