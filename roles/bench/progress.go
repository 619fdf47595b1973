package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Progress bar geometry and refresh period.
const (
	progressWidth = 30
	progressEvery = 200 * time.Millisecond
)

// progress draws a one-line bar for a long step on a terminal. A nil
// writer disables it, so callers need no checks.
type progress struct {
	out io.Writer
}

// newProgress returns a bar that draws on out, or a disabled one when out
// is nil.
func newProgress(out io.Writer) *progress { return &progress{out: out} }

// terminalStderr returns os.Stderr when it is a terminal, and nil
// otherwise: a bar in a log file or a pipe is only noise.
func terminalStderr() io.Writer {
	info, err := os.Stderr.Stat()
	if err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return os.Stderr
}

// track redraws the bar every progressEvery with the value of fraction,
// from 0 to 1, until the returned stop function is called. stop clears
// the line.
func (p *progress) track(label string, fraction func() float64) (stop func()) {
	if p.out == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		ticker := time.NewTicker(progressEvery)
		defer ticker.Stop()
		for {
			p.draw(label, fraction(), time.Since(start))
			select {
			case <-done:
				fmt.Fprint(p.out, "\r\033[K")
				return
			case <-ticker.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

func (p *progress) draw(label string, fraction float64, elapsed time.Duration) {
	fraction = min(max(fraction, 0), 1)
	filled := int(fraction * progressWidth)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", progressWidth-filled)
	fmt.Fprintf(p.out, "\r\033[K[%s] %3.0f%% %s %s", bar, fraction*100, label, elapsed.Round(100*time.Millisecond))
}

// timeFraction returns a fraction function for a step of known length.
func timeFraction(start time.Time, length time.Duration) func() float64 {
	return func() float64 {
		if length <= 0 {
			return 1
		}
		return float64(time.Since(start)) / float64(length)
	}
}
