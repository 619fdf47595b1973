package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"msgsys/proto"
)

// msgsysBinary is the msgsys executable that started clusters run, built once
// by TestMain without the race detector so the children stay fast.
var msgsysBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "msgsys-bench-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	msgsysBinary = filepath.Join(dir, "msgsys")
	build := exec.Command("go", "build", "-o", msgsysBinary, "msgsys")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build of msgsys failed: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// smokeConfig returns a short run of scenario against a started cluster.
func smokeConfig(scenario string) Config {
	cfg := DefaultConfig(scenario)
	cfg.Executable = msgsysBinary
	cfg.Duration = time.Second
	cfg.Warmup = 200 * time.Millisecond
	cfg.JSON = true
	return cfg
}

// runJSON runs cfg and decodes the JSON it prints.
func runJSON(t *testing.T, cfg Config) (Report, []byte) {
	t.Helper()
	var out bytes.Buffer
	cfg.Out = &out
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := b.Run(ctx); err != nil {
		t.Fatalf("%s: %v", cfg.Scenario, err)
	}
	var report Report
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.Bytes())
	}
	return report, out.Bytes()
}

func checkLatency(t *testing.T, name string, l Latency) {
	t.Helper()
	if l.P50 <= 0 {
		t.Errorf("%s p50 = %v ms, want positive", name, l.P50)
	}
	if l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.Max {
		t.Errorf("%s percentiles out of order: %+v", name, l)
	}
}

func TestReqRepSmoke(t *testing.T) {
	cfg := smokeConfig(ScenarioReqRep)
	cfg.Servers = 2
	cfg.Clients = 4
	report, out := runJSON(t, cfg)

	r := report.ReqRep
	if report.Scenario != ScenarioReqRep || r == nil {
		t.Fatalf("no reqrep result in %s", out)
	}
	if r.Service != proto.ServicePublish || r.Clients != 4 || r.Servers != 2 {
		t.Errorf("settings = %s, %d clients, %d servers; want publish, 4, 2", r.Service, r.Clients, r.Servers)
	}
	if r.Msgsys.Requests == 0 || r.Msgsys.PerSecond <= 0 {
		t.Errorf("msgsys served %d requests (%v/s), want some", r.Msgsys.Requests, r.Msgsys.PerSecond)
	}
	if r.Msgsys.Errors != 0 || r.Msgsys.Timeouts != 0 {
		t.Errorf("msgsys had %d errors and %d timeouts: %v", r.Msgsys.Errors, r.Msgsys.Timeouts, r.Msgsys.ErrorSamples)
	}
	checkLatency(t, "msgsys", r.Msgsys.Latency)
	if r.Baseline == nil {
		t.Logf("no baseline: %v", report.Notes)
		return
	}
	if r.Baseline.Requests == 0 || r.Ratio == nil || r.Ratio.Throughput <= 0 {
		t.Errorf("baseline %+v with ratio %+v, want requests and a positive ratio", r.Baseline, r.Ratio)
	}
	checkLatency(t, "baseline", r.Baseline.Latency)
}

func TestPubSubSmoke(t *testing.T) {
	cfg := smokeConfig(ScenarioPubSub)
	cfg.Subscribers = 3
	// With a key the started proxy rejects publishers that present none.
	cfg.ClusterKey = "bench-smoke-key"
	report, out := runJSON(t, cfg)

	r := report.PubSub
	if report.Scenario != ScenarioPubSub || r == nil {
		t.Fatalf("no pubsub result in %s", out)
	}
	s := r.Msgsys
	if s.Sent == 0 || s.Delivered == 0 || s.PerSecond <= 0 {
		t.Errorf("msgsys sent %d and delivered %d (%v/s), want some", s.Sent, s.Delivered, s.PerSecond)
	}
	if s.Expected != 3*s.Sent {
		t.Errorf("expected deliveries %d, want 3 subscribers times %d sent", s.Expected, s.Sent)
	}
	if s.Delivered+s.Lost != s.Expected || s.LossRatio < 0 || s.LossRatio > 1 {
		t.Errorf("delivered %d + lost %d != expected %d, or loss ratio %v outside [0, 1]", s.Delivered, s.Lost, s.Expected, s.LossRatio)
	}
	checkLatency(t, "msgsys", s.Latency)
	if r.Baseline == nil {
		t.Logf("no baseline: %v", report.Notes)
		return
	}
	if r.Baseline.Delivered == 0 || r.Ratio == nil || r.Ratio.Throughput <= 0 {
		t.Errorf("baseline %+v with ratio %+v, want deliveries and a positive ratio", r.Baseline, r.Ratio)
	}
}

