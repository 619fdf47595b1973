package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"msgsys/proto"
	"msgsys/roles/server"
)

// BerkeleyRound is the servers' clocks after one synchronisation round.
type BerkeleyRound struct {
	// Round counts the rounds seen since watching began.
	Round       int     `json:"round"`
	AtSeconds   float64 `json:"at_seconds"`
	Coordinator string  `json:"coordinator"`
	// OffsetsMS is each server's clock minus the coordinator's. All
	// servers run on this machine and read the same system clock, so the
	// difference of their reported offsets is the exact difference of
	// their clocks, free of network error.
	OffsetsMS map[string]float64 `json:"offsets_ms"`
	// ResidualMS is the largest absolute offset from the coordinator.
	ResidualMS float64 `json:"residual_ms"`
}

// BerkeleyResult is the outcome of the berkeley scenario.
type BerkeleyResult struct {
	Skews   []string        `json:"skews,omitempty"`
	Every   string          `json:"every,omitempty"`
	Servers []string        `json:"servers"`
	Rounds  []BerkeleyRound `json:"rounds"`
	// FinalResidualMS is the residual after the last round.
	FinalResidualMS float64 `json:"final_residual_ms"`
}

// berkeley starts servers with the given clock skews, or watches a
// running cluster, and records the clock offsets after each round.
func (b *Bench) berkeley(ctx context.Context, report *Report) (result *BerkeleyResult, err error) {
	poller := newStatusPoller(b.cfg.Clocks, b.cfg.ClusterKey)
	defer poller.close()
	result = &BerkeleyResult{}
	var specs []*serverSpec
	if b.cfg.Reference == "" {
		skews := b.cfg.Skews
		every := b.cfg.BerkeleyEvery.String()
		perServer := func(i int) []string {
			return []string{"--clock-skew", skews[i-1].String(), "--berkeley-every", every}
		}
		var c *cluster
		c, err = b.startCluster(ctx, len(skews), perServer, poller)
		if err != nil {
			return nil, err
		}
		defer b.closeCluster(c, &err)
		specs = c.servers
		for _, s := range skews {
			result.Skews = append(result.Skews, s.String())
		}
		result.Every = every
		report.Cluster = fmt.Sprintf("started: %d servers with --clock-skew %s and --berkeley-every %s", len(skews), strings.Join(result.Skews, ","), every)
	} else {
		list, err := b.listServers(ctx, b.cfg.Reference)
		if err != nil {
			return nil, err
		}
		for _, info := range list {
			if info.Addr != "" {
				specs = append(specs, &serverSpec{Name: info.Name, Rank: int(info.Rank), Addr: info.Addr})
			}
		}
		if len(specs) < 2 {
			return nil, fmt.Errorf("bench: the reference lists %d msgsys servers, berkeley needs 2", len(specs))
		}
		report.Cluster = "running, reference " + b.cfg.Reference
	}
	for _, s := range specs {
		result.Servers = append(result.Servers, s.Name)
	}

	// A started cluster's clocks begin exactly at their skews, which is
	// round 0; the first rounds may pass before the cluster is ready.
	var initial map[string]float64
	if b.cfg.Reference == "" {
		initial = make(map[string]float64, len(specs))
		for i, s := range specs {
			initial[s.Name] = b.cfg.Skews[i].Seconds()
		}
	}
	result.Rounds, err = b.watchRounds(ctx, poller, specs, initial)
	if err != nil {
		return nil, err
	}
	if n := len(result.Rounds); n > 0 {
		result.FinalResidualMS = result.Rounds[n-1].ResidualMS
	}
	return result, nil
}

