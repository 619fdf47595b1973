package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"msgsys/election"
	"msgsys/internal/testkit"
	"msgsys/proto"
	"msgsys/replica"
	"msgsys/roles/broker"
	"msgsys/roles/reference"
)

var waitFor = testkit.WaitFor

// cluster is a reference, a broker and servers in this test process, on
// loopback with ephemeral ports and short timings.
type cluster struct {
	t         *testing.T
	dir       string
	reference string
	frontend  string
	backend   string
	xsub      string
	xpub      string
	servers   map[string]*node

	key string // cluster key of the reference, the broker and servers from config
	// expiry is the reference's heartbeat expiry, 400 ms when zero.
	expiry time.Duration
	// maxServers is the reference's limit on registered names, its
	// default when zero.
	maxServers int
}

type node struct {
	server *Server
	cancel context.CancelFunc
	done   chan struct{}
}

// testLogger sends logs to t.Log, so they show only when a test fails or
// with -v.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func startCluster(t *testing.T, servers int) *cluster {
	t.Helper()
	return startClusterWith(t, servers, nil)
}

// startClusterWith is startCluster with change applied to each server's
// configuration, when it is not nil.
func startClusterWith(t *testing.T, servers int, change func(*Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), servers: make(map[string]*node)}
	c.startInfrastructure()

	// Servers register one after the other, so server-i gets rank i.
	for i := 1; i <= servers; i++ {
		cfg := c.config(serverName(i))
		if change != nil {
			change(&cfg)
		}
		s := c.startWith(cfg)
		waitFor(t, 5*time.Second, "registration", func() bool { return s.Rank() > 0 })
	}
	c.waitServing(servers)
	// A server serves once it has connected to the broker, and the broker
	// registers the connection a moment later.
	if servers > 0 {
		c.client().waitAnswered()
	}
	return c
}

func serverName(i int) string { return fmt.Sprintf("server-%d", i) }

// startInfrastructure starts the reference and the broker.
func (c *cluster) startInfrastructure() {
	t := c.t
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		for name := range c.servers {
			c.stop(name)
		}
		cancel()
		wg.Wait()
	})

	refCfg := reference.DefaultConfig()
	refCfg.Bind = "tcp://127.0.0.1:0"
	refCfg.DataDir = filepath.Join(c.dir, "reference")
	refCfg.HeartbeatExpiry = 400 * time.Millisecond
	if c.expiry > 0 {
		refCfg.HeartbeatExpiry = c.expiry
	}
	refCfg.ClusterKey = c.key
	if c.maxServers > 0 {
		refCfg.MaxServers = c.maxServers
	}
	refCfg.Log = testLogger(t).With("role", "reference")
	ref, err := reference.New(refCfg)
	if err != nil {
		t.Fatal(err)
	}
	c.reference = ref.Endpoint()

	brokerCfg := broker.DefaultConfig()
	brokerCfg.Frontend, brokerCfg.Backend = "tcp://127.0.0.1:0", "tcp://127.0.0.1:0"
	brokerCfg.XSub, brokerCfg.XPub = "tcp://127.0.0.1:0", "tcp://127.0.0.1:0"
	brokerCfg.RequestTimeout = 2 * time.Second
	brokerCfg.ClusterKey = c.key
	brokerCfg.Log = testLogger(t).With("role", "broker")
	b, err := broker.New(brokerCfg)
	if err != nil {
		t.Fatal(err)
	}
	c.frontend, c.backend = b.FrontendEndpoint(), b.BackendEndpoint()
	c.xsub, c.xpub = b.XSubEndpoint(), b.XPubEndpoint()

	wg.Add(2)
	go func() { defer wg.Done(); ref.Run(ctx) }()
	go func() { defer wg.Done(); b.Run(ctx) }()
}

// config returns a server configuration with short timings.
func (c *cluster) config(name string) Config {
	cfg := DefaultConfig()
	cfg.Name = name
	cfg.Addr = "tcp://127.0.0.1:0"
	cfg.Data = filepath.Join(c.dir, name)
	cfg.Broker, cfg.Pub, cfg.Sub, cfg.Reference = c.backend, c.xsub, c.xpub, c.reference
	cfg.Log = testLogger(c.t).With("role", "server")
	cfg.HeartbeatEvery = 100 * time.Millisecond
	cfg.RequestTimeout = time.Second
	cfg.CatchUpTimeout = 5 * time.Second
	cfg.Election = election.Config{
		CheckEvery:      30 * time.Millisecond,
		CheckTimeout:    60 * time.Millisecond,
		Misses:          2,
		OKTimeout:       100 * time.Millisecond,
		AnnounceTimeout: 400 * time.Millisecond,
	}
	cfg.Replica = replica.DefaultConfig()
	cfg.Replica.AckTimeout = 300 * time.Millisecond
	cfg.Replica.RequestTimeout = time.Second
	cfg.ClusterKey = c.key
	return cfg
}

