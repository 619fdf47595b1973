package broker

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"msgsys/internal/testkit"
	"msgsys/proto"
)

var waitFor = testkit.WaitFor

// testWriter sends log lines to t.Log, so they print only for failing
// tests or with -v.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// testConfig is a broker on ephemeral loopback ports with short timeouts.
func testConfig(tb testing.TB) Config {
	cfg := DefaultConfig()
	cfg.Frontend = "tcp://127.0.0.1:0"
	cfg.Backend = "tcp://127.0.0.1:0"
	cfg.XSub = "tcp://127.0.0.1:0"
	cfg.XPub = "tcp://127.0.0.1:0"
	cfg.RequestTimeout = 2 * time.Second
	cfg.Lang = "en"
	level := slog.LevelInfo
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	cfg.Log = slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: level}))
	return cfg
}

// startBroker runs a broker until the test ends, and checks that Run
// returns promptly once cancelled.
func startBroker(tb testing.TB, cfg Config) *Broker {
	tb.Helper()
	b, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- b.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-stopped:
			if err != nil {
				tb.Errorf("Run returned %v", err)
			}
		case <-time.After(5 * time.Second):
			tb.Error("Run did not return within 5s of cancellation")
		}
	})
	return b
}

// waitServers waits until the broker has n servers connected.
func waitServers(tb testing.TB, b *Broker, n int) {
	tb.Helper()
	waitFor(tb, 5*time.Second, "servers to connect", func() bool {
		count, _ := b.table.counts()
		return count == n
	})
}

