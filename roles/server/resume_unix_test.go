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

	if env := claim("logo-depois"); proto.IsSuccess(status(env)) {
		t.Errorf("the coordinator decided a claim right after a stop of a second: %v", env.Data)
	}
	if s1.quietUntil.Load() != 0 {
		t.Error("server-1, which was not stopped, stopped deciding too")
	}
	waitFor(t, 5*time.Second, "claims decided again", func() bool {
		return proto.IsSuccess(status(claim("mais-tarde")))
	})
}
