package server

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"msgsys/proto"
)

// TestPauseCatchesUpOnce makes a server find that it stood still, then
// requests a second catch-up while the first runs, as the watchdog or a
// request from the paused moment can. A listed peer that never replies
// keeps the first catch-up running. One catch-up must cover both.
func TestPauseCatchesUpOnce(t *testing.T) {
	c := startCluster(t, 1)
	s := c.servers[serverName(1)].server
	cl := c.client()
	cl.waitAnswered()
	listGhostAt(t, c, "tcp://"+silentListener(t))

	s.awake.Store(time.Now().Add(-5 * time.Second).UnixNano())
	env := cl.call(proto.ServiceUsers, &proto.EmptyRequest{})
	if _, ok := env.Data["users"]; ok {
		t.Error("a request was served while the server counted as paused")
	}
	waitFor(t, 5*time.Second, "the catch-up to start", func() bool { return s.catchingUp.Load() })
	s.requestResync()

	waitFor(t, 10*time.Second, "the server to serve again", func() bool {
		return !s.catchingUp.Load() && s.Serving()
	})
	cl.waitAnswered()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	if n := s.pauses.Load(); n != 1 {
		t.Errorf("the server caught up %d times after one pause", n)
	}
}

// silentListener accepts TCP connections and never sends a byte, until
// the test ends. It returns its address.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
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
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, conn := range conns {
			conn.Close()
		}
	})
	return ln.Addr().String()
}

// TestUndecodedRejectionsKeepServiceAndLanguage sends a Portuguese server
// English publishes that it rejects before decoding them: one too large,
// and one while it counts as paused. Each reply must name publish and
// carry an English reason under message, as publish clients read it.
func TestUndecodedRejectionsKeepServiceAndLanguage(t *testing.T) {
	c := startCluster(t, 1)
	s := c.servers[serverName(1)].server
	cl := c.client()

	publish := func(text string) []byte {
		frame, err := proto.Encode(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: text}, proto.Meta{Clock: 1, Lang: "en"})
		if err != nil {
			t.Fatal(err)
		}
		return frame
	}
	check := func(what string, env proto.Envelope, want string) {
		t.Helper()
		if env.Service != proto.ServicePublish {
			t.Errorf("%s: reply service %q, want publish", what, env.Service)
		}
		if got, _, _ := env.Data.OptString("message"); !strings.HasPrefix(got, want) {
			t.Errorf("%s: message %q, want it to start with %q", what, got, want)
		}
	}

	check("too large", cl.raw(publish(strings.Repeat("x", MaxRequestBytes))), "request too large")

	// The handler is called directly: through the broker the reply would
	// race with the catch-up that the pause starts, which closes the
	// broker connection.
	s.awake.Store(time.Now().Add(-5 * time.Second).UnixNano())
	env, err := proto.Decode(s.handleClient(context.Background(), publish("oi")))
	if err != nil {
		t.Fatal(err)
	}
	check("paused", env, textCatchingUp.EN)
}
