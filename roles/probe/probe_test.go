package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/broker"
	"msgsys/roles/reference"
	"msgsys/roles/server"
)

type syncBuffer = testkit.Buffer

// cluster is a reference, a broker and one server on ephemeral loopback
// ports, stopped when the test ends.
type cluster struct {
	reference *reference.Reference
	broker    *broker.Broker
	server    *server.Server
	addr      string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	logs := &syncBuffer{}
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
	refCfg.Log = log.With("role", "reference")
	ref, err := reference.New(refCfg)
	if err != nil {
		t.Fatal(err)
	}
	c.reference = ref
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
	c.broker = b
	run(t, "broker", b.Run)

	// The server's status service must be reachable at a known address,
	// so the test picks a free port instead of port 0.
	c.addr = "tcp://" + freeAddr(t)
	cfg := server.DefaultConfig()
	cfg.Name = "server-1"
	cfg.Addr = c.addr
	cfg.Bind = c.addr
	cfg.Data = t.TempDir()
	cfg.Broker = b.BackendEndpoint()
	cfg.Pub = b.XSubEndpoint()
	cfg.Sub = b.XPubEndpoint()
	cfg.Reference = ref.Endpoint()
	cfg.Lang = "en"
	cfg.HeartbeatEvery = 200 * time.Millisecond
	cfg.CatchUpTimeout = 5 * time.Second
	cfg.Log = log.With("role", "server")
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.server = s
	run(t, cfg.Name, s.Run)
	return c
}

// freeAddr returns a loopback address whose port was free a moment ago,
// outside the ephemeral range where an outgoing connection could take it.
func freeAddr(t *testing.T) string {
	t.Helper()
	ports, err := proto.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(ports[0])
}

// run starts fn and, when the test ends, cancels it and waits for it.
func run(t *testing.T, name string, fn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			// NOTE: a server stopped before it has a rank returns
			// context.Canceled, which is not a failure here.
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("%s: Run returned %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: Run did not return after cancel", name)
		}
	})
}

// probeOnce runs one probe and returns its output line and error.
func probeOnce(t *testing.T, role, endpoint string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cfg := DefaultConfig()
	cfg.Role, cfg.Endpoint, cfg.Out = role, endpoint, &out
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(context.Background())
	return out.String(), err
}

