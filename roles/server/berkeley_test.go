package server

import (
	"log/slog"
	"math"
	"testing"
	"time"

	"msgsys/clock"
	"msgsys/proto"
)

// spread is the largest difference between the servers' clock offsets.
func spread(c *cluster) time.Duration {
	lo, hi := time.Duration(math.MaxInt64), time.Duration(math.MinInt64)
	for _, n := range c.servers {
		offset := n.server.cfg.Clocks.Physical.Offset()
		lo, hi = min(lo, offset), max(hi, offset)
	}
	return hi - lo
}

func startSkewedCluster(t *testing.T, skews ...time.Duration) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), servers: map[string]*node{}}
	c.startInfrastructure()
	for i, skew := range skews {
		cfg := c.config(serverName(i + 1))
		cfg.Clocks = proto.Clocks{Lamport: new(clock.Lamport), Physical: newSkewedClock(skew)}
		cfg.BerkeleyEvery = time.Hour // rounds run only when the test asks
		s := c.startWith(cfg)
		waitFor(t, 5*time.Second, "registration", func() bool { return s.Rank() > 0 })
	}
	c.waitServing(len(skews))
	return c
}

func TestBerkeleyRoundAlignsSkewedClocks(t *testing.T) {
	c := startSkewedCluster(t, -time.Second, 400*time.Millisecond, time.Second)
	if before := spread(c); before < time.Second {
		t.Fatalf("spread before the round is %v", before)
	}
	coordinator := c.servers["server-3"].server
	a, _ := coordinator.Coordinator()
	coordinator.berkeleyRound(t.Context(), a.Epoch)

	// The corrections travel as requests; wait until all have arrived.
	waitFor(t, 2*time.Second, "clocks within 5ms", func() bool { return spread(c) < 5*time.Millisecond })
	t.Logf("spread after one round: %v", spread(c))
}

func TestBerkeleyLeavesOutAnOutlier(t *testing.T) {
	c := startSkewedCluster(t, 0, 4*time.Hour, 200*time.Millisecond)
	coordinator := c.servers["server-3"].server
	a, _ := coordinator.Coordinator()
	coordinator.berkeleyRound(t.Context(), a.Epoch)

	waitFor(t, 2*time.Second, "the outlier corrected", func() bool { return spread(c) < 5*time.Millisecond })
	// The average excludes the +4h reading, so the target stays between
	// the two sane clocks instead of moving by hours.
	offset := c.servers["server-1"].server.cfg.Clocks.Physical.Offset()
	if offset < 0 || offset > 200*time.Millisecond {
		t.Fatalf("server-1 offset after the round is %v, want between 0 and 200ms", offset)
	}
}

func newSkewedClock(skew time.Duration) *clock.Physical {
	return clock.NewPhysical(clock.PhysicalConfig{Skew: skew})
}

// TestRoundLogLevel checks that Berkeley rounds that correct little go to
// the debug level between two info lines berkeleyLogEvery apart.
func TestRoundLogLevel(t *testing.T) {
	s := &Server{}
	small := map[string]time.Duration{"server-1": 200 * time.Microsecond, "server-2": -300 * time.Microsecond}
	if got := s.roundLogLevel(small); got != slog.LevelInfo {
		t.Errorf("first round logged at %v, want info", got)
	}
	if got := s.roundLogLevel(small); got != slog.LevelDebug {
		t.Errorf("a small round right after logged at %v, want debug", got)
	}
	large := map[string]time.Duration{"server-1": -2 * time.Millisecond}
	if got := s.roundLogLevel(large); got != slog.LevelInfo {
		t.Errorf("a round correcting 2 ms logged at %v, want info", got)
	}
	s.roundLogged.Store(time.Now().Add(-berkeleyLogEvery).UnixNano())
	if got := s.roundLogLevel(small); got != slog.LevelInfo {
		t.Errorf("a small round %v after the last info line logged at %v, want info", berkeleyLogEvery, got)
	}
}

func TestFormatMillisHasNoNegativeZero(t *testing.T) {
	cases := map[time.Duration]string{
		-3 * time.Microsecond:    "0.00ms",
		3 * time.Microsecond:     "0.00ms",
		-1234 * time.Microsecond: "-1.23ms",
		1000 * time.Millisecond:  "1000.00ms",
	}
	for d, want := range cases {
		if got := formatMillis(d); got != want {
			t.Errorf("formatMillis(%v) = %q, want %q", d, got, want)
		}
	}
}
