//go:build unix

package server

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"msgsys/proto"
)

// TestRecordsContinueAfterStop sends the process the signal that a
// continue after a stop sends, and checks that the time the store's syncs
// read moves on.
func TestRecordsContinueAfterStop(t *testing.T) {
	c := startCluster(t, 1)
	s := c.servers[serverName(1)].server
	before := s.resumed.Load()

	if err := syscall.Kill(os.Getpid(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the continue recorded", func() bool { return s.resumed.Load() > before })
}

// TestNoChannelDecidedRightAfterStop makes the coordinator find that it
// was stopped for a second, shorter than a pause it catches up from. The
// claims it then reads may have been given up by their senders, so for a
// moment it decides none: it replies how long to wait, and the creations
// wait and then succeed, with no election.
func TestNoChannelDecidedRightAfterStop(t *testing.T) {
	// Longer than the default, so that the claim below arrives within it
	// however slowly the test runs.
	c := startClusterWith(t, 2, func(cfg *Config) { cfg.QuietAfterStop = 1500 * time.Millisecond })
	s1, s2 := c.servers[serverName(1)].server, c.servers[serverName(2)].server
	before, _ := s1.Coordinator()

	s2.awake.Store(time.Now().Add(-time.Second).UnixNano())
	if err := syscall.Kill(os.Getpid(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the stop recorded", func() bool { return s2.quietUntil.Load() > 0 })
	if s1.quietUntil.Load() != 0 {
		t.Error("server-1, which was not stopped, stopped deciding too")
	}

	env, err := s1.ask(context.Background(), "claim", s2.Addr(), serviceClaim, &ClaimRequest{Channel: "logo-depois", RID: "logo-depois"}, time.Second)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	if proto.IsSuccess(status(env)) {
		t.Errorf("the coordinator decided a claim right after a stop of a second: %v", env.Data)
	}
	// The claimant must not take the coordinator for replaced: that
	// would start an election for each claim during the quiet time.
	if rejected, _ := env.Data["notcoordinator"].(bool); rejected {
		t.Errorf("the quiet coordinator replied notcoordinator: %v", env.Data)
	}
	if ms, _, _ := env.Data.OptInt("retryafter"); ms <= 0 || ms > 1500 {
		t.Errorf("retryafter = %d ms, want the quiet time left, at most 1500", ms)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range []*Server{s1, s2} { // through a peer, and on the coordinator itself
		name := "depois-de-" + s.cfg.Name
		if err := s.createChannel(ctx, name, name); err != nil {
			t.Errorf("%s: creation right after the stop = %v, want it to wait and succeed", s.cfg.Name, err)
		}
	}
	for _, s := range []*Server{s1, s2} {
		if a, _ := s.Coordinator(); a != before {
			t.Errorf("%s: coordinator %v after creations during the quiet time, want %v still", s.cfg.Name, a, before)
		}
	}
}
