// Package testkit holds the helpers that the tests of several packages
// share: waiting for a condition with a deadline, and a buffer that a
// process's goroutines write logs to while a test reads them.
package testkit

import (
	"bytes"
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