func TestClusterCloseStopsChildren(t *testing.T) {
	c, err := startCluster(clusterOptions{exe: msgsysBinary, servers: 1, logLevel: "warn"})
	if err != nil {
		t.Fatal(err)
	}
	poller := newStatusPoller(proto.NewClocks(), "")
	defer poller.close()
	if err := c.waitReady(context.Background(), poller, proto.NewClocks()); err != nil {
		c.close()
		t.Fatal(err)
	}
	pids := []int{c.pid("reference"), c.pid("broker"), c.pid("server-1")}
	c.close()

	for _, pid := range pids {
		if pid == 0 {
			t.Error("a child had no process id")
			continue
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still exists after close (kill 0: %v)", pid, err)
		}
	}
	if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory %s still exists after close (stat: %v)", c.dir, err)
	}
}

func TestClusterKeyReachesServers(t *testing.T) {
	c, err := startCluster(clusterOptions{exe: msgsysBinary, servers: 1, logLevel: "warn", clusterKey: "bench-test-key"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	keyed := newStatusPoller(proto.NewClocks(), "bench-test-key")
	defer keyed.close()
	if err := c.waitReady(context.Background(), keyed, proto.NewClocks()); err != nil {
		t.Fatalf("cluster not ready for a poller with its key: %v", err)
	}

	plain := newStatusPoller(proto.NewClocks(), "")
	defer plain.close()
	_, err = plain.status(context.Background(), c.servers[0].Addr, statusTimeout)
	if err == nil {
		t.Fatal("a server started with a key answered a request without one")
	}
	if !errors.Is(err, proto.ErrKeyMismatch) {
		t.Errorf("request without the key: %v, want %v", err, proto.ErrKeyMismatch)
	}

	// The started reference requires the key too, and the berkeley
	// scenario presents it when it watches a running cluster.
	keyedBench := &Bench{cfg: Config{ClusterKey: "bench-test-key", Clocks: proto.NewClocks(), Timeout: statusTimeout}}
	if list, err := keyedBench.listServers(context.Background(), c.reference); err != nil || len(list) != 1 {
		t.Errorf("list from the reference with the key: %v, %v; want one server", list, err)
	}
	plainBench := &Bench{cfg: Config{Clocks: proto.NewClocks(), Timeout: statusTimeout}}
	if _, err := plainBench.listServers(context.Background(), c.reference); !errors.Is(err, proto.ErrKeyMismatch) {
		t.Errorf("list from the reference without the key: %v, want %v", err, proto.ErrKeyMismatch)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.9, 900 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(c.q)
		if diff := got - c.want; diff < -c.want/50 || diff > c.want/50 {
			t.Errorf("quantile(%v) = %v, want %v within 2%%", c.q, got, c.want)
		}
	}
	if got := h.latency().Max; got != 1000 {
		t.Errorf("max = %v ms, want 1000", got)
	}

	var merged histogram
	merged.merge(&h)
	merged.merge(&h)
	if merged.count != 2000 || merged.quantile(0.5) != h.quantile(0.5) {
		t.Errorf("merging twice gives count %d and median %v, want 2000 and %v", merged.count, merged.quantile(0.5), h.quantile(0.5))
	}
}

func TestParseSkews(t *testing.T) {
	got, err := parseSkews("-1s, 0,+250ms")
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{-time.Second, 0, 250 * time.Millisecond}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parseSkews = %v, want %v", got, want)
	}
	if _, err := parseSkews("1s,soon"); err == nil {
		t.Error("parseSkews accepted \"soon\"")
	}
}

func TestValidateRejects(t *testing.T) {
	for name, change := range map[string]func(*Config){
		"unknown scenario":  func(c *Config) { c.Scenario = "speed" },
		"unknown service":   func(c *Config) { c.Service = "channel" },
		"unknown fill":      func(c *Config) { c.Fill = "magic" },
		"tiny payload":      func(c *Config) { c.Scenario, c.Size = ScenarioPubSub, 8 },
		"negative clients":  func(c *Config) { c.Clients = -1 },
		"one-server change": func(c *Config) { c.Scenario, c.Servers = ScenarioFailover, 1 },
	} {
		cfg := DefaultConfig(ScenarioReqRep)
		change(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
}
