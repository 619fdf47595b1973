package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"
)

// Catch-up timings.
const (
	catchupPoll    = 10 * time.Millisecond
	catchupTimeout = 5 * time.Minute
)

// CatchupResult is the outcome of the catchup scenario.
type CatchupResult struct {
	Messages int    `json:"messages"`
	Servers  int    `json:"servers"`
	Fill     string `json:"fill"`
	// FillSeconds is how long storing the messages on every server took.
	FillSeconds   float64 `json:"fill_seconds"`
	FillPerSecond float64 `json:"fill_per_second"`
	Restarted     string  `json:"restarted"`
	// The times run from the start of the restarted process: to its
	// first status reply, to storing every message, and to serving
	// clients with every message.
	FirstStatusMS float64 `json:"first_status_ms"`
	CaughtUpMS    float64 `json:"caught_up_ms"`
	ServingMS     float64 `json:"serving_ms"`
}

// catchup stores the messages, restarts the lowest-ranked server with an
// empty data directory, and times its catch-up.
func (b *Bench) catchup(ctx context.Context, report *Report) (result *CatchupResult, err error) {
	if b.cfg.Frontend != "" || b.cfg.Reference != "" {
		return nil, errors.New("bench: catchup restarts a server, so it needs its own cluster: drop the address flags")
	}
	poller := newStatusPoller(b.cfg.Clocks, b.cfg.ClusterKey)
	defer poller.close()
	c, err := b.startCluster(ctx, b.cfg.Servers, nil, poller)
	if err != nil {
		return nil, err
	}
	defer b.closeCluster(c, &err)
	report.Cluster = b.startedCluster()

	filled, err := b.fill(ctx, c, poller, b.cfg.Messages, 0)
	if err != nil {
		return nil, err
	}
	result = &CatchupResult{
		Messages:      filled.stored,
		Servers:       b.cfg.Servers,
		Fill:          b.cfg.Fill,
		FillSeconds:   roundTo(filled.elapsed.Seconds(), 3),
		FillPerSecond: roundTo(float64(filled.stored)/filled.elapsed.Seconds(), 1),
	}

	// The lowest rank is never the coordinator, so its restart starts no
	// election that would slow its catch-up.
	victim := c.servers[0]
	result.Restarted = victim.Name
	c.stop(victim.Name)
	if err := os.RemoveAll(victim.Data); err != nil {
		return nil, fmt.Errorf("bench: empty the data directory of %s: %w", victim.Name, err)
	}
	b.log.Debug("restarting with an empty data directory", "server", victim.Name, "messages", filled.stored)

	start := time.Now()
	if err := c.startServer(victim); err != nil {
		return nil, err
	}
	stop := b.progress.track("catch-up of "+victim.Name, func() float64 { return 0 })
	defer stop()
	err = c.waitFor(ctx, catchupTimeout, catchupPoll, victim.Name+" catching up", func() bool {
		reply, err := poller.status(ctx, victim.Addr, failoverStatus)
		if err != nil {
			return false
		}
		elapsed := millis(time.Since(start))
		if result.FirstStatusMS == 0 {
			result.FirstStatusMS = elapsed
		}
		if reply.Messages >= filled.stored && result.CaughtUpMS == 0 {
			result.CaughtUpMS = elapsed
		}
		if reply.Messages >= filled.stored && reply.Serving {
			result.ServingMS = elapsed
			return true
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	return result, nil
}

func (r *CatchupResult) writeTable(w *tabwriter.Writer) {
	fmt.Fprintf(w, "catchup: %d messages on %d servers, stored by %s fill in %.2f s (%.0f messages/s)\n", r.Messages, r.Servers, r.Fill, r.FillSeconds, r.FillPerSecond)
	fmt.Fprintf(w, "%s restarted with an empty data directory; times from its start:\n\n", r.Restarted)
	fmt.Fprintln(w, "first status reply ms\tholds every message ms\tserving ms\t")
	fmt.Fprintf(w, "%.1f\t%.1f\t%.1f\t\n", r.FirstStatusMS, r.CaughtUpMS, r.ServingMS)
}
