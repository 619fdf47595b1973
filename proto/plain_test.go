package proto

import (
	"context"
	"errors"
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
		got, _ := peer.next(10 * time.Second)["reply"].(bool)
		peer.wait(5 * time.Second)
		if got != want {
			t.Errorf("password %q: served %v, want %v", password, got, want)
		}
	}
}

// serveEcho serves a ROUTER listener that requires key and echoes every
// message, until the test ends.
func serveEcho(t *testing.T, key string) *Listener {
	t.Helper()
	ln, err := Listen("tcp://127.0.0.1:0", zmq4.Router, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ln.RequireKey(key)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ln.Serve(ctx, func(conn *Conn) {
			for {
				frames, err := conn.Recv()
				if err != nil {
					return
				}
				if err := conn.Send(frames...); err != nil {
					return
				}
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ln
}
