package proto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRequesterDropsDuplicateReply(t *testing.T) {
	// The server replies to "double" twice, as a broker might when it sends
	// an error reply and the server's late reply arrives after it. The
	// duplicate waits for sendDuplicate, so it arrives after the first
	// request returned.
	sendDuplicate := make(chan struct{})
	ln := serve(t, Router, func(c *Conn) {
		for {
			frames, err := c.Recv()
			if err != nil {
				return
			}
			if err := c.Send(frames...); err != nil {
				return
			}
			if bytes.Equal(frames[len(frames)-1], []byte("double")) {
				select {
				case <-sendDuplicate:
				case <-c.Done():
					return
				}
				_ = c.Send(frames...)
			}
		}
	})

	r := NewRequester(ln.Endpoint())
	defer r.Close()
	if reply, err := r.Request(context.Background(), []byte("double"), 2*time.Second); err != nil || string(reply) != "double" {
		t.Fatalf("first reply %q, %v", reply, err)
	}

	close(sendDuplicate)
	waitFor(t, 2*time.Second, "the duplicate reply to arrive", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.replies) == 1
	})
	if reply, err := r.Request(context.Background(), []byte("second"), 2*time.Second); err != nil || string(reply) != "second" {
		t.Fatalf("second request got %q, %v; want its own reply", reply, err)
	}
}

