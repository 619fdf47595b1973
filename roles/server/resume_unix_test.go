//go:build unix

package server

import (
	"os"
	"syscall"
	"testing"
	"time"
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
