package status

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/roles/broker"
	"msgsys/roles/reference"
	"msgsys/roles/server"
)

var waitFor = testkit.WaitFor

type logBuffer = testkit.Buffer

// cluster is a reference, a broker and servers running in this process on
// ephemeral loopback ports.
type cluster struct {
	reference *reference.Reference
	broker    *broker.Broker
	servers   []*server.Server

	stopReference func()
	stopBroker    func()
}

// startCluster runs a reference, a broker and n servers (server-1 ...)
// until the test ends.
func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	return startKeyedCluster(t, n, "")
}

// startKeyedCluster is startCluster with a cluster key for the reference,
// the broker and the servers, or none when key is empty.
func startKeyedCluster(t *testing.T, n int, key string) *cluster {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cluster logs:\n%s", logs)
		}
	})
	c := &cluster{}

	refCfg := reference.DefaultConfig()
	refCfg.Bind = "tcp://127.0.0.1:0"
	refCfg.DataDir = t.TempDir()
	refCfg.HeartbeatExpiry = time.Second
	refCfg.ClusterKey = key
	refCfg.Log = log.With("role", "reference")
	ref, err := reference.New(refCfg)
	if err != nil {
		t.Fatal(err)
	}
	c.reference = ref
	c.stopReference = run(t, "reference", ref.Run)

	brokerCfg := broker.DefaultConfig()
	brokerCfg.Frontend = "tcp://127.0.0.1:0"
	brokerCfg.Backend = "tcp://127.0.0.1:0"
	brokerCfg.XSub = "tcp://127.0.0.1:0"
	brokerCfg.XPub = "tcp://127.0.0.1:0"
	brokerCfg.ClusterKey = key
	brokerCfg.Log = log.With("role", "broker")
	b, err := broker.New(brokerCfg)
	if err != nil {
		t.Fatal(err)
	}
	c.broker = b
	c.stopBroker = run(t, "broker", b.Run)

	for i := 1; i <= n; i++ {
		cfg := server.DefaultConfig()
		cfg.Name = fmt.Sprintf("server-%d", i)
		cfg.Rank = int64(i) // servers start concurrently; pin server-i to rank i
		cfg.Addr = "tcp://127.0.0.1:0"
		cfg.Bind = "tcp://127.0.0.1:0"
		cfg.Data = t.TempDir()
		cfg.Broker = b.BackendEndpoint()
		cfg.Pub = b.XSubEndpoint()
		cfg.Sub = b.XPubEndpoint()
		cfg.Reference = ref.Endpoint()
		cfg.Lang = "en"
		cfg.ClusterKey = key
		cfg.HeartbeatEvery = 200 * time.Millisecond
		cfg.CatchUpTimeout = 5 * time.Second
		cfg.Log = log.With("role", "server")
		s, err := server.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.servers = append(c.servers, s)
		run(t, cfg.Name, s.Run)
	}
	return c
}

// run starts a role's Run and returns the function that cancels it and
// checks that it returns, which also runs when the test ends.
func run(t *testing.T, name string, fn func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: Run returned %v", name, err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("%s: Run did not return within 10s of cancellation", name)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitSettled waits until every server serves and all see one
// coordinator, and returns its name.
func (c *cluster) waitSettled(t *testing.T) string {
	t.Helper()
	var coordinator string
	waitFor(t, 15*time.Second, "servers serving under one coordinator", func() bool {
		coordinator = ""
		for _, s := range c.servers {
			a, ok := s.Coordinator()
			if !s.Serving() || !ok || (coordinator != "" && a.Coordinator != coordinator) {
				return false
			}
			coordinator = a.Coordinator
		}
		return true
	})
	return coordinator
}
