// Package testkit holds the helpers that the tests of several packages
// share: waiting for a condition with a deadline, a buffer that a
// process's goroutines write logs to while a test reads them, loopback
// ports, and Python peers (python.go) that speak libzmq and msgpack.
package testkit

import (
	"bytes"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// pollEvery is how often WaitFor checks its condition.
const pollEvery = 5 * time.Millisecond

// WaitFor checks cond every few milliseconds until it holds, and fails the
// test when it still does not hold after timeout. what names the awaited
// state in the failure.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(pollEvery)
	defer ticker.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-ticker.C
	}
}

// Buffer is a bytes.Buffer that goroutines may write to while a test
// reads it. The zero value is ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Contains reports whether what was written so far contains s.
func (b *Buffer) Contains(s string) bool {
	return strings.Contains(b.String(), s)
}

// Lines returns the non-empty lines written so far that contain every one
// of parts.
func (b *Buffer) Lines(parts ...string) []string {
	var found []string
	for line := range strings.SplitSeq(b.String(), "\n") {
		match := line != ""
		for _, part := range parts {
			match = match && strings.Contains(line, part)
		}
		if match {
			found = append(found, line)
		}
	}
	return found
}

// Loopback ports for tests lie from loopbackFrom to loopbackTo, below the
// ephemeral ranges (Linux 32768-60999, BSD and macOS from 49152), where
// the system picks the port of any outgoing connection on the machine.
const (
	loopbackFrom = 21000
	loopbackTo   = 29999
)

// ListenLoopback returns a TCP listener on a loopback port that it holds
// until the test ends, for tests of a port in use.
func ListenLoopback(tb testing.TB) net.Listener {
	tb.Helper()
	for range 100 {
		port := loopbackFrom + rand.IntN(loopbackTo-loopbackFrom+1)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		tb.Cleanup(func() { ln.Close() })
		return ln
	}
	tb.Fatalf("no free loopback port from %d to %d after 100 tries", loopbackFrom, loopbackTo)
	return nil
}

// LoopbackPorts returns n distinct loopback TCP ports that were free a
// moment ago.
func LoopbackPorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports := make([]int, n)
	listeners := make([]net.Listener, n)
	for i := range n {
		listeners[i] = ListenLoopback(tb)
		ports[i] = listeners[i].Addr().(*net.TCPAddr).Port
	}
	for _, ln := range listeners {
		ln.Close()
	}
	return ports
}
