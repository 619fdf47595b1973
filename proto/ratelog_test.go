package proto

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestRateLogHoldsBackFlood logs a burst of one kind of event and checks
// that one line came through, then that the next line, once the second is
// over, counts what was held back.
func TestRateLogHoldsBackFlood(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	var r RateLog
	for range 1000 {
		r.Warn(log, "request rejected", "reason", "test")
	}
	if lines := strings.Count(out.String(), "request rejected"); lines != 1 {
		t.Fatalf("%d lines for a burst of 1000, want 1:\n%s", lines, out.String())
	}

	r.mu.Lock()
	r.next = r.next.AddDate(0, 0, -1) // as if the second were over
	r.mu.Unlock()
	r.Info(log, "request rejected", "reason", "test")
	if !strings.Contains(out.String(), "suppressed=999") {
		t.Errorf("the line after the burst does not count 999 held back:\n%s", out.String())
	}
}
