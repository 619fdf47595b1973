package proto

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// startEcho serves a ROUTER that echoes every request, or stays silent for
// payloads equal to "silent".
func startEcho(t *testing.T) *Listener {
	t.Helper()
	ln, err := Listen("tcp://127.0.0.1:0", Router, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ln.Serve(ctx, func(c *Conn) {
			for {
				frames, err := c.Recv()
				if err != nil {
					return
				}
				if bytes.Equal(frames[len(frames)-1], []byte("silent")) {
					continue
				}
				if err := c.Send(frames...); err != nil {
					return
				}
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ln
}

func TestRequesterEcho(t *testing.T) {
	ln := startEcho(t)
	r := NewRequester(ln.Endpoint())
	defer r.Close()
	for _, size := range []int{0, 1, 255, 256, 100000} {
		payload := bytes.Repeat([]byte{'x'}, size)
		reply, err := r.Request(context.Background(), payload, time.Second)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !bytes.Equal(reply, payload) {
			t.Fatalf("size %d: reply of %d bytes", size, len(reply))
		}
	}
}

func TestRequesterTimeoutThenRecovers(t *testing.T) {
	ln := startEcho(t)
	r := NewRequester(ln.Endpoint())
	defer r.Close()
	if _, err := r.Request(context.Background(), []byte("silent"), 100*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	reply, err := r.Request(context.Background(), []byte("after"), time.Second)
	if err != nil || string(reply) != "after" {
		t.Fatalf("reply %q, err %v", reply, err)
	}
}

func TestRequesterUnreachable(t *testing.T) {
	r := NewRequester("tcp://127.0.0.1:1")
	defer r.Close()
	if _, err := r.Request(context.Background(), []byte("x"), time.Second); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
}
