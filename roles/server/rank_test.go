package server

import (
	"testing"
	"time"

	"msgsys/internal/testkit"
)

// TestRankFlagHeldElsewhereIgnored starts server-2 with the rank that
// server-1 already holds. The reference gives server-2 another rank, and
// server-2 must run with that rank, the one every other server reads in the
// reference's list, so that no two servers share a rank in elections.
func TestRankFlagHeldElsewhereIgnored(t *testing.T) {
	c := &cluster{t: t, dir: t.TempDir(), servers: make(map[string]*node)}
	c.startInfrastructure()

	cfg := c.config(serverName(1))
	cfg.Rank = 3
	s1 := c.startWith(cfg)
	waitFor(t, 5*time.Second, "server-1 to register", func() bool { return s1.Rank() > 0 })
	if s1.Rank() != 3 {
		t.Fatalf("server-1 rank %d, want 3", s1.Rank())
	}

	cfg = c.config(serverName(2))
	cfg.Rank = 3
	var logs *testkit.Buffer
	cfg.Log, logs = bufferLog(t)
	s2 := c.startWith(cfg)
	c.waitServing(2)

	if s2.Rank() == 3 {
		t.Errorf("server-2 runs with rank 3, which server-1 holds")
	}
	if got := s2.status().Rank; got != s2.Rank() {
		t.Errorf("server-2 status rank %d, want its rank %d", got, s2.Rank())
	}
	var listed int64
	waitFor(t, 5*time.Second, "server-1 listing server-2", func() bool {
		for _, m := range s1.node.Members() {
			if m.Name == serverName(2) {
				listed = m.Rank
				return true
			}
		}
		return false
	})
	if listed != s2.Rank() {
		t.Errorf("reference lists server-2 with rank %d, server-2 runs with %d", listed, s2.Rank())
	}
	if !logs.Contains(`msg="rank flag not granted by the reference" server=server-2 flag=3 rank=4`) {
		t.Error("server-2 did not log that its rank flag was ignored")
	}
}
