package dump

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/proto"
	"msgsys/roles/broker"
	"msgsys/roles/reference"
	"msgsys/roles/server"
)

var waitFor = testkit.WaitFor

type logBuffer = testkit.Buffer

// liveServer is one server, with the reference and broker it needs,
// running in this process on ephemeral loopback ports.
type liveServer struct {
	server   *server.Server
	frontend string // broker endpoint for client requests
	data     string // the server's data directory
}

// startServer runs a reference, a broker and one server until the test
// ends.
func startServer(t *testing.T) *liveServer {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cluster logs:\n%s", logs)
		}
	})

	refCfg := reference.DefaultConfig()
	refCfg.Bind = "tcp://127.0.0.1:0"
	refCfg.DataDir = t.TempDir()
	refCfg.Log = log.With("role", "reference")
	ref, err := reference.New(refCfg)
	if err != nil {
		t.Fatal(err)
	}
	run(t, "reference", ref.Run)

	brokerCfg := broker.DefaultConfig()
	brokerCfg.Frontend = "tcp://127.0.0.1:0"
	brokerCfg.Backend = "tcp://127.0.0.1:0"
	brokerCfg.XSub = "tcp://127.0.0.1:0"
	brokerCfg.XPub = "tcp://127.0.0.1:0"
	brokerCfg.Log = log.With("role", "broker")
	b, err := broker.New(brokerCfg)
	if err != nil {
		t.Fatal(err)
	}
	run(t, "broker", b.Run)

	cfg := server.DefaultConfig()
	cfg.Name = "server-1"
	cfg.Addr = "tcp://127.0.0.1:0"
	cfg.Bind = "tcp://127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.Broker = b.BackendEndpoint()
	cfg.Pub = b.XSubEndpoint()
	cfg.Sub = b.XPubEndpoint()
	cfg.Reference = ref.Endpoint()
	cfg.Lang = "en"
	cfg.HeartbeatEvery = 200 * time.Millisecond
	cfg.Log = log.With("role", "server")
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run(t, cfg.Name, s.Run)
	return &liveServer{server: s, frontend: b.FrontendEndpoint(), data: cfg.Data}
}

// request sends one client request through the broker and fails the test
// unless it succeeds.
func (l *liveServer) request(t *testing.T, service string, data any) {
	t.Helper()
	req := proto.NewRequester(l.frontend)
	defer req.Close()
	frame, err := proto.Encode(service, data, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	payload, err := req.Request(context.Background(), frame, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", service, err)
	}
	env, err := proto.Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ := env.Data.OptString("status"); !proto.IsSuccess(status) {
		t.Fatalf("%s: reply %v", service, env.Data)
	}
}

// run starts a role's Run and, when the test ends, cancels it and checks
// that it returns.
func run(t *testing.T, name string, fn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
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
