package proto

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// TestClusterKeyGuardsListener checks that a listener that requires a
// cluster key serves a requester presenting it, and refuses requesters
// presenting another key or none.
func TestClusterKeyGuardsListener(t *testing.T) {
	ln := serveEcho(t, "segredo")
	ctx := context.Background()

	good := NewKeyedRequester(ln.Endpoint(), "segredo")
	defer good.Close()
	if reply, err := good.Request(ctx, []byte("oi"), 2*time.Second); err != nil || string(reply) != "oi" {
		t.Fatalf("request with the key: %q, %v", reply, err)
	}
	for key, want := range map[string]error{"errado": ErrBadKey, "": ErrKeyMismatch} {
		bad := NewKeyedRequester(ln.Endpoint(), key)
		if reply, err := bad.Request(ctx, []byte("oi"), 500*time.Millisecond); !errors.Is(err, want) {
			t.Errorf("key %q: reply %q, error %v; want %v", key, reply, err, want)
		}
		bad.Close()
	}
}

// TestClusterKeyMaxLength checks that a key of MaxKeyBytes is served and
// that one byte more is not, so the commands' check on MaxKeyBytes rejects
// exactly the keys that could never connect.
func TestClusterKeyMaxLength(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{MaxKeyBytes, MaxKeyBytes + 1} {
		key := strings.Repeat("x", n)
		ln := serveEcho(t, key)
		requester := NewKeyedRequester(ln.Endpoint(), key)
		reply, err := requester.Request(ctx, []byte("oi"), 2*time.Second)
		requester.Close()
		if n <= MaxKeyBytes && (err != nil || string(reply) != "oi") {
			t.Errorf("key of %d bytes: reply %q, error %v; want the echo", n, reply, err)
		}
		if n > MaxKeyBytes && !errors.Is(err, ErrBadKey) {
			t.Errorf("key of %d bytes: reply %q, error %v; want %v", n, reply, err, ErrBadKey)
		}
	}
}

func TestHelloPassword(t *testing.T) {
	body := []byte{6, 'm', 's', 'g', 's', 'y', 's', 3, 'k', 'e', 'y'}
	if got, ok := helloPassword(body); !ok || string(got) != "key" {
		t.Errorf("helloPassword = %q, %v; want key", got, ok)
	}
	for _, bad := range [][]byte{nil, {5, 'a'}, {1, 'a', 4, 'k'}, {1, 'a', 1, 'k', 'x'}} {
		if got, ok := helloPassword(bad); ok {
			t.Errorf("helloPassword(% x) = %q, want a rejection", bad, got)
		}
	}
}

// TestInteropLibzmqPlainClient checks that a libzmq client with PLAIN and
// the cluster key as its password is served, and one with another
// password is not.
func TestInteropLibzmqPlainClient(t *testing.T) {
	requirePython(t, "zmq")
	ln := serveEcho(t, "segredo")

	for password, want := range map[string]bool{"segredo": true, "errado": false} {
		peer := startPython(t, 20*time.Second, "req_plain.py", ln.Endpoint(), password)
		got, _ := peer.Next(10 * time.Second)["reply"].(bool)
		peer.Finish(5 * time.Second)
		if got != want {
			t.Errorf("password %q: served %v, want %v", password, got, want)
		}
	}
}

// serveEcho serves a ROUTER listener that requires key and echoes every
// message, until the test ends.
func serveEcho(t *testing.T, key string) *Listener {
	t.Helper()
	return serveKeyed(t, zmq4.Router, key, echo)
}

// TestListenerBoundsHandshakes holds every handshake slot of a listener
// with connections that send nothing, and checks that one more connection
// is closed at once, and that a real peer connects once the slots free.
func TestListenerBoundsHandshakes(t *testing.T) {
	ln, err := Listen("tcp://127.0.0.1:0", zmq4.Router, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ln.handshakes = make(chan struct{}, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ln.Serve(ctx, func(conn *Conn) { <-conn.Done() })
	}()
	defer func() { cancel(); <-done }()

	addr := hostPort(ln.Endpoint())
	var idle []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	waitFor(t, 2*time.Second, "every slot taken", func() bool { return len(ln.handshakes) == 4 })

	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := extra.Read(make([]byte, 64)); !errors.Is(err, io.EOF) {
		t.Errorf("connection beyond the limit read %d bytes, %v; want it closed", n, err)
	}
	extra.Close()

	for _, c := range idle {
		c.Close()
	}
	waitFor(t, 2*time.Second, "the slots freed", func() bool { return len(ln.handshakes) == 0 })
	conn, err := Dial(ctx, ln.Endpoint(), zmq4.Dealer, 2*time.Second)
	if err != nil {
		t.Fatalf("a real peer after the slots freed: %v", err)
	}
	conn.Close()
}