func TestRequesterServerClosesMidRequest(t *testing.T) {
	var connections atomic.Int32
	ln := serve(t, Router, func(c *Conn) {
		n := connections.Add(1)
		frames, err := c.Recv()
		if err != nil {
			return
		}
		if n == 1 {
			return // hang up without replying
		}
		_ = c.Send(frames...)
		for {
			if frames, err = c.Recv(); err != nil {
				return
			}
			_ = c.Send(frames...)
		}
	})
	r := NewRequester(ln.Endpoint())
	defer r.Close()
	_, err := r.Request(context.Background(), []byte("lost"), 2*time.Second)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	if reply, err := r.Request(context.Background(), []byte("again"), 2*time.Second); err != nil || string(reply) != "again" {
		t.Fatalf("after redial: %q, %v", reply, err)
	}
	if n := connections.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// TestRequesterRedialsAfterIdleClose hangs up after each reply, as a peer
// that restarts between two requests does. The next request must go out
// on a new connection instead of failing on the closed one.
func TestRequesterRedialsAfterIdleClose(t *testing.T) {
	var connections atomic.Int32
	ln := serve(t, Router, echoOnce(&connections))
	r := NewRequester(ln.Endpoint())
	defer r.Close()
	if reply, err := r.Request(context.Background(), []byte("first"), 2*time.Second); err != nil || string(reply) != "first" {
		t.Fatalf("first request: %q, %v", reply, err)
	}

	// The requester may have dropped the connection already, when it saw
	// the hang-up together with the reply.
	r.mu.Lock()
	conn := r.conn
	r.mu.Unlock()
	if conn != nil {
		select {
		case <-conn.Done():
		case <-time.After(2 * time.Second):
			t.Fatal("the requester did not notice that the server hung up")
		}
	}

	if reply, err := r.Request(context.Background(), []byte("second"), 2*time.Second); err != nil || string(reply) != "second" {
		t.Fatalf("request after the server hung up: %q, %v", reply, err)
	}
	if n := connections.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestRequesterStaleReplyAfterTimeout(t *testing.T) {
	// The server replies to "slow" only after the client gave up. The late
	// reply goes to the dropped connection and never to a later request.
	release := make(chan struct{})
	ln := serve(t, Router, func(c *Conn) {
		for {
			frames, err := c.Recv()
			if err != nil {
				return
			}
			if bytes.Equal(frames[len(frames)-1], []byte("slow")) {
				<-release
			}
			if err := c.Send(frames...); err != nil {
				return
			}
		}
	})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // runs before serve's cleanup, which waits for the handler

	r := NewRequester(ln.Endpoint())
	defer r.Close()
	if _, err := r.Request(context.Background(), []byte("slow"), 50*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	free()
	for i := range 5 {
		if reply, err := r.Request(context.Background(), []byte("fast"), 2*time.Second); err != nil || string(reply) != "fast" {
			t.Fatalf("request %d: %q, %v", i, reply, err)
		}
	}
}

func TestRequesterConcurrentUse(t *testing.T) {
	ln := startEcho(t)
	r := NewRequester(ln.Endpoint())
	defer r.Close()
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			payload := []byte{byte(i)}
			for range 20 {
				reply, err := r.Request(context.Background(), payload, 5*time.Second)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(reply, payload) {
					errs <- errors.New("reply to another request")
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestRequesterClosed(t *testing.T) {
	ln := startEcho(t)
	r := NewRequester(ln.Endpoint())
	if r.Endpoint() != ln.Endpoint() {
		t.Errorf("Endpoint() = %q", r.Endpoint())
	}
	r.Close()
	if _, err := r.Request(context.Background(), []byte("x"), time.Second); !errors.Is(err, ErrClosed) {
		t.Errorf("err = %v, want ErrClosed", err)
	}
}

// TestRequesterReplyBeforeHangUp talks to a server that replies and then
// closes the connection at once. The reply and the close reach the
// requester together, and the reply must win every time. Each request
// waits until the requester has seen the previous connection end, since
// a request sent before that goes out on a connection already closed.
func TestRequesterReplyBeforeHangUp(t *testing.T) {
	var connections atomic.Int32
	ln := serve(t, Router, echoOnce(&connections))
	r := NewRequester(ln.Endpoint())
	defer r.Close()
	for i := range 300 {
		want := fmt.Sprintf("request %d", i)
		reply, err := r.Request(context.Background(), []byte(want), 2*time.Second)
		if err != nil || string(reply) != want {
			t.Fatalf("request %d: %q, %v", i, reply, err)
		}

		r.mu.Lock()
		conn := r.conn
		r.mu.Unlock()
		if conn == nil {
			continue
		}
		select {
		case <-conn.Done():
		case <-time.After(2 * time.Second):
			t.Fatalf("request %d: the requester did not notice that the server hung up", i)
		}
	}
}

// echoOnce returns a handler that counts the connection in connections,
// returns the first request as its reply and hangs up.
func echoOnce(connections *atomic.Int32) func(*Conn) {
	return func(c *Conn) {
		connections.Add(1)
		frames, err := c.Recv()
		if err != nil {
			return
		}
		_ = c.Send(frames...)
	}
}

// silentListener accepts TCP connections and never writes to them, as a
// stopped (SIGSTOP) process does through the kernel's backlog.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, conn := range conns {
			conn.Close()
		}
	})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	return "tcp://" + ln.Addr().String()
}

// TestRequesterHandshakeTimeoutIsRequestTimeout requests from a peer that
// never completes the handshake. The handshake shares the request's
// deadline, so the request must time out with ErrTimeout every time, not
// fail as unreachable when the handshake's deadline passes first.
func TestRequesterHandshakeTimeoutIsRequestTimeout(t *testing.T) {
	endpoint := silentListener(t)
	for i := range 20 {
		r := NewRequester(endpoint)
		_, err := r.Request(context.Background(), []byte("x"), 20*time.Millisecond)
		r.Close()
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("request %d: err = %v, want ErrTimeout", i, err)
		}
	}
}

// TestRequesterHandshakeTimeoutNamesDialLimit requests with a timeout
// longer than the dial timeout from a peer that never completes the
// handshake. The error must name the dial timeout, which cut the
// handshake.
func TestRequesterHandshakeTimeoutNamesDialLimit(t *testing.T) {
	r := NewRequester(silentListener(t))
	defer r.Close()
	r.SetDialTimeout(30 * time.Millisecond)
	_, err := r.Request(context.Background(), []byte("x"), 5*time.Second)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), "handshake timed out after 30ms") {
		t.Errorf("err = %v, want the dial timeout, 30ms, named", err)
	}
}