// watchRounds polls the servers' offsets. A round shows as a change of
// offsets, and once they have been still for a settling time, the round
// is recorded. Round 0 is initial, the offsets in seconds by name, when
// it is given, and otherwise the state when watching starts.
func (b *Bench) watchRounds(ctx context.Context, poller *statusPoller, specs []*serverSpec, initial map[string]float64) ([]BerkeleyRound, error) {
	every := b.cfg.BerkeleyEvery
	poll := min(max(every/20, 10*time.Millisecond), 100*time.Millisecond)
	settle := min(every/4, 250*time.Millisecond)
	timeout := time.Duration(b.cfg.Rounds+3)*every + 30*time.Second
	list := addrs(specs)
	names := make(map[string]string, len(specs))
	for _, s := range specs {
		names[s.Addr] = s.Name
	}

	start := time.Now()
	var rounds []BerkeleyRound
	stop := b.progress.track("berkeley rounds", func() float64 { return float64(len(rounds)) / float64(b.cfg.Rounds+1) })
	defer stop()

	var previous map[string]float64
	var changedAt time.Time
	pending := true // round 0 is recorded as soon as every server replies
	if initial != nil {
		coordinator := specs[len(specs)-1].Name
		rounds = append(rounds, newRound(0, 0, coordinator, initial))
		previous, pending = initial, false
	}
	for len(rounds) <= b.cfg.Rounds {
		if time.Since(start) > timeout {
			return rounds, fmt.Errorf("bench: %d of %d Berkeley rounds seen after %v", len(rounds)-1, b.cfg.Rounds, timeout)
		}
		replies := poller.statuses(ctx, list, statusTimeout)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		offsets, coordinator, ok := offsetsOf(replies, list, names)
		if ok {
			if previous != nil && changed(previous, offsets) {
				pending, changedAt = true, time.Now()
			}
			previous = offsets
			if pending && time.Since(changedAt) >= settle {
				round := newRound(len(rounds), time.Since(start), coordinator, offsets)
				rounds = append(rounds, round)
				pending = false
				b.log.Debug("berkeley round seen", "round", round.Round, "residual_ms", round.ResidualMS)
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
	return rounds, nil
}

// offsetsOf returns every server's offset in seconds by name, and the
// coordinator they all accept; ok is false unless every server replied
// and they agree.
func offsetsOf(replies map[string]*server.StatusReply, list []string, names map[string]string) (map[string]float64, string, bool) {
	coordinator, ok := agreement(replies, list, "")
	if !ok {
		return nil, "", false
	}
	offsets := make(map[string]float64, len(list))
	for _, addr := range list {
		offsets[names[addr]] = replies[addr].Offset
	}
	if _, ok := offsets[coordinator]; !ok {
		return nil, "", false
	}
	return offsets, coordinator, true
}

// changed reports whether any offset moved by more than a microsecond.
func changed(before, after map[string]float64) bool {
	for name, v := range after {
		if math.Abs(v-before[name]) > 1e-6 {
			return true
		}
	}
	return false
}

func newRound(n int, at time.Duration, coordinator string, offsets map[string]float64) BerkeleyRound {
	round := BerkeleyRound{Round: n, AtSeconds: roundTo(at.Seconds(), 3), Coordinator: coordinator, OffsetsMS: make(map[string]float64, len(offsets))}
	for name, v := range offsets {
		rel := roundTo((v-offsets[coordinator])*1000, 3)
		round.OffsetsMS[name] = rel
		round.ResidualMS = max(round.ResidualMS, math.Abs(rel))
	}
	return round
}

// listServers requests the available servers from a reference.
func (b *Bench) listServers(ctx context.Context, reference string) ([]proto.ServerInfo, error) {
	requester := proto.NewKeyedRequester(reference, b.cfg.ClusterKey)
	defer requester.Close()
	frame, err := proto.Encode(proto.ServiceList, &proto.EmptyRequest{}, b.cfg.Clocks.Meta())
	if err != nil {
		return nil, err
	}
	payload, err := requester.Request(ctx, frame, b.cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("bench: list from reference %s: %w", reference, err)
	}
	var reply proto.ListReply
	if _, err := proto.DecodeInto(payload, &reply); err != nil {
		return nil, fmt.Errorf("bench: invalid list reply from %s: %w", reference, err)
	}
	b.cfg.Clocks.Lamport.Witness(reply.Clock)
	if len(reply.List) == 0 {
		return nil, errors.New("bench: the reference lists no servers")
	}
	return reply.List, nil
}

func (r *BerkeleyResult) writeTable(w *tabwriter.Writer) {
	fmt.Fprintf(w, "berkeley: servers %s", strings.Join(r.Servers, ", "))
	if len(r.Skews) > 0 {
		fmt.Fprintf(w, " started with skews %s, a round every %s", strings.Join(r.Skews, ", "), r.Every)
	}
	fmt.Fprint(w, "\noffsets are each clock minus the coordinator's, in ms. Round 0 is a started cluster's configured skews,\n"+
		"or a running cluster's state when watching began. Rounds that ran before the cluster was ready are not seen.\n\n")
	names := slices.Clone(r.Servers)
	fmt.Fprintf(w, "round\tat s\tcoordinator\t%s\tresidual ms\t\n", strings.Join(names, "\t"))
	for _, round := range r.Rounds {
		cells := make([]string, len(names))
		for i, name := range names {
			cells[i] = fmt.Sprintf("%.3f", round.OffsetsMS[name])
		}
		fmt.Fprintf(w, "%d\t%.1f\t%s\t%s\t%.3f\t\n", round.Round, round.AtSeconds, round.Coordinator, strings.Join(cells, "\t"), round.ResidualMS)
	}
	fmt.Fprintf(w, "\nresidual after the last round: %.3f ms\n", r.FinalResidualMS)
}
