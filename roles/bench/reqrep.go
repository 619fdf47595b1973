package bench

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"msgsys/proto"
)

// historyPosts is how many posts reqrep stores before loading history, so
// every history request returns a full page.
const historyPosts = 2 * proto.HistoryDefaultLimit

// ReqRepResult is the outcome of the reqrep scenario.
type ReqRepResult struct {
	Service  string     `json:"service"`
	Clients  int        `json:"clients"`
	Servers  int        `json:"servers"`
	TextSize int        `json:"text_bytes"`
	Msgsys   LoadStats  `json:"msgsys"`
	Baseline *LoadStats `json:"baseline,omitempty"`
	// BaselineVersion is the libzmq version of the baseline.
	BaselineVersion string `json:"baseline_libzmq,omitempty"`
	Ratio           *Ratio `json:"ratio,omitempty"`
}

// reqrep loads one service through the broker with concurrent clients,
// and the same frames through a libzmq broker to echo servers.
func (b *Bench) reqrep(ctx context.Context, report *Report) (result *ReqRepResult, err error) {
	result = &ReqRepResult{Service: b.cfg.Service, Clients: b.cfg.Clients, TextSize: b.cfg.Size}
	frontend := b.cfg.Frontend
	if frontend == "" {
		poller := newStatusPoller(b.cfg.Clocks, b.cfg.ClusterKey)
		defer poller.close()
		var c *cluster
		c, err = b.startCluster(ctx, b.cfg.Servers, nil, poller)
		if err != nil {
			return nil, err
		}
		defer b.closeCluster(c, &err)
		frontend = c.frontend
		result.Servers = b.cfg.Servers
		report.Cluster = b.startedCluster("--rate-limit 0")
	} else {
		report.Cluster = "running, frontend " + frontend
	}

	clients := connectClients(frontend, b.cfg.Clients, b.cfg.Clocks)
	defer closeClients(clients)
	next, err := b.prepareService(ctx, clients)
	if err != nil {
		return nil, err
	}

	if b.cfg.Baseline {
		base, version, err := b.reqrepBaseline(ctx, next)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			report.Notes = append(report.Notes, "baseline skipped: "+err.Error())
		default:
			result.Baseline, result.BaselineVersion = &base, version
		}
	}

	b.log.Debug("loading msgsys", "service", b.cfg.Service, "clients", b.cfg.Clients)
	result.Msgsys = b.runLoad(ctx, "msgsys "+b.cfg.Service, clients, b.cfg.Service, next)
	if ctx.Err() != nil {
		return nil, ctx.Err()
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

// reqrepBaseline sends the same frames through a libzmq broker to as
// many echo servers as msgsys has servers.
func (b *Bench) reqrepBaseline(ctx context.Context, next func(int) ([]byte, error)) (LoadStats, string, error) {
	if err := pythonZMQ(ctx, b.cfg.Python); err != nil {
		return LoadStats{}, "", err
	}
	servers := b.cfg.Servers
	if b.cfg.Frontend != "" {
		servers = DefaultServers
	}
	base, err := startEchoBaseline(ctx, b.cfg.Python, servers, b.log, b.exits.record)
	if err != nil {
		return LoadStats{}, "", err
	}
	defer base.procs.close()

	clients := connectClients(base.frontend, b.cfg.Clients, b.cfg.Clocks)
	defer closeClients(clients)
	// The first round trip of each client connects it, before the clock
	// starts, as the msgsys clients connected during their setup.
	if err := forEach(clients, func(i int, c *client) error {
		frame, err := next(i)
		if err != nil {
			return err
		}
		return c.call(ctx, b.cfg.Service, frame, b.cfg.Timeout)
	}); err != nil {
		return LoadStats{}, "", fmt.Errorf("baseline echo failed: %w", err)
	}
	b.log.Debug("loading the libzmq baseline", "service", b.cfg.Service, "clients", b.cfg.Clients)
	return b.runLoad(ctx, "libzmq "+b.cfg.Service, clients, b.cfg.Service, next), base.version, nil
}

// prepareService logs in one user per client, creates the channel the
// service needs, fills it for history, and returns the frame builder.
// Each client is its own user, so no user hits a per-user rate limit.
func (b *Bench) prepareService(ctx context.Context, clients []*client) (func(int) ([]byte, error), error) {
	setupTimeout := max(b.cfg.Timeout, 5*time.Second)
	users := make([]string, len(clients))
	for i := range users {
		users[i] = fmt.Sprintf("b%s-%d", b.run, i)
	}
	channel := "bench-" + b.run
	text := strings.Repeat("x", b.cfg.Size)

	if err := forEach(clients, func(i int, c *client) error {
		return c.login(ctx, users[i], setupTimeout)
	}); err != nil {
		return nil, fmt.Errorf("bench: setup logins: %w", err)
	}
	switch b.cfg.Service {
	case proto.ServicePublish, proto.ServiceHistory, proto.ServiceChannels:
		if err := clients[0].createChannel(ctx, channel, setupTimeout); err != nil {
			return nil, fmt.Errorf("bench: setup channel %s: %w", channel, err)
		}
	}
	if b.cfg.Service == proto.ServiceHistory {
		for i := range historyPosts {
			req := &proto.PublishRequest{User: users[0], Channel: channel, Message: fmt.Sprintf("%d %s", i, text), ID: requestID()}
			if err := clients[0].send(ctx, proto.ServicePublish, req, setupTimeout); err != nil {
				return nil, fmt.Errorf("bench: setup history posts: %w", err)
			}
		}
	}

	clocks := b.cfg.Clocks
	n := len(clients)
	var build func(i int) any
	switch b.cfg.Service {
	case proto.ServiceLogin:
		build = func(i int) any { return &proto.LoginRequest{User: users[i], ID: requestID()} }
	case proto.ServicePublish:
		build = func(i int) any {
			return &proto.PublishRequest{User: users[i], Channel: channel, Message: text, ID: requestID()}
		}
	case proto.ServiceMessage:
		build = func(i int) any {
			return &proto.DirectRequest{Src: users[i], Dst: users[(i+1)%n], Message: text, ID: requestID()}
		}
	case proto.ServiceUsers, proto.ServiceChannels:
		build = func(int) any { return &proto.EmptyRequest{} }
	case proto.ServiceHistory:
		build = func(int) any { return &proto.HistoryRequest{Channel: channel} }
	}
	service := b.cfg.Service
	return func(i int) ([]byte, error) {
		return proto.Encode(service, build(i), requestMeta(clocks))
	}, nil
}

func (r *ReqRepResult) writeTable(w *tabwriter.Writer) {
	servers := "a running cluster"
	if r.Servers > 0 {
		servers = fmt.Sprintf("%d servers", r.Servers)
	}
	fmt.Fprintf(w, "reqrep %s: %d clients, %s, %d-byte text, %.1fs measured\n\n", r.Service, r.Clients, servers, r.TextSize, r.Msgsys.Seconds)
	fmt.Fprintln(w, "\treq/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\ttimeouts\t")
	row := func(name string, s LoadStats) {
		fmt.Fprintf(w, "%s\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t\n", name, s.PerSecond,
			s.Latency.P50, s.Latency.P90, s.Latency.P99, s.Latency.Max, s.Errors, s.Timeouts)
	}
	row("msgsys", r.Msgsys)
	if r.Baseline != nil {
		row("libzmq "+r.BaselineVersion, *r.Baseline)
		fmt.Fprintf(w, "ratio\t%s\t%s\t\t%s\t\t\t\t\n", fmtRatio(r.Ratio, func(x *Ratio) float64 { return x.Throughput }),
			fmtRatio(r.Ratio, func(x *Ratio) float64 { return x.P50 }), fmtRatio(r.Ratio, func(x *Ratio) float64 { return x.P99 }))
	}
	for _, s := range r.Msgsys.ErrorSamples {
		fmt.Fprintf(w, "msgsys error: %s\n", s)
	}
}
