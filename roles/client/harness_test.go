package client

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"msgsys/roles/client/clienttest"
)

// waitTimeout bounds every wait for output in these tests.
const waitTimeout = 5 * time.Second

// output is an io.Writer that tests can read while the client writes.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// harness runs a Client whose input is a pipe the test writes lines to.
type harness struct {
	t      *testing.T
	client *Client
	in     *io.PipeWriter
	out    *output
	done   chan struct{} // closed when Run returns
	err    error         // Run's result, set before done is closed
	cancel context.CancelFunc
}

// testConfig returns a client configuration for srv with short timeouts.
func testConfig(t *testing.T, srv *clienttest.Server, l string) Config {
	cfg := DefaultConfig()
	cfg.Broker, cfg.Sub = srv.Broker(), srv.Sub()
	cfg.Lang = l
	cfg.Timeout = 500 * time.Millisecond
	cfg.Log = testLogger(t)
	return cfg
}

// testLogger sends logs to t.Log, so they show only for failing tests.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startClient runs a client with cfg, reading from a pipe.
func startClient(t *testing.T, cfg Config) *harness {
	t.Helper()
	reader, writer := io.Pipe()
	out := &output{}
	cfg.In, cfg.Out = reader, out
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, client: c, in: writer, out: out, done: make(chan struct{}), cancel: cancel}
	go func() {
		h.err = c.Run(ctx)
		close(h.done)
	}()
	t.Cleanup(func() {
		cancel()
		writer.Close()
		select {
		case <-h.done:
		case <-time.After(waitTimeout):
			t.Error("client did not stop after cancellation")
		}
	})
	return h
}

// send types lines into the client.
func (h *harness) send(lines ...string) {
	h.t.Helper()
	if _, err := io.WriteString(h.in, strings.Join(lines, "\n")+"\n"); err != nil {
		h.t.Fatalf("write input: %v", err)
	}
}

// type_ sends keys to the client as a terminal in raw mode does: Enter
// is a carriage return.
func (h *harness) type_(keys string) {
	h.t.Helper()
	if _, err := io.WriteString(h.in, keys); err != nil {
		h.t.Fatalf("write input: %v", err)
	}
}

// waitFor waits until the output contains want.
func (h *harness) waitFor(want string) {
	h.t.Helper()
	h.waitCount(want, 1)
}

// waitCount waits until the output contains want at least n times.
func (h *harness) waitCount(want string, n int) {
	h.t.Helper()
	if !eventually(func() bool { return strings.Count(h.out.String(), want) >= n }) {
		h.t.Fatalf("output lacks %d× %q; output:\n%s", n, want, h.out.String())
	}
}

// finish closes the input and waits for Run to return.
func (h *harness) finish() {
	h.t.Helper()
	h.in.Close()
	h.waitExit()
}

// waitExit waits for Run to return by itself.
func (h *harness) waitExit() {
	h.t.Helper()
	select {
	case <-h.done:
		if h.err != nil {
			h.t.Fatalf("Run: %v", h.err)
		}
	case <-time.After(waitTimeout):
		h.t.Fatalf("client did not exit; output:\n%s", h.out.String())
	}
}

// eventually polls cond until it holds or waitTimeout passes.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(waitTimeout)
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-ticker.C
	}
	return true
}

// assertOrder fails unless the items appear in out in this order.
func assertOrder(t *testing.T, out string, items ...string) {
	t.Helper()
	last := -1
	for _, item := range items {
		i := strings.Index(out, item)
		if i < 0 {
			t.Fatalf("output lacks %q; output:\n%s", item, out)
		}
		if i < last {
			t.Fatalf("%q appears before the item preceding it; output:\n%s", item, out)
		}
		last = i
	}
}
