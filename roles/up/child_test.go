package up

import (
	"testing"
	"time"
)

// TestNextRestartDelay follows a process that keeps exiting at once, then
// runs for a while: the delay doubles up to its maximum, and goes back to
// the configured one after a long run.
func TestNextRestartDelay(t *testing.T) {
	base := time.Second
	delay := base / 2
	steps := []struct {
		ran  time.Duration
		want time.Duration
	}{
		{time.Second, time.Second},
		{time.Second, 2 * time.Second},
		{time.Second, 4 * time.Second},
		{time.Second, 8 * time.Second},
		{time.Second, 16 * time.Second},
		{time.Second, 30 * time.Second},
		{time.Second, 30 * time.Second},
		{time.Minute, time.Second},
		{time.Second, 2 * time.Second},
	}
	for i, step := range steps {
		delay = nextRestartDelay(delay, base, step.ran)
		if delay != step.want {
			t.Fatalf("step %d: delay %v after a run of %v, want %v", i, delay, step.ran, step.want)
		}
	}
	// A configured delay above the maximum stays as it is.
	if got := nextRestartDelay(time.Minute, time.Minute, time.Second); got != time.Minute {
		t.Errorf("delay with a configured minute = %v, want 1m0s", got)
	}
}