func (c *cluster) start(name string) *Server {
	c.t.Helper()
	return c.startWith(c.config(name))
}

func (c *cluster) startWith(cfg Config) *Server {
	c.t.Helper()
	s, err := New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{server: s, cancel: cancel, done: make(chan struct{})}
	c.servers[cfg.Name] = n
	go func() {
		defer close(n.done)
		if err := s.Run(ctx); err != nil && ctx.Err() == nil {
			c.t.Errorf("%s: %v", cfg.Name, err)
		}
	}()
	return s
}

// stop cancels a server and waits for it, as a clean shutdown would.
func (c *cluster) stop(name string) {
	n, ok := c.servers[name]
	if !ok {
		return
	}
	n.cancel()
	<-n.done
	delete(c.servers, name)
}

func (c *cluster) waitServing(count int) {
	c.t.Helper()
	waitFor(c.t, 10*time.Second, "servers serving with one coordinator", func() bool {
		serving := 0
		coordinators := map[string]bool{}
		for _, n := range c.servers {
			if n.server.Serving() {
				serving++
			}
			a, _ := n.server.Coordinator()
			coordinators[a.Coordinator] = true
		}
		return serving == count && len(coordinators) == 1 && !coordinators[""]
	})
}

// coordinators returns the coordinator each running server sees.
func (c *cluster) coordinators() map[string]string {
	seen := map[string]string{}
	for name, n := range c.servers {
		a, _ := n.server.Coordinator()
		seen[name] = a.Coordinator
	}
	return seen
}

// client talks to the broker's frontend like a REQ client.
type client struct {
	t      *testing.T
	req    *proto.Requester
	clocks proto.Clocks
}

func (c *cluster) client() *client {
	cl := &client{t: c.t, req: proto.NewRequester(c.frontend), clocks: proto.NewClocks()}
	c.t.Cleanup(cl.req.Close)
	return cl
}

// call sends a request and returns the decoded reply.
func (cl *client) call(service string, data any) proto.Envelope {
	cl.t.Helper()
	frame, err := proto.Encode(service, data, cl.clocks.Meta())
	if err != nil {
		cl.t.Fatal(err)
	}
	return cl.raw(frame)
}

// raw sends a frame as is.
func (cl *client) raw(frame []byte) proto.Envelope {
	cl.t.Helper()
	payload, err := cl.req.Request(context.Background(), frame, 5*time.Second)
	if err != nil {
		cl.t.Fatalf("request: %v", err)
	}
	env, err := proto.Decode(payload)
	if err != nil {
		cl.t.Fatalf("reply: %v", err)
	}
	if _, err := cl.clocks.Witness(env.Data); err != nil {
		cl.t.Fatalf("reply clock: %v", err)
	}
	return env
}

func status(env proto.Envelope) string {
	s, _, _ := env.Data.OptString("status")
	return s
}

// waitAnswered waits until a request through the broker gets a server's
// reply. A server serves once it has connected to the broker, and the
// broker registers the connection a moment later, so a request sent in
// between gets "no server available".
func (cl *client) waitAnswered() {
	cl.t.Helper()
	waitFor(cl.t, 5*time.Second, "a server to answer through the broker", func() bool {
		_, ok := cl.call(proto.ServiceUsers, &proto.EmptyRequest{}).Data["users"]
		return ok
	})
}

// mustSucceed sends a request and fails the test unless it succeeds. A
// rejection marked retry is sent again once, as msgsys clients do: a
// server that stopped a moment ago, or an election that outlasts the
// server's wait, gives one.
func (cl *client) mustSucceed(service string, data any) proto.Envelope {
	cl.t.Helper()
	env := cl.call(service, data)
	if retry, ok := env.Data["retry"].(bool); ok && retry {
		env = cl.call(service, data)
	}
	if !proto.IsSuccess(status(env)) {
		cl.t.Fatalf("%s: reply %v", service, env.Data)
	}
	return env
}

func dumpOf(t *testing.T, s *Server) string {
	t.Helper()
	var b strings.Builder
	if err := s.Store().Dump(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}
