package bench

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/broker"
)

// brokerError is an error reply of the broker itself, which sets both
// description and message to the same text.
type brokerError struct {
	Status      string `msgpack:"status"`
	Description string `msgpack:"description,omitempty"`
	Message     string `msgpack:"message,omitempty"`
	Timestamp   string `msgpack:"timestamp"`
	Clock       uint64 `msgpack:"clock"`
}

// brokerReason is the reason fakeBroker's replies carry.
const brokerReason = "nenhum servidor disponível"

// fakeBroker runs a ROUTER on a loopback port that replies to each
// request of its n-th connection (from 1) with the status that reply
// returns, or not at all when reply returns false. It stops with ctx.
func fakeBroker(t *testing.T, ctx context.Context, reply func(conn int) (string, bool)) string {
	t.Helper()
	ln, err := proto.Listen("tcp://127.0.0.1:0", zmq4.Router, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int32
	go func() {
		_ = ln.Serve(ctx, func(conn *proto.Conn) {
			n := int(conns.Add(1))
			for {
				frames, err := conn.Recv()
				if err != nil {
					return
				}
				status, ok := reply(n)
				if !ok {
					continue
				}
				reply := &brokerError{Status: status, Description: brokerReason, Message: brokerReason}
				payload, err := proto.Encode(proto.ServicePublish, reply, proto.NewClocks().Meta())
				if err != nil {
					t.Error(err)
					return
				}
				if err := conn.Send(frames[0], []byte{}, payload); err != nil {
					return
				}
			}
		})
	}()
	return ln.Endpoint()
}

// publishFrame returns a publish request frame.
func publishFrame(t *testing.T) []byte {
	t.Helper()
	frame, err := proto.Encode(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: "oi"}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	return frame
}

// TestCallCountsErrorReplies replies to a request as a broker without
// servers does, and checks that the bench's client takes that for a
// rejection. A success reply must count as a success.
func TestCallCountsErrorReplies(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	status := make(chan string, 2)
	status <- "erro"
	status <- "OK"
	endpoint := fakeBroker(t, ctx, func(int) (string, bool) { return <-status, true })

	c := newClient(endpoint, proto.NewClocks())
	defer c.close()
	frame := publishFrame(t)
	err := c.call(ctx, proto.ServicePublish, frame, 5*time.Second)
	if !errors.Is(err, errRejected) {
		t.Errorf("error reply gave %v, want errRejected", err)
	}
	if err != nil && strings.Count(err.Error(), brokerReason) != 1 {
		t.Errorf("error %q does not state the reason %q exactly once", err, brokerReason)
	}
	if err := c.call(ctx, proto.ServicePublish, frame, 5*time.Second); err != nil {
		t.Errorf("success reply gave %v", err)
	}
}

// TestClientTimesOutAndRedials leaves the requests of the first
// connection without a reply: the client gives up at its deadline, and
// its next request goes over a new connection, to which the server replies.
func TestClientTimesOutAndRedials(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var last atomic.Int32
	endpoint := fakeBroker(t, ctx, func(conn int) (string, bool) {
		last.Store(int32(conn))
		return "OK", conn > 1
	})

	c := newClient(endpoint, proto.NewClocks())
	defer c.close()
	frame := publishFrame(t)
	if err := c.call(ctx, proto.ServicePublish, frame, 200*time.Millisecond); !errors.Is(err, proto.ErrTimeout) {
		t.Fatalf("unanswered request gave %v, want ErrTimeout", err)
	}
	if err := c.call(ctx, proto.ServicePublish, frame, 5*time.Second); err != nil {
		t.Fatalf("request after a timeout gave %v", err)
	}
	if n := last.Load(); n != 2 {
		t.Errorf("the reply came on connection %d, want a new one after the timeout", n)
	}
}

// TestClientRequestsEnglishDescriptions sends a login to a broker that
// runs in Portuguese and has no server. bench writes English, so its
// requests name English, and the broker's reason must arrive in it.
func TestClientRequestsEnglishDescriptions(t *testing.T) {
	cfg := broker.DefaultConfig()
	cfg.Frontend, cfg.Backend, cfg.XSub, cfg.XPub = "tcp://127.0.0.1:0", "tcp://127.0.0.1:0", "", ""
	cfg.Lang = lang.PT
	cfg.Log = slog.New(slog.DiscardHandler)
	b, err := broker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()

	c := newClient(b.FrontendEndpoint(), proto.NewClocks())
	defer c.close()
	err = c.login(ctx, "ana", 5*time.Second)
	if !errors.Is(err, errRejected) {
		t.Fatalf("login with no server gave %v, want errRejected", err)
	}
	if !strings.Contains(err.Error(), "no server is available") {
		t.Errorf("error %q, want the broker's reason in English", err)
	}
}
