package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"msgsys/proto"
)

// maxErrorSamples bounds the distinct error messages a report quotes.
const maxErrorSamples = 5

// LoadStats are the figures of one request load.
type LoadStats struct {
	// Requests counts successful replies to requests sent in the measured
	// time; Errors counts error replies and failed sends, Timeouts the
	// requests that got no reply within the deadline.
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	Timeouts  int64   `json:"timeouts"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	// Latency is the round trip of the successful requests.
	Latency      Latency  `json:"latency_ms"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	// OutageSeconds counts the measured seconds in which requests failed
	// or timed out and no reply succeeded, as when the broker is down.
	// Requests still in flight at the end count in the last second.
	OutageSeconds int `json:"outage_seconds"`
}

// loadTally is one client's share of a load; its goroutine owns it.
type loadTally struct {
	hist     histogram
	requests int64
	errors   int64
	timeouts int64
	samples  []string
	seconds  secondTally
}

func (t *loadTally) fail(err error) {
	if errors.Is(err, proto.ErrTimeout) {
		t.timeouts++
		return
	}
	t.errors++
	if len(t.samples) < maxErrorSamples {
		t.samples = append(t.samples, err.Error())
	}
}

// runLoad has every client send requests back to back, each waiting for
// its reply, for warmup and then duration. Only requests sent in the
// measured duration count. next builds client i's next request frame.
func (b *Bench) runLoad(ctx context.Context, label string, clients []*client, service string, next func(i int) ([]byte, error)) LoadStats {
	start := time.Now()
	measureFrom := start.Add(b.cfg.Warmup)
	end := measureFrom.Add(b.cfg.Duration)
	stop := b.progress.track(label, timeFraction(start, end.Sub(start)))
	defer stop()

	tallies := make([]*loadTally, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		tally := &loadTally{seconds: newSecondTally(measureFrom, b.cfg.Duration)}
		tallies[i] = tally
		wg.Go(func() {
			for ctx.Err() == nil {
				frame, err := next(i)
				if err != nil {
					tally.fail(err)
					return
				}
				sent := time.Now()
				if !sent.Before(end) {
					return
				}
				err = c.call(ctx, service, frame, b.cfg.Timeout)
				done := time.Now()
				if sent.Before(measureFrom) {
					continue
				}
				if err != nil {
					tally.fail(err)
					tally.seconds.failure(sent, done)
					pauseAfter(ctx, err)
					continue
				}
				tally.hist.record(done.Sub(sent))
				tally.seconds.success(done)
				tally.requests++
			}
		})
	}
	wg.Wait()

	total := loadTally{seconds: newSecondTally(measureFrom, b.cfg.Duration)}
	seen := make(map[string]bool)
	for _, t := range tallies {
		total.hist.merge(&t.hist)
		total.seconds.merge(&t.seconds)
		total.requests += t.requests
		total.errors += t.errors
		total.timeouts += t.timeouts
		for _, s := range t.samples {
			if !seen[s] && len(total.samples) < maxErrorSamples {
				seen[s] = true
				total.samples = append(total.samples, s)
			}
		}
	}
	seconds := b.cfg.Duration.Seconds()
	return LoadStats{
		Requests:      total.requests,
		Errors:        total.errors,
		Timeouts:      total.timeouts,
		Seconds:       roundTo(seconds, 3),
		PerSecond:     roundTo(float64(total.requests)/seconds, 1),
		Latency:       total.hist.latency(),
		ErrorSamples:  total.samples,
		OutageSeconds: total.seconds.outages(),
	}
}

// lostPause is how long a client waits before its next request when the
// last one found the broker unreachable or gone, so that a dead broker
// costs the machine a redial every lostPause per client, not a busy loop.
const lostPause = 20 * time.Millisecond

// pauseAfter waits lostPause after an error that lost the connection.
func pauseAfter(ctx context.Context, err error) {
	if !errors.Is(err, proto.ErrUnreachable) && !errors.Is(err, proto.ErrClosed) {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(lostPause):
	}
}

// connectClients returns n clients of endpoint.
func connectClients(endpoint string, n int, clocks proto.Clocks) []*client {
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = newClient(endpoint, clocks)
	}
	return clients
}

func closeClients(clients []*client) {
	for _, c := range clients {
		c.close()
	}
}

// forEach runs fn for every client at once and returns the first error,
// with the number of clients that failed.
func forEach(clients []*client, fn func(i int, c *client) error) error {
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() { errs[i] = fn(i, c) })
	}
	wg.Wait()

	// Clients of one broker tend to fail alike, so one error stands for
	// the rest.
	failed := 0
	var first error
	for _, err := range errs {
		if err != nil {
			failed++
			first = cmp.Or(first, err)
		}
	}
	if failed == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d clients failed, the first with: %w", failed, len(clients), first)
}
