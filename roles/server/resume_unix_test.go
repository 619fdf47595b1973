//go:build unix

package server

import (
	"context"
	"errors"
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
// claims it then reads may have been given up by their senders, so it
// rejects claims for a moment and then decides them again.
func TestNoChannelDecidedRightAfterStop(t *testing.T) {
	c := startCluster(t, 2)
	s1, s2 := c.servers[serverName(1)].server, c.servers[serverName(2)].server
	claim := func(name string) proto.Envelope {
		t.Helper()
		env, err := s1.ask(context.Background(), "claim", s2.Addr(), serviceClaim, &ClaimRequest{Channel: name, RID: name}, time.Second)
		if err != nil {
			t.Fatalf("claim %s: %v", name, err)
		}
		return env
	}

	s2.awake.Store(time.Now().Add(-time.Second).UnixNano())
	if err := syscall.Kill(os.Getpid(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the stop recorded", func() bool { return s2.quietUntil.Load() > 0 })

	before, _ := s1.Coordinator()
	env := claim("logo-depois")
	if proto.IsSuccess(status(env)) {
		t.Errorf("the coordinator decided a claim right after a stop of a second: %v", env.Data)
	}
	// The claimant must not take the coordinator for replaced: that
	// would start an election for each claim during the quiet time.
	if rejected, _ := env.Data["notcoordinator"].(bool); rejected {
		t.Errorf("the quiet coordinator replied notcoordinator: %v", env.Data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s1.createChannel(ctx, "pelo-servidor-1", "rid-1"); !errors.Is(err, errCoordinatorDown) {
		t.Errorf("a creation through server-1 right after the stop = %v, want %v", err, errCoordinatorDown)
	}
	if err := s2.createChannel(ctx, "pelo-servidor-2", "rid-2"); !errors.Is(err, errCoordinatorDown) {
		t.Errorf("a creation on the quiet coordinator = %v, want %v", err, errCoordinatorDown)
	}
	for _, s := range []*Server{s1, s2} {
		if a, _ := s.Coordinator(); a != before {
			t.Errorf("%s: coordinator %v after creations during the quiet time, want %v still", s.cfg.Name, a, before)
		}
	}
	if s1.quietUntil.Load() != 0 {
		t.Error("server-1, which was not stopped, stopped deciding too")
	}
	waitFor(t, 5*time.Second, "claims decided again", func() bool {
		return proto.IsSuccess(status(claim("mais-tarde")))
	})
}