// dial connects to endpoint as a socket of type typ, closing the
// connection when the test ends.
func dial(tb testing.TB, endpoint string, typ zmq4.SocketType) *proto.Conn {
	tb.Helper()
	conn, err := proto.Dial(context.Background(), endpoint, typ, 2*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// testServer is a server on the broker's backend, driven by handle: it
// returns the reply to a request, nil to send none, or hangUp to close
// the connection.
type testServer struct {
	conn     *proto.Conn
	received atomic.Int64
	done     chan struct{} // closed when the server's loop ends
}

// startServer connects a server of type typ (proto.Dealer or proto.Rep)
// that runs handle for each request in turn. A REP-type server thus
// replies to one request at a time, as REP requires.
func startServer(tb testing.TB, b *Broker, typ zmq4.SocketType, handle func(frames [][]byte) [][]byte) *testServer {
	tb.Helper()
	s := &testServer{conn: dial(tb, b.BackendEndpoint(), typ), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			frames, err := s.conn.Recv()
			if err != nil {
				return
			}
			s.received.Add(1)
			reply := handle(frames)
			if reply == nil {
				continue
			}
			if len(reply) == 0 {
				s.conn.Close()
				return
			}
			if err := s.conn.Send(reply...); err != nil {
				return
			}
		}
	}()
	tb.Cleanup(func() {
		s.conn.Close()
		<-s.done
	})
	return s
}

// startLateServer connects a DEALER server that holds its first request
// until unblock is called, then replies "late" to it, and echoes every
// later request. unblock runs at the end of the test too, so that a failed
// check does not leave the server blocked while its cleanup waits for it.
func startLateServer(tb testing.TB, b *Broker) (unblock func()) {
	tb.Helper()
	release := make(chan struct{})
	var once sync.Once
	unblock = func() { once.Do(func() { close(release) }) }
	var first atomic.Bool
	startServer(tb, b, proto.Dealer, func(frames [][]byte) [][]byte {
		if first.CompareAndSwap(false, true) {
			<-release
			late := append([][]byte{}, frames[:len(frames)-1]...)
			return append(late, []byte("late"))
		}
		return frames
	})
	tb.Cleanup(unblock) // registered after the server's, so it runs first
	return unblock
}

// requireTimeout sends a users request through r and checks that it
// gets the broker's timeout error.
func requireTimeout(tb testing.TB, r *proto.Requester) {
	tb.Helper()
	reply, err := r.Request(context.Background(), encodeRequest(tb, proto.ServiceUsers, 1), 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	if _, text, _ := decodeError(tb, reply); text != failureTexts[failTimeout].EN {
		tb.Fatalf("description = %q, want the timeout text", text)
	}
}

// requireEchoes sends n requests through r, each named by prefix and its
// number, and checks that each reply is its own echo.
func requireEchoes(tb testing.TB, r *proto.Requester, prefix string, n int) {
	tb.Helper()
	for i := range n {
		payload := fmt.Appendf(nil, "%s %d", prefix, i)
		reply, err := r.Request(context.Background(), payload, 5*time.Second)
		if err != nil {
			tb.Fatalf("request %d: %v", i, err)
		}
		if !bytes.Equal(reply, payload) {
			tb.Fatalf("request %d: reply %q, want its own echo", i, reply)
		}
	}
}

// hangUp is the reply that makes a testServer close its connection.
var hangUp = [][]byte{}

// echo replies with the request itself: same identity, envelope and body.
func echo(frames [][]byte) [][]byte { return frames }

// silent never replies.
func silent([][]byte) [][]byte { return nil }

// encodeRequest encodes a request for service with a given clock.
func encodeRequest(tb testing.TB, service string, clock uint64) []byte {
	tb.Helper()
	payload, err := proto.Encode(service, &proto.EmptyRequest{}, proto.Meta{Timestamp: proto.FormatTime(time.Now()), Clock: clock})
	if err != nil {
		tb.Fatal(err)
	}
	return payload
}

// decodeError decodes a broker error reply and checks its shape: status
// "erro" and the same text under description and message.
func decodeError(tb testing.TB, reply []byte) (service, text string, clock uint64) {
	tb.Helper()
	env, err := proto.Decode(reply)
	if err != nil {
		tb.Fatalf("error reply does not decode: %v", err)
	}
	status, _ := env.Data.String("status")
	if status != proto.StatusError {
		tb.Fatalf("status = %q, want %q", status, proto.StatusError)
	}
	description, err := env.Data.String("description")
	if err != nil {
		tb.Fatalf("description: %v", err)
	}
	message, err := env.Data.String("message")
	if err != nil {
		tb.Fatalf("message: %v", err)
	}
	if description != message {
		tb.Fatalf("description %q differs from message %q", description, message)
	}
	if _, ok, err := env.Data.Timestamp(); !ok || err != nil {
		tb.Fatalf("timestamp missing or invalid: %v", err)
	}
	clock, err = env.Data.Clock()
	if err != nil {
		tb.Fatalf("clock: %v", err)
	}
	return env.Service, description, clock
}

// receiver reads messages from conn on a goroutine of its own, so a test
// can wait for them with a deadline.
type receiver struct {
	messages chan [][]byte
	count    atomic.Int64
	wg       sync.WaitGroup
}

func receive(tb testing.TB, conn *proto.Conn) *receiver {
	r := &receiver{messages: make(chan [][]byte, 1<<16)}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			frames, err := conn.Recv()
			if err != nil {
				return
			}
			r.count.Add(1)
			select {
			case r.messages <- frames:
			default: // a test that only counts does not drain the channel
			}
		}
	}()
	tb.Cleanup(func() {
		conn.Close()
		r.wg.Wait()
	})
	return r
}

// next returns the next message, failing the test after timeout.
func (r *receiver) next(tb testing.TB, timeout time.Duration) [][]byte {
	tb.Helper()
	select {
	case msg := <-r.messages:
		return msg
	case <-time.After(timeout):
		tb.Fatalf("no message within %v", timeout)
		return nil
	}
}

// subscribe sends subscribe (or unsubscribe) messages on a SUB connection.
func subscribe(tb testing.TB, conn *proto.Conn, on bool, topics ...string) {
	tb.Helper()
	for _, topic := range topics {
		if err := conn.Send(proto.Subscription(on, topic)); err != nil {
			tb.Fatal(err)
		}
	}
}

// waitSubscriptions waits until the proxy holds n subscriptions in all.
func waitSubscriptions(tb testing.TB, b *Broker, n int) {
	tb.Helper()
	waitFor(tb, 5*time.Second, "subscriptions to register", func() bool {
		return b.fanout.subscriptionCount() == n
	})
}
