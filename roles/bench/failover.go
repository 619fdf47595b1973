package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"
)

// Failover timings.
const (
	// failoverPoll is the pause between two status rounds after a kill;
	// it bounds the resolution of the measured time.
	failoverPoll    = 5 * time.Millisecond
	failoverStatus  = 200 * time.Millisecond
	failoverTimeout = 10 * time.Second
	rejoinTimeout   = 30 * time.Second
)

// FailoverRun is one kill of the coordinator.
type FailoverRun struct {
	Killed string `json:"killed"`
	// Next is the coordinator every remaining server accepted, and
	// NextIsHighest whether it has the highest remaining rank, as Bully
	// requires.
	Next          string `json:"next"`
	NextIsHighest bool   `json:"next_is_highest"`
	// AgreementMS runs from the SIGKILL to the first status round in
	// which every remaining server accepts the same new coordinator.
	AgreementMS float64 `json:"agreement_ms"`
	// RejoinMS runs from the restart of the killed server to every server,
	// the restarted one included, accepting it again as coordinator.
	RejoinMS float64 `json:"rejoin_ms"`
}

// Summary is the spread of a repeated measurement.
type Summary struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

func summarize(values []float64) Summary {
	if len(values) == 0 {
		return Summary{}
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	median := sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		median = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	return Summary{Min: sorted[0], Median: roundTo(median, 3), Max: sorted[len(sorted)-1]}
}

// FailoverResult is the outcome of the failover scenario.
type FailoverResult struct {
	Servers    int           `json:"servers"`
	ServerArgs []string      `json:"server_args,omitempty"`
	Runs       []FailoverRun `json:"runs"`
	Agreement  Summary       `json:"agreement_ms"`
	Rejoin     Summary       `json:"rejoin_ms"`
}

// failover kills the coordinator's process with SIGKILL, times the
// remaining servers' agreement on the next one, restarts the killed
// server and waits until it coordinates again, Kills times.
func (b *Bench) failover(ctx context.Context, report *Report) (result *FailoverResult, err error) {
	if b.cfg.Frontend != "" || b.cfg.Reference != "" {
		return nil, errors.New("bench: failover kills processes, so it needs its own cluster: drop the address flags")
	}
	poller := newStatusPoller(b.cfg.Clocks, b.cfg.ClusterKey)
	defer poller.close()
	c, err := b.startCluster(ctx, b.cfg.Servers, nil, poller)
	if err != nil {
		return nil, err
	}
	defer b.closeCluster(c, &err)
	report.Cluster = b.startedCluster()
	result = &FailoverResult{Servers: b.cfg.Servers, ServerArgs: b.cfg.ServerArgs}

	done := 0
	stop := b.progress.track("failover", func() float64 { return float64(done) / float64(b.cfg.Kills) })
	defer stop()
	var agreements, rejoins []float64
	for range b.cfg.Kills {
		run, err := b.killCoordinator(ctx, c, poller)
		if err != nil {
			return nil, err
		}
		result.Runs = append(result.Runs, run)
		agreements = append(agreements, run.AgreementMS)
		rejoins = append(rejoins, run.RejoinMS)
		done++
		b.log.Debug("failover measured", "killed", run.Killed, "next", run.Next, "agreement_ms", run.AgreementMS, "rejoin_ms", run.RejoinMS)
	}
	result.Agreement, result.Rejoin = summarize(agreements), summarize(rejoins)
	return result, nil
}

func (b *Bench) killCoordinator(ctx context.Context, c *cluster, poller *statusPoller) (FailoverRun, error) {
	all := addrs(c.servers)
	replies := poller.statuses(ctx, all, statusTimeout)
	name, ok := agreement(replies, all, "")
	if !ok {
		return FailoverRun{}, errors.New("bench: the servers do not agree on a coordinator before the kill")
	}
	var victim *serverSpec
	var remaining []*serverSpec
	for _, s := range c.servers {
		if s.Name == name {
			victim = s
		} else {
			remaining = append(remaining, s)
		}
	}
	if victim == nil {
		return FailoverRun{}, fmt.Errorf("bench: coordinator %q is not a server of this cluster", name)
	}
	highest := remaining[0]
	for _, s := range remaining {
		if s.Rank > highest.Rank {
			highest = s
		}
	}

	run := FailoverRun{Killed: victim.Name}
	left := addrs(remaining)
	start := time.Now()
	c.kill(victim.Name)
	err := c.waitFor(ctx, failoverTimeout, failoverPoll, "agreement after killing "+victim.Name, func() bool {
		next, ok := agreement(poller.statuses(ctx, left, failoverStatus), left, "")
		if ok && next != victim.Name {
			run.Next = next
			return true
		}
		return false
	})
	if err != nil {
		return run, err
	}
	run.AgreementMS = millis(time.Since(start))
	run.NextIsHighest = run.Next == highest.Name

	restart := time.Now()
	if err := c.startServer(victim); err != nil {
		return run, err
	}
	if err := c.waitAgreement(ctx, poller, c.servers, victim.Name, rejoinTimeout); err != nil {
		return run, err
	}
	run.RejoinMS = millis(time.Since(restart))
	return run, nil
}

func (r *FailoverResult) writeTable(w *tabwriter.Writer) {
	fmt.Fprintf(w, "failover: %d servers, %d kills of the coordinator with SIGKILL\n\n", r.Servers, len(r.Runs))
	fmt.Fprintln(w, "kill\tkilled\tnext\thighest rank\tagreement ms\trejoin ms\t")
	for i, run := range r.Runs {
		fmt.Fprintf(w, "%d\t%s\t%s\t%v\t%.1f\t%.1f\t\n", i+1, run.Killed, run.Next, run.NextIsHighest, run.AgreementMS, run.RejoinMS)
	}
	fmt.Fprintf(w, "\nagreement ms: min %.1f, median %.1f, max %.1f\n", r.Agreement.Min, r.Agreement.Median, r.Agreement.Max)
	fmt.Fprintf(w, "rejoin ms: min %.1f, median %.1f, max %.1f\n", r.Rejoin.Min, r.Rejoin.Median, r.Rejoin.Max)
}
