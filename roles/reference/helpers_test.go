package reference

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/lang"
	"msgsys/proto"
)

var waitFor = testkit.WaitFor

type logBuffer = testkit.Buffer

// requestTimeout bounds every request a test sends.
const requestTimeout = 5 * time.Second

// running is a reference started by a test.
type running struct {
	ref    *Reference
	logs   *logBuffer
	cancel context.CancelFunc
	done   chan error
}

// startReference runs a reference on 127.0.0.1 with an ephemeral port and
// its registration file in dir, and stops it when the test ends. edit, if
// not nil, changes the config before New.
func startReference(t *testing.T, dir string, edit func(*Config)) *running {
	t.Helper()
	logs := &logBuffer{}
	cfg := DefaultConfig()
	cfg.Bind = "tcp://127.0.0.1:0"
	cfg.DataDir = dir
	cfg.Lang = lang.EN
	cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if edit != nil {
		edit(&cfg)
	}
	ref, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	run := &running{ref: ref, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { run.done <- ref.Run(ctx) }()
	t.Cleanup(func() { run.stop(t) })
	return run
}

// stop cancels Run and waits for it to return. Calling it twice is safe.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("Run returned %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of cancellation")
	}
}

// client sends requests to a reference with its own Lamport clock.
type client struct {
	t     *testing.T
	req   *proto.Requester
	clock uint64
}

func newClient(t *testing.T, endpoint string) *client {
	t.Helper()
	req := proto.NewRequester(endpoint)
	t.Cleanup(req.Close)
	return &client{t: t, req: req}
}

// call encodes data under service with the client's next clock, sends it,
// and decodes the reply.
func (c *client) call(service string, data any) proto.Envelope {
	c.t.Helper()
	c.clock++
	frame, err := proto.Encode(service, data, proto.Meta{Timestamp: proto.FormatTime(time.Now()), Clock: c.clock})
	if err != nil {
		c.t.Fatalf("encode %s: %v", service, err)
	}
	return c.raw(frame)
}

// raw sends a payload as is and decodes the reply.
func (c *client) raw(payload []byte) proto.Envelope {
	c.t.Helper()
	reply, err := c.req.Request(context.Background(), payload, requestTimeout)
	if err != nil {
		c.t.Fatalf("request: %v", err)
	}
	env, err := proto.Decode(reply)
	if err != nil {
		c.t.Fatalf("decode reply %x: %v", reply, err)
	}
	return env
}

// rank registers name and returns its rank, failing the test on an error
// reply.
func (c *client) rank(name, addr string) int64 {
	c.t.Helper()
	env := c.call(proto.ServiceRank, &proto.RankRequest{User: name, Addr: addr})
	if env.Service != proto.ServiceRank {
		c.t.Fatalf("rank %q: reply service %q, data %v", name, env.Service, env.Data)
	}
	rank, ok, err := env.Data.OptInt("rank")
	if err != nil || !ok {
		c.t.Fatalf("rank %q: reply without an integer rank: %v", name, env.Data)
	}
	return rank
}

// heartbeat sends a heartbeat and fails the test on an error reply.
func (c *client) heartbeat(name, addr string) {
	c.t.Helper()
	env := c.call(proto.ServiceHeartbeat, &proto.HeartbeatRequest{User: name, Addr: addr})
	if env.Service != proto.ServiceHeartbeat || env.Data["status"] != nil {
		c.t.Fatalf("heartbeat %q: reply service %q, data %v", name, env.Service, env.Data)
	}
}

// list returns the available servers.
func (c *client) list() []proto.ServerInfo {
	c.t.Helper()
	return c.listUnder("list")
}

// registered returns every registered server, from the registered key of a
// list reply.
func (c *client) registered() []proto.ServerInfo {
	c.t.Helper()
	return c.listUnder("registered")
}

// listUnder sends list and returns the servers under key of the reply.
func (c *client) listUnder(key string) []proto.ServerInfo {
	c.t.Helper()
	env := c.call(proto.ServiceList, &proto.EmptyRequest{})
	if env.Service != proto.ServiceList {
		c.t.Fatalf("list: reply service %q, data %v", env.Service, env.Data)
	}
	items, ok := env.Data[key].([]any)
	if !ok {
		c.t.Fatalf("list: reply without a %s array: %v", key, env.Data)
	}
	servers := make([]proto.ServerInfo, 0, len(items))
	for _, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			c.t.Fatalf("list: item %v is not a map", item)
		}
		d := proto.Data(m)
		name, err := d.String("name")
		if err != nil {
			c.t.Fatalf("list: item %v: %v", m, err)
		}
		rank, _, err := d.OptInt("rank")
		if err != nil {
			c.t.Fatalf("list: item %v: %v", m, err)
		}
		addr, _, err := d.OptString("addr")
		if err != nil {
			c.t.Fatalf("list: item %v: %v", m, err)
		}
		servers = append(servers, proto.ServerInfo{Name: name, Rank: rank, Addr: addr})
	}
	return servers
}

// names returns the names of servers, in order.
func names(servers []proto.ServerInfo) []string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = s.Name
	}
	return out
}
