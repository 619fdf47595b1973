package clock

import (
	"sync"
	"testing"
)

func TestLamportSequence(t *testing.T) {
	var l Lamport
	if got := l.Value(); got != 0 {
		t.Fatalf("zero value: Value() = %d, want 0", got)
	}
	if got := l.Tick(); got != 1 {
		t.Fatalf("first Tick() = %d, want 1", got)
	}
	if got := l.Witness(10); got != 10 {
		t.Fatalf("Witness(10) = %d, want 10 (max, no +1)", got)
	}
	if got := l.Witness(3); got != 10 {
		t.Fatalf("Witness(3) = %d, want 10 (never lowers)", got)
	}
	if got := l.Witness(10); got != 10 {
		t.Fatalf("Witness(10) on 10 = %d, want 10 (no +1)", got)
	}
	if got := l.Tick(); got != 11 {
		t.Fatalf("Tick() after 10 = %d, want 11", got)
	}
	if got := l.Value(); got != 11 {
		t.Fatalf("Value() = %d, want 11", got)
	}
}

func TestLamportConcurrentTicksUnique(t *testing.T) {
	const goroutines, ticks = 16, 2000
	var l Lamport
	results := make([][]uint64, goroutines)

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			values := make([]uint64, ticks)
			for i := range values {
				values[i] = l.Tick()
			}
			results[g] = values
		})
	}
	wg.Wait()

	seen := make(map[uint64]bool, goroutines*ticks)
	for g, values := range results {
		for i, v := range values {
			if i > 0 && v <= values[i-1] {
				t.Fatalf("goroutine %d: Tick() returned %d after %d", g, v, values[i-1])
			}
			if seen[v] {
				t.Fatalf("Tick() returned %d twice", v)
			}
			seen[v] = true
		}
	}
	if got, want := l.Value(), uint64(goroutines*ticks); got != want {
		t.Fatalf("Value() = %d after %d ticks", got, want)
	}
}

func TestLamportConcurrentWitnessNeverLowers(t *testing.T) {
	const goroutines, rounds = 16, 2000
	var l Lamport
	maxReceived := make([]uint64, goroutines)
	errs := make(chan string, goroutines)

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			var previous uint64
			for i := range rounds {
				// Received clocks jump around, some far behind and some ahead.
				received := uint64((i*7919 + g*104729) % 50000)
				maxReceived[g] = max(maxReceived[g], received)

				got := l.Witness(received)
				if got < received || got < previous {
					errs <- "Witness lowered the clock or returned less than it received"
					return
				}
				previous = got

				tick := l.Tick()
				if tick <= previous {
					errs <- "Tick did not increase the clock"
					return
				}
				previous = tick

				value := l.Value()
				if value < previous {
					errs <- "Value went backwards"
					return
				}
				previous = value
			}
		})
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}

	final := l.Value()
	for g, received := range maxReceived {
		if final < received {
			t.Errorf("final Value() = %d, below %d witnessed by goroutine %d", final, received, g)
		}
	}
	if final < goroutines*rounds {
		t.Errorf("final Value() = %d, below the %d ticks", final, goroutines*rounds)
	}
}

func TestLamportStopsAtMax(t *testing.T) {
	var l Lamport
	l.counter.Store(MaxLamport - 1)
	if got := l.Tick(); got != MaxLamport {
		t.Fatalf("Tick = %d, want MaxLamport", got)
	}
	if got := l.Tick(); got != MaxLamport {
		t.Fatalf("Tick past the maximum = %d, want MaxLamport", got)
	}
}

// TestWitnessStopsAtCeiling receives the largest clocks a message can
// carry: the clock moves to the ceiling once and keeps ticking after it.
func TestWitnessStopsAtCeiling(t *testing.T) {
	var l Lamport
	if got := l.Witness(MaxLamport); got != WitnessCeiling {
		t.Fatalf("Witness(MaxLamport) = %d, want WitnessCeiling", got)
	}
	if got := l.Tick(); got != WitnessCeiling+1 {
		t.Fatalf("Tick after the ceiling = %d, want %d", got, uint64(WitnessCeiling+1))
	}
	if got := l.Witness(1 << 63); got != WitnessCeiling+1 {
		t.Fatalf("Witness(2^63) = %d, want the clock unchanged at %d", got, uint64(WitnessCeiling+1))
	}
	if got := l.Tick(); got != WitnessCeiling+2 {
		t.Fatalf("second Tick = %d, want %d", got, uint64(WitnessCeiling+2))
	}
}

func TestWitnessNearBoundsTheStep(t *testing.T) {
	var l Lamport
	l.Witness(100)
	if got, heldBack := l.WitnessNear(150, 1000); got != 150 || heldBack {
		t.Errorf("WitnessNear(150) = %d, %v; want 150, false", got, heldBack)
	}
	if got, heldBack := l.WitnessNear(MaxLamport, 1000); got != 1150 || !heldBack {
		t.Errorf("WitnessNear(MaxLamport) = %d, %v; want 1150, true", got, heldBack)
	}
	if got, heldBack := l.WitnessNear(10, 1000); got != 1150 || heldBack {
		t.Errorf("WitnessNear(10) = %d, %v; want 1150 unchanged, false", got, heldBack)
	}
	l.Witness(WitnessCeiling - 10)
	if got, heldBack := l.WitnessNear(1<<63, 1000); got != WitnessCeiling || !heldBack {
		t.Errorf("WitnessNear near the ceiling = %d, %v; want WitnessCeiling, true", got, heldBack)
	}
	if got, heldBack := l.WitnessNear(MaxLamport, 1000); got != WitnessCeiling || !heldBack {
		t.Errorf("WitnessNear at the ceiling = %d, %v; want WitnessCeiling, true", got, heldBack)
	}
}
