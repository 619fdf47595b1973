package server

import (
	"strings"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/lang"
	"msgsys/roles/reference"
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

// TestRankRejectionLoggedInEnglish starts server-2 at a full registry of a
// reference whose --lang is pt. The server's log is English, so it must
// quote the reference's English reason.
func TestRankRejectionLoggedInEnglish(t *testing.T) {
	if reference.DefaultConfig().Lang != lang.PT {
		t.Fatal("the test reference no longer writes Portuguese by default")
	}
	c := &cluster{t: t, dir: t.TempDir(), servers: make(map[string]*node), maxServers: 1}
	c.startInfrastructure()
	s1 := c.start(serverName(1))
	waitFor(t, 5*time.Second, "server-1 to register", func() bool { return s1.Rank() > 0 })

	cfg := c.config(serverName(2))
	var logs *testkit.Buffer
	cfg.Log, logs = bufferLog(t)
	c.startWith(cfg)
	waitFor(t, 5*time.Second, "server-2 to log the rejection", func() bool {
		return logs.Contains(`msg="rank request rejected"`)
	})
	line := logs.Lines(`msg="rank request rejected"`)[0]
	if !strings.Contains(line, "registry full: the reference already has the maximum of 1 registered servers") {
		t.Errorf("rejection logged as %q, want the reference's English reason", line)
	}
	if strings.Contains(line, "registro cheio") {
		t.Errorf("rejection logged in Portuguese: %q", line)
	}
}
