package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"msgsys/proto"
)

// A publication's payload starts with a header: sequence number, send
// time in Unix nanoseconds, publisher index and kind, all big-endian.
// Padding fills it up to the configured size.
const (
	payloadHeader = 24
	kindProbe     = 0 // sent until every subscriber receives one: not counted
	kindWarmup    = 1 // load before the measured time: not counted
	kindMeasured  = 2
)

// Pub/sub pacing.
const (
	probeEvery     = 10 * time.Millisecond
	connectTimeout = 10 * time.Second
	// windowNap is the pause of a publisher that is a window ahead of the
	// slowest subscriber, or whose local queue is full.
	windowNap = 50 * time.Microsecond
	// windowStall is how long a publisher waits for the slowest subscriber
	// before it gives up on the publications that subscriber lost.
	windowStall = time.Second
	// drainQuiet ends the wait for the last publications once no
	// subscriber has received anything for this long.
	drainQuiet = time.Second
)

// PubSubStats are the figures of one pub/sub load.
type PubSubStats struct {
	// Sent counts publications sent in the measured time, and Expected
	// their deliveries: Sent times the subscribers.
	Sent      int64   `json:"sent"`
	Expected  int64   `json:"expected"`
	Delivered int64   `json:"delivered"`
	Lost      int64   `json:"lost"`
	LossRatio float64 `json:"loss_ratio"`
	// Seconds runs from the first measured send to the last delivery.
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"delivered_per_second"`
	// Stalls counts the times a publisher gave up waiting for a
	// subscriber that had lost publications.
	Stalls int64 `json:"stalls"`
	// Latency runs from the send to the subscriber's receipt.
	Latency Latency `json:"latency_ms"`
	// OutageSeconds counts the measured seconds in which no subscriber
	// received a publication, as when the proxy is down.
	OutageSeconds int `json:"outage_seconds"`
}

// PubSubResult is the outcome of the pubsub scenario.
type PubSubResult struct {
	Subscribers     int          `json:"subscribers"`
	Publishers      int          `json:"publishers"`
	Size            int          `json:"payload_bytes"`
	Window          int          `json:"window"`
	Rate            int          `json:"rate_per_publisher"`
	Msgsys          PubSubStats  `json:"msgsys"`
	Baseline        *PubSubStats `json:"baseline,omitempty"`
	BaselineVersion string       `json:"baseline_libzmq,omitempty"`
	Ratio           *Ratio       `json:"ratio,omitempty"`
}

// pubsub measures the proxy's fan-out: publishers push straight into its
// publisher side and subscribers read from its subscriber side.
func (b *Bench) pubsub(ctx context.Context, report *Report) (result *PubSubResult, err error) {
	result = &PubSubResult{Subscribers: b.cfg.Subscribers, Publishers: b.cfg.Publishers, Size: b.cfg.Size, Window: b.cfg.Window, Rate: b.cfg.Rate}
	xsub, xpub := b.cfg.XSub, b.cfg.XPub
	switch {
	case xsub == "" && xpub == "":
		// The proxy runs in the broker; servers would only add idle load.
		var c *cluster
		c, err = b.startCluster(ctx, 0, nil, nil)
		if err != nil {
			return nil, err
		}
		defer b.closeCluster(c, &err)
		xsub, xpub = c.xsub, c.xpub
		report.Cluster = "started: the broker alone, whose proxy is measured"
	case xsub == "" || xpub == "":
		return nil, errors.New("bench: pubsub on a running cluster needs both --xsub and --xpub")
	default:
		report.Cluster = "running, xsub " + xsub + ", xpub " + xpub
	}

	if b.cfg.Baseline {
		base, version, err := b.pubsubBaseline(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			report.Notes = append(report.Notes, "baseline skipped: "+err.Error())
		default:
			result.Baseline, result.BaselineVersion = &base, version
		}
	}

	b.log.Debug("publishing through msgsys", "subscribers", b.cfg.Subscribers, "publishers", b.cfg.Publishers)
	result.Msgsys, err = b.runPubSub(ctx, "msgsys pubsub", xsub, xpub)
	if err != nil {
		return nil, err
	}
	if result.Baseline != nil {
		result.Ratio = &Ratio{
			Throughput: ratio(result.Msgsys.PerSecond, result.Baseline.PerSecond),
			P50:        ratio(result.Msgsys.Latency.P50, result.Baseline.Latency.P50),
			P99:        ratio(result.Msgsys.Latency.P99, result.Baseline.Latency.P99),
		}
	}
	return result, nil
}

func (b *Bench) pubsubBaseline(ctx context.Context) (PubSubStats, string, error) {
	if err := pythonZMQ(ctx, b.cfg.Python); err != nil {
		return PubSubStats{}, "", err
	}
	base, err := startProxyBaseline(ctx, b.cfg.Python, b.log, b.exits.record)
	if err != nil {
		return PubSubStats{}, "", err
	}
	defer base.procs.close()
	b.log.Debug("publishing through the libzmq baseline", "subscribers", b.cfg.Subscribers, "publishers", b.cfg.Publishers)
	stats, err := b.runPubSub(ctx, "libzmq pubsub", base.xsub, base.xpub)
	return stats, base.version, err
}

// subscriberState is the record of one subscriber's consumer goroutine.
// The publishers read its atomics while it runs, and stats reads the
// histogram after it has stopped.
type subscriberState struct {
	probed    []atomic.Bool   // per publisher: a probe arrived
	highest   []atomic.Uint64 // per publisher: the highest sequence number received
	measured  atomic.Int64    // measured publications received
	lastNanos atomic.Int64    // Unix nanoseconds of the last measured receipt
	hist      histogram
	// received marks the measured seconds in which a measured publication
	// arrived.
	received []bool
}

// pubsubRun is one load: its subscribers, publishers and counters.
type pubsubRun struct {
	b      *Bench
	topic  string
	subs   []*subscriberState
	pubs   []*proto.Publisher
	sent   []atomic.Uint64 // per publisher: the last sequence number sent
	stalls atomic.Int64
	// measureFrom is the Unix nanoseconds at which the measured time
	// starts, 0 until the publishers start.
	measureFrom atomic.Int64
}

// runPubSub connects the subscribers and publishers, waits until every
// subscriber receives from every publisher, then publishes for warmup
// and duration, and waits for the last deliveries.
func (b *Bench) runPubSub(ctx context.Context, label, xsub, xpub string) (PubSubStats, error) {
	run := &pubsubRun{b: b, topic: "bench-" + b.run, sent: make([]atomic.Uint64, b.cfg.Publishers)}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()

	for range b.cfg.Subscribers {
		state := &subscriberState{
			probed:   make([]atomic.Bool, b.cfg.Publishers),
			highest:  make([]atomic.Uint64, b.cfg.Publishers),
			received: make([]bool, measuredSeconds(b.cfg.Duration)),
		}
		run.subs = append(run.subs, state)
		sub := proto.NewSubscriber(xpub, b.log)
		sub.Subscribe(run.topic)
		wg.Go(func() { sub.Run(runCtx) })
		wg.Go(func() { run.consume(sub, state) })
	}
	for range b.cfg.Publishers {
		pub := proto.NewPublisher(xsub, b.log)
		pub.UseKey(b.cfg.ClusterKey)
		run.pubs = append(run.pubs, pub)
		wg.Go(func() { pub.Run(runCtx) })
	}

	if err := run.connect(ctx); err != nil {
		return PubSubStats{}, err
	}

	start := time.Now()
	measureFrom := start.Add(b.cfg.Warmup)
	end := measureFrom.Add(b.cfg.Duration)
	run.measureFrom.Store(measureFrom.UnixNano())
	stop := b.progress.track(label, timeFraction(start, end.Sub(start)))
	var measuredSent atomic.Int64
	var pubWG sync.WaitGroup
	for p := range run.pubs {
		pubWG.Go(func() { measuredSent.Add(run.publish(ctx, p, measureFrom, end)) })
	}
	pubWG.Wait()
	stop()
	if ctx.Err() != nil {
		return PubSubStats{}, ctx.Err()
	}
	run.drain(ctx)
	cancel()
	wg.Wait()
	return run.stats(measuredSent.Load(), measureFrom), nil
}

// consume records what one subscriber receives until its channel closes.
func (r *pubsubRun) consume(sub *proto.Subscriber, state *subscriberState) {
	for d := range sub.Deliveries() {
		now := time.Now().UnixNano()
		if len(d.Payload) < payloadHeader {
			continue
		}
		seq := binary.BigEndian.Uint64(d.Payload[0:8])
		sentNanos := int64(binary.BigEndian.Uint64(d.Payload[8:16]))
		publisher := int(binary.BigEndian.Uint32(d.Payload[16:20]))
		kind := binary.BigEndian.Uint32(d.Payload[20:24])
		if publisher >= len(state.highest) {
			continue
		}
		if kind == kindProbe {
			state.probed[publisher].Store(true)
			continue
		}
		if seq > state.highest[publisher].Load() {
			state.highest[publisher].Store(seq)
		}
		if kind == kindMeasured {
			state.hist.record(time.Duration(now - sentNanos))
			state.measured.Add(1)
			state.lastNanos.Store(now)
			if second := (now - r.measureFrom.Load()) / int64(time.Second); second >= 0 && second < int64(len(state.received)) {
				state.received[second] = true
			}
		}
	}
}

// payload builds a publication of the configured size.
func (r *pubsubRun) payload(seq uint64, publisher int, kind uint32) []byte {
	buf := make([]byte, r.b.cfg.Size)
	binary.BigEndian.PutUint64(buf[0:8], seq)
	binary.BigEndian.PutUint64(buf[8:16], uint64(time.Now().UnixNano()))
	binary.BigEndian.PutUint32(buf[16:20], uint32(publisher))
	binary.BigEndian.PutUint32(buf[20:24], kind)
	return buf
}

// connect sends probes until every subscriber has one from every
// publisher, so the measured load starts with every subscription in
// place.
func (r *pubsubRun) connect(ctx context.Context) error {
	deadline := time.Now().Add(connectTimeout)
	for {
		ready := true
		for _, s := range r.subs {
			for p := range r.pubs {
				ready = ready && s.probed[p].Load()
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: subscribers did not receive probes within %v", connectTimeout)
		}
		for p, pub := range r.pubs {
			pub.Publish(r.topic, r.payload(0, p, kindProbe))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(probeEvery):
		}
	}
}

// slowest returns the highest sequence number of publisher p that every
// subscriber has received.
func (r *pubsubRun) slowest(p int) uint64 {
	low := r.subs[0].highest[p].Load()
	for _, s := range r.subs[1:] {
		low = min(low, s.highest[p].Load())
	}
	return low
}

// publish sends publisher p's publications until end and returns how
// many it sent from measureFrom on.
func (r *pubsubRun) publish(ctx context.Context, p int, measureFrom, end time.Time) int64 {
	cfg := r.b.cfg
	pub := r.pubs[p]
	start := time.Now()
	var seq uint64
	var measured int64
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		if cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(seq) / float64(cfg.Rate) * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				time.Sleep(wait)
			}
		}
		if cfg.Window > 0 {
			r.awaitWindow(ctx, p, seq)
		}
		kind := uint32(kindWarmup)
		if !time.Now().Before(measureFrom) {
			kind = kindMeasured
		}
		payload := r.payload(seq+1, p, kind)
		for !pub.Publish(r.topic, payload) {
			// The local queue is full: the connection is the bottleneck,
			// or the proxy is gone and the queue never drains.
			if ctx.Err() != nil || !time.Now().Before(end) {
				return measured
			}
			time.Sleep(windowNap)
		}
		seq++
		r.sent[p].Store(seq)
		if kind == kindMeasured {
			measured++
		}
	}
	return measured
}

// awaitWindow waits until publisher p is less than a window ahead of the
// slowest subscriber. A subscriber whose publications were dropped never
// catches up, so after windowStall without progress the wait gives up.
func (r *pubsubRun) awaitWindow(ctx context.Context, p int, sent uint64) {
	low := r.slowest(p)
	progressed := time.Now()
	for sent-low >= uint64(r.b.cfg.Window) && ctx.Err() == nil {
		time.Sleep(windowNap)
		if now := r.slowest(p); now != low {
			low, progressed = now, time.Now()
		} else if time.Since(progressed) > windowStall {
			r.stalls.Add(1)
			return
		}
	}
}

// drain waits until every subscriber has the last publication of every
// publisher, or nothing has arrived for drainQuiet.
func (r *pubsubRun) drain(ctx context.Context) {
	total := func() int64 {
		var n int64
		for _, s := range r.subs {
			n += s.measured.Load()
		}
		return n
	}
	last, quietSince := total(), time.Now()
	for ctx.Err() == nil {
		done := true
		for p := range r.pubs {
			done = done && r.slowest(p) >= r.sent[p].Load()
		}
		if done || time.Since(quietSince) > drainQuiet {
			return
		}
		time.Sleep(time.Millisecond)
		if n := total(); n != last {
			last, quietSince = n, time.Now()
		}
	}
}

// stats sums the subscribers' records; the consumers must have stopped.
func (r *pubsubRun) stats(sent int64, measureFrom time.Time) PubSubStats {
	var hist histogram
	var delivered, lastNanos int64
	received := make([]bool, measuredSeconds(r.b.cfg.Duration))
	for _, s := range r.subs {
		hist.merge(&s.hist)
		delivered += s.measured.Load()
		lastNanos = max(lastNanos, s.lastNanos.Load())
		for i, ok := range s.received {
			received[i] = received[i] || ok
		}
	}
	stats := PubSubStats{
		Sent:      sent,
		Expected:  sent * int64(len(r.subs)),
		Delivered: delivered,
		Stalls:    r.stalls.Load(),
		Latency:   hist.latency(),
	}
	for _, ok := range received {
		if !ok {
			stats.OutageSeconds++
		}
	}
	stats.Lost = max(stats.Expected-delivered, 0)
	if stats.Expected > 0 {
		stats.LossRatio = roundTo(float64(stats.Lost)/float64(stats.Expected), 6)
	}
	if lastNanos > 0 {
		seconds := time.Duration(lastNanos - measureFrom.UnixNano()).Seconds()
		stats.Seconds = roundTo(seconds, 3)
		if seconds > 0 {
			stats.PerSecond = roundTo(float64(delivered)/seconds, 1)
		}
	}
	return stats
}

func (r *PubSubResult) writeTable(w *tabwriter.Writer) {
	window := "no window"
	if r.Window > 0 {
		window = fmt.Sprintf("window %d", r.Window)
	}
	rate := "unpaced"
	if r.Rate > 0 {
		rate = fmt.Sprintf("%d/s per publisher", r.Rate)
	}
	fmt.Fprintf(w, "pubsub: %d subscribers, %d publishers, %d-byte payload, %s, %s, %.1fs measured\n\n",
		r.Subscribers, r.Publishers, r.Size, window, rate, r.Msgsys.Seconds)
	fmt.Fprintln(w, "\tdelivered/s\tsent\tdelivered\tloss\tp50 ms\tp90 ms\tp99 ms\tmax ms\t")
	row := func(name string, s PubSubStats) {
		fmt.Fprintf(w, "%s\t%.0f\t%d\t%d\t%.4f%%\t%.3f\t%.3f\t%.3f\t%.3f\t\n", name, s.PerSecond, s.Sent, s.Delivered,
			100*s.LossRatio, s.Latency.P50, s.Latency.P90, s.Latency.P99, s.Latency.Max)
	}
	row("msgsys", r.Msgsys)
	if r.Baseline != nil {
		row("libzmq "+r.BaselineVersion, *r.Baseline)
		fmt.Fprintf(w, "ratio\t%s\t\t\t\t%s\t\t%s\t\t\n", fmtRatio(r.Ratio, func(x *Ratio) float64 { return x.Throughput }),
			fmtRatio(r.Ratio, func(x *Ratio) float64 { return x.P50 }), fmtRatio(r.Ratio, func(x *Ratio) float64 { return x.P99 }))
	}
}