// eventually polls probe until it passes or the deadline expires, and
// returns the last output and error.
func eventually(t *testing.T, role, endpoint string) (string, error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := probeOnce(t, role, endpoint)
		if err == nil || time.Now().After(deadline) {
			return out, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestProbeRunningCluster(t *testing.T) {
	c := startCluster(t)

	out, err := eventually(t, RoleBroker, c.broker.FrontendEndpoint())
	if err != nil {
		t.Fatalf("broker probe: %v", err)
	}
	if !strings.HasPrefix(out, "ok: broker") {
		t.Errorf("broker probe output = %q, want an ok line", out)
	}

	out, err = eventually(t, RoleReference, c.reference.Endpoint())
	if err != nil {
		t.Fatalf("reference probe: %v", err)
	}
	if !strings.HasPrefix(out, "ok: reference") {
		t.Errorf("reference probe output = %q, want an ok line", out)
	}

	out, err = eventually(t, RoleServer, c.addr)
	if err != nil {
		t.Fatalf("server probe: %v", err)
	}
	if !strings.Contains(out, "server server-1") {
		t.Errorf("server probe output = %q, want the server's name", out)
	}
}

// TestProbeBrokerRejectsOtherRoles probes the reference and a server's
// own endpoint as brokers. Both complete the handshake that a broker does,
// so the probe must tell them apart by their reply.
func TestProbeBrokerRejectsOtherRoles(t *testing.T) {
	c := startCluster(t)
	if _, err := eventually(t, RoleServer, c.addr); err != nil {
		t.Fatalf("server probe: %v", err)
	}

	for name, endpoint := range map[string]string{"reference": c.reference.Endpoint(), "server": c.addr} {
		out, err := probeOnce(t, RoleBroker, endpoint)
		if err == nil {
			t.Errorf("broker probe of the %s at %s passed: %q", name, endpoint, out)
			continue
		}
		if !errors.Is(err, ErrWrongRole) {
			t.Errorf("broker probe of the %s: err = %v, want ErrWrongRole", name, err)
		}
	}
}

// TestProbeBrokerWithoutServers probes a broker that no server has
// connected to. The broker replies itself, and the probe must pass,
// because Docker Compose starts the servers only once it passes.
func TestProbeBrokerWithoutServers(t *testing.T) {
	cfg := broker.DefaultConfig()
	cfg.Frontend = "tcp://127.0.0.1:0"
	cfg.Backend = "tcp://127.0.0.1:0"
	cfg.XSub = "tcp://127.0.0.1:0"
	cfg.XPub = "tcp://127.0.0.1:0"
	cfg.Lang = "pt"
	b, err := broker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run(t, "broker", b.Run)

	out, err := eventually(t, RoleBroker, b.FrontendEndpoint())
	if err != nil {
		t.Fatalf("broker probe: %v", err)
	}
	// The broker describes errors in Portuguese here unless the probe
	// requests English.
	want := "ok: broker at " + b.FrontendEndpoint() + " accepts clients and replied: no server is available right now"
	if !strings.HasPrefix(out, want) {
		t.Errorf("broker probe output = %q, want it to start with %q", out, want)
	}
}

// TestProbeBrokerWithFrozenServer probes a broker, with its default
// request timeout, whose one server is connected but never replies. The
// broker replies with its own timeout error only after that timeout, and
// the probe, with its default timeout, must wait for that reply and pass.
func TestProbeBrokerWithFrozenServer(t *testing.T) {
	logs := &syncBuffer{}
	cfg := broker.DefaultConfig()
	cfg.Frontend = "tcp://127.0.0.1:0"
	cfg.Backend = "tcp://127.0.0.1:0"
	cfg.XSub = "tcp://127.0.0.1:0"
	cfg.XPub = "tcp://127.0.0.1:0"
	cfg.Log = slog.New(slog.NewTextHandler(logs, nil))
	b, err := broker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run(t, "broker", b.Run)

	frozen, err := proto.Dial(context.Background(), b.BackendEndpoint(), proto.Dealer, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { frozen.Close() })
	testkit.WaitFor(t, 5*time.Second, "the broker to register the server", func() bool {
		return logs.Contains("server connected")
	})
	received := make(chan struct{})
	go func() {
		// The server reads requests and never replies.
		if _, err := frozen.Recv(); err == nil {
			close(received)
		}
	}()

	started := time.Now()
	out, err := probeOnce(t, RoleBroker, b.FrontendEndpoint())
	if err != nil {
		t.Fatalf("broker probe after %v: %v", time.Since(started).Round(time.Millisecond), err)
	}
	select {
	case <-received:
	default:
		t.Error("the probe's request did not reach the frozen server")
	}
	want := "ok: broker at " + b.FrontendEndpoint() + " accepts clients and replied: the server did not reply in time"
	if !strings.HasPrefix(out, want) {
		t.Errorf("broker probe output = %q, want it to start with %q", out, want)
	}
}

// TestProbeErrorsStayEnglish checks that main's description of a probe
// error in Portuguese keeps the operating system's English text.
func TestProbeErrorsStayEnglish(t *testing.T) {
	_, err := probeOnce(t, RoleBroker, "tcp://"+freeAddr(t))
	if err == nil {
		t.Fatal("probe of a closed port passed")
	}
	got := lang.Describe(err, lang.PT)
	if !strings.Contains(got, "connection refused") || strings.Contains(got, "recusada") {
		t.Errorf("error described in Portuguese as %q, want the English \"connection refused\"", got)
	}
}

func TestProbeWrongSocketType(t *testing.T) {
	c := startCluster(t)

	// The proxy's subscriber side is an XPUB socket, which rejects the
	// probe's REQ handshake, so a probe of the wrong port fails.
	endpoint := c.broker.XPubEndpoint()
	_, err := probeOnce(t, RoleBroker, endpoint)
	if err == nil {
		t.Fatalf("broker probe of the XPUB side %s passed, want an error", endpoint)
	}
	if !strings.Contains(err.Error(), "XPUB") {
		t.Errorf("broker probe error %q does not name the peer's socket type", err)
	}
}

func TestProbeClosedPort(t *testing.T) {
	endpoint := "tcp://" + freeAddr(t)
	for _, role := range []string{RoleBroker, RoleReference, RoleServer} {
		_, err := probeOnce(t, role, endpoint)
		if err == nil {
			t.Errorf("%s probe of closed port %s passed, want an error", role, endpoint)
			continue
		}
		if !strings.Contains(err.Error(), endpoint) {
			t.Errorf("%s probe error %q does not name the endpoint", role, err)
		}
	}
}

func TestNewDefaultsAndValidation(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Role = RoleReference
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.cfg.Endpoint != "tcp://127.0.0.1:5559" {
		t.Errorf("reference default endpoint = %q, want tcp://127.0.0.1:5559", p.cfg.Endpoint)
	}

	cfg = DefaultConfig()
	cfg.Role = "client"
	if _, err := New(cfg); err == nil {
		t.Error("New accepted role client")
	}

	if p.cfg.Timeout != DefaultTimeout {
		t.Errorf("reference default timeout = %v, want %v", p.cfg.Timeout, DefaultTimeout)
	}

	cfg = DefaultConfig()
	cfg.Role = RoleBroker
	if p, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	if p.cfg.Timeout != DefaultBrokerTimeout || DefaultBrokerTimeout <= broker.DefaultRequestTimeout {
		t.Errorf("broker default timeout = %v, want %v, which outlasts the broker's request timeout %v",
			p.cfg.Timeout, DefaultBrokerTimeout, broker.DefaultRequestTimeout)
	}

	cfg = DefaultConfig()
	cfg.Timeout = -time.Second
	if _, err := New(cfg); err == nil {
		t.Error("New accepted a negative timeout")
	}

	for _, endpoint := range []string{"foo", "tcp://127.0.0.1:99999", "tcp://*:5555"} {
		cfg = DefaultConfig()
		cfg.Endpoint = endpoint
		want := fmt.Sprintf("probe: invalid --endpoint %q: use tcp://HOST:PORT", endpoint)
		if _, err := New(cfg); err == nil || err.Error() != want {
			t.Errorf("New with endpoint %q = %v, want %q", endpoint, err, want)
		}
	}
}

// TestProbeReferenceWithClusterKey probes a reference that requires a
// cluster key, as Compose's healthcheck does with MSGSYS_CLUSTER_KEY set.
func TestProbeReferenceWithClusterKey(t *testing.T) {
	cfg := reference.DefaultConfig()
	cfg.Bind = "tcp://127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.ClusterKey = "segredo"
	ref, err := reference.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run(t, "reference", ref.Run)

	probe := func(key string) (string, error) {
		var out bytes.Buffer
		cfg := DefaultConfig()
		cfg.Role, cfg.Endpoint, cfg.ClusterKey, cfg.Out = RoleReference, ref.Endpoint(), key, &out
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = p.Run(context.Background())
		return out.String(), err
	}
	if out, err := probe("segredo"); err != nil || !strings.HasPrefix(out, "ok: reference") {
		t.Errorf("probe with the key: output %q, error %v; want an ok line", out, err)
	}
	if _, err := probe(""); !errors.Is(err, proto.ErrKeyMismatch) {
		t.Errorf("probe without the key: %v, want %v", err, proto.ErrKeyMismatch)
	}
}
