package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"msgsys/proto"
)

func TestRoundRobinSpread(t *testing.T) {
	b := startBroker(t, testConfig(t))
	servers := make([]*testServer, 3)
	for i := range servers {
		servers[i] = startServer(t, b, proto.Dealer, echo)
	}
	waitServers(t, b, 3)

	const clients, perClient = 16, 60
	runClients(t, b, clients, perClient)

	want := clients * perClient / len(servers)
	for i, s := range servers {
		got := int(s.received.Load())
		if got < want*95/100 || got > want*105/100 {
			t.Errorf("server %d handled %d requests, want %d ± 5%%", i, got, want)
		}
	}
}

// runClients sends perClient echo requests from each of n concurrent
// clients and checks that every reply is the client's own request.
func runClients(t *testing.T, b *Broker, n, perClient int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for c := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := proto.NewRequester(b.FrontendEndpoint())
			defer r.Close()
			for i := range perClient {
				payload := fmt.Appendf(nil, "client %d request %d", c, i)
				reply, err := r.Request(context.Background(), payload, 5*time.Second)
				if err != nil {
					errs <- fmt.Errorf("client %d request %d: %w", c, i, err)
					return
				}
				if !bytes.Equal(reply, payload) {
					errs <- fmt.Errorf("client %d request %d: reply %q", c, i, reply)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRepServerOneAtATime(t *testing.T) {
	cfg := testConfig(t)
	cfg.QueueTimeout = 3 * time.Second // 8 clients share one slow server
	b := startBroker(t, cfg)

	// The server counts a violation when a request arrives while it still
	// holds another. It works 2ms on each.
	var outstanding, violations atomic.Int64
	conn := dial(t, b.BackendEndpoint(), proto.Rep)
	work := make(chan [][]byte, 16)
	go func() {
		defer close(work)
		for {
			frames, err := conn.Recv()
			if err != nil {
				return
			}
			if outstanding.Add(1) > 1 {
				violations.Add(1)
			}
			work <- frames
		}
	}()
	go func() {
		for frames := range work {
			<-time.After(2 * time.Millisecond) // the work itself
			outstanding.Add(-1)
			if err := conn.Send(frames...); err != nil {
				return
			}
		}
	}()
	waitServers(t, b, 1)

	runClients(t, b, 8, 10)
	if n := violations.Load(); n > 0 {
		t.Errorf("REP server got %d requests while it held another", n)
	}
}

func TestServerDisconnectMidRequest(t *testing.T) {
	cfg := testConfig(t)
	cfg.RequestTimeout = 4 * time.Second
	b := startBroker(t, cfg)
	startServer(t, b, proto.Dealer, func([][]byte) [][]byte { return hangUp })
	waitServers(t, b, 1)

	r := proto.NewRequester(b.FrontendEndpoint())
	defer r.Close()
	start := time.Now()
	reply, err := r.Request(context.Background(), encodeRequest(t, proto.ServiceLogin, 1), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("error reply after %v, want it well before the 4s request timeout", elapsed)
	}
	service, text, _ := decodeError(t, reply)
	if service != proto.ServiceLogin {
		t.Errorf("service = %q, want %q", service, proto.ServiceLogin)
	}
	if want := failureTexts[failDisconnected].EN; text != want {
		t.Errorf("description = %q, want %q", text, want)
	}
	if !retryFlag(t, reply) {
		t.Error("the reply to a request whose server disconnected lacks retry")
	}
	waitServers(t, b, 0)
}

// retryFlag reports the retry key of an error reply.
func retryFlag(t *testing.T, reply []byte) bool {
	t.Helper()
	env, err := proto.Decode(reply)
	if err != nil {
		t.Fatal(err)
	}
	retry, _ := env.Data["retry"].(bool)
	return retry
}

func TestStalledServerSkipped(t *testing.T) {
	cfg := testConfig(t)
	cfg.RequestTimeout = 300 * time.Millisecond
	b := startBroker(t, cfg)
	stuck := startServer(t, b, proto.Dealer, silent)
	waitServers(t, b, 1)
	healthy := startServer(t, b, proto.Dealer, echo)
	waitServers(t, b, 2)

	r := proto.NewRequester(b.FrontendEndpoint())
	defer r.Close()

	// The first request goes to the stuck server, which joined first.
	start := time.Now()
	reply, err := r.Request(context.Background(), encodeRequest(t, proto.ServiceUsers, 1), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	service, text, _ := decodeError(t, reply)
	if want := failureTexts[failTimeout].EN; text != want {
		t.Fatalf("description = %q, want %q", text, want)
	}
	if !retryFlag(t, reply) {
		t.Error("the reply to a request whose server stalled lacks retry")
	}
	if service != proto.ServiceUsers {
		t.Errorf("service = %q, want %q", service, proto.ServiceUsers)
	}
	if elapsed < cfg.RequestTimeout || elapsed > cfg.RequestTimeout+2*time.Second {
		t.Errorf("timeout error after %v, want about %v", elapsed, cfg.RequestTimeout)
	}

	// Another client, so that only the stalled mark keeps the stuck
	// server out of the rotation.
	other := proto.NewRequester(b.FrontendEndpoint())
	defer other.Close()
	for i := range 20 {
		payload := fmt.Appendf(nil, "after stall %d", i)
		reply, err := other.Request(context.Background(), payload, 5*time.Second)
		if err != nil {
			t.Fatalf("request %d after the stall: %v", i, err)
		}
		if !bytes.Equal(reply, payload) {
			t.Fatalf("request %d after the stall: reply %q", i, reply)
		}
	}
	if n := stuck.received.Load(); n != 1 {
		t.Errorf("stuck server received %d requests, want 1", n)
	}
	if n := healthy.received.Load(); n != 20 {
		t.Errorf("healthy server received %d requests, want 20", n)
	}
}

func TestLateReplyDropped(t *testing.T) {
	cfg := testConfig(t)
	cfg.RequestTimeout = 200 * time.Millisecond
	b := startBroker(t, cfg)

	unblock := startLateServer(t, b)
	waitServers(t, b, 1)

	r := proto.NewRequester(b.FrontendEndpoint())
	defer r.Close()
	requireTimeout(t, r)

	// The server is stalled until its late reply, which the broker drops.
	unblock()
	waitFor(t, 5*time.Second, "the late reply to unstall the server", func() bool {
		b.table.mu.Lock()
		defer b.table.mu.Unlock()
		s := b.table.servers[0]
		return !s.stalled && len(s.pending) == 0
	})
	requireEchoes(t, r, "after late reply", 5)
}

func TestNoServerError(t *testing.T) {
	b := startBroker(t, testConfig(t))
	r := proto.NewRequester(b.FrontendEndpoint())
	defer r.Close()

	start := time.Now()
	reply, err := r.Request(context.Background(), encodeRequest(t, proto.ServiceChannels, 1000), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("error reply after %v, want it after the queue time of %v", elapsed, DefaultQueueTimeout)
	}
	service, text, clock := decodeError(t, reply)
	if service != proto.ServiceChannels {
		t.Errorf("service = %q, want %q", service, proto.ServiceChannels)
	}
	if want := failureTexts[failNoServer].EN; text != want {
		t.Errorf("description = %q, want %q", text, want)
	}
	if clock <= 1000 {
		t.Errorf("reply clock %d, want it past the request's 1000", clock)
	}

	// An undecodable request gets service "error".
	reply, err = r.Request(context.Background(), []byte{0xc1, 0x00}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if service, _, _ := decodeError(t, reply); service != proto.ServiceError {
		t.Errorf("service of the reply to garbage = %q, want %q", service, proto.ServiceError)
	}
}

// TestRequestWaitsForServerToConnect sends a request while no server is
// connected, as right after a restart of the broker, and connects one
// within the queue time.
func TestRequestWaitsForServerToConnect(t *testing.T) {
	cfg := testConfig(t)
	cfg.QueueTimeout = 5 * time.Second
	b := startBroker(t, cfg)
	r := proto.NewRequester(b.FrontendEndpoint())
	defer r.Close()

	request := encodeRequest(t, proto.ServiceChannels, 1)
	type result struct {
		reply []byte
		err   error
	}
	done := make(chan result, 1)
	go func() {
		reply, err := r.Request(context.Background(), request, 10*time.Second)
		done <- result{reply, err}
	}()
	waitFor(t, 5*time.Second, "the request to wait for a server", func() bool {
		b.table.mu.Lock()
		defer b.table.mu.Unlock()
		return len(b.table.waiting) == 1
	})

	startServer(t, b, proto.Dealer, echo)
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if string(res.reply) != string(request) {
		t.Errorf("reply %q, want the server's echo of the request", res.reply)
	}
}

func TestPortugueseErrorText(t *testing.T) {
	r := portugueseBroker(t)

	reply, err := r.Request(context.Background(), encodeRequest(t, proto.ServiceUsers, 1), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, text, _ := decodeError(t, reply); text != failureTexts[failNoServer].PT {
		t.Errorf("description = %q, want the Portuguese text", text)
	}
	// With no server, sending the request again at once gets the same.
	if retryFlag(t, reply) {
		t.Error("the reply for no server carries retry")
	}
}

// TestErrorTextInRequestedLanguage requests English from a Portuguese
// broker with no server.
func TestErrorTextInRequestedLanguage(t *testing.T) {
	r := portugueseBroker(t)

	frame, err := proto.Encode(proto.ServiceUsers, &proto.EmptyRequest{}, proto.Meta{Clock: 1, Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := r.Request(context.Background(), frame, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, text, _ := decodeError(t, reply); text != failureTexts[failNoServer].EN {
		t.Errorf("description = %q, want the English text", text)
	}
}

// TestTooLargeRequestKeepsServiceAndLanguage sends a Portuguese broker an
// English publish over the size limit. The reply must name publish and
// carry the English reason under message, where publish clients read it.
func TestTooLargeRequestKeepsServiceAndLanguage(t *testing.T) {
	r := portugueseBroker(t)

	post := &proto.PublishRequest{User: "ana", Channel: "geral", Message: strings.Repeat("x", MaxRequestBytes)}
	frame, err := proto.Encode(proto.ServicePublish, post, proto.Meta{Clock: 1, Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := r.Request(context.Background(), frame, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	env, err := proto.Decode(reply)
	if err != nil {
		t.Fatal(err)
	}
	if env.Service != proto.ServicePublish {
		t.Errorf("reply service %q, want publish", env.Service)
	}
	if got, _, _ := env.Data.OptString("message"); got != failureTexts[failTooLarge].EN {
		t.Errorf("message %q, want the English %q", got, failureTexts[failTooLarge].EN)
	}
}

func TestNoServerNamesKeyRejection(t *testing.T) {
	cfg := testConfig(t)
	cfg.ClusterKey = "broker-test-key"
	b := startBroker(t, cfg)
	r := proto.NewRequester(b.FrontendEndpoint())
	defer r.Close()
	request := func() string {
		reply, err := r.Request(context.Background(), encodeRequest(t, proto.ServiceUsers, 1), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_, text, _ := decodeError(t, reply)
		return text
	}
	if text := request(); text != failureTexts[failNoServer].EN {
		t.Fatalf("description before any rejection = %q, want %q", text, failureTexts[failNoServer].EN)
	}

	// A server without the key fails its handshake at the server side.
	_, err := proto.Dial(context.Background(), b.BackendEndpoint(), proto.Dealer, time.Second)
	if !errors.Is(err, proto.ErrKeyMismatch) {
		t.Fatalf("dial without the key: %v, want %v", err, proto.ErrKeyMismatch)
	}
	want := failureTexts[failNoServer].EN + " " + textKeyRejected.EN
	waitFor(t, 5*time.Second, "the key hint in the no-server reply", func() bool {
		return request() == want
	})
}

func TestConcurrentClientsRouting(t *testing.T) {
	b := startBroker(t, testConfig(t))
	startServer(t, b, proto.Dealer, echo)
	startServer(t, b, proto.Dealer, echo)
	startServer(t, b, proto.Rep, echo)
	waitServers(t, b, 3)
	runClients(t, b, 16, 100)
}

func TestDealerClientEnvelope(t *testing.T) {
	b := startBroker(t, testConfig(t))
	startServer(t, b, proto.Dealer, echo)
	waitServers(t, b, 1)

	// A DEALER client keeps several requests in flight, distinguished by
	// the envelope frames before the delimiter.
	conn := dial(t, b.FrontendEndpoint(), proto.Dealer)
	replies := receive(t, conn)
	for i := range 10 {
		if err := conn.Send(fmt.Appendf(nil, "id-%d", i), []byte{}, fmt.Appendf(nil, "body-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	seen := make(map[string]bool)
	for range 10 {
		msg := replies.next(t, 5*time.Second)
		if len(msg) != 3 || len(msg[1]) != 0 {
			t.Fatalf("reply %q, want [envelope, delimiter, body]", msg)
		}
		id, body := string(msg[0]), string(msg[2])
		if "body-"+id[len("id-"):] != body {
			t.Errorf("envelope %q came back with body %q", id, body)
		}
		seen[id] = true
	}
	if len(seen) != 10 {
		t.Errorf("got replies for %d distinct envelopes, want 10", len(seen))
	}
}

// portugueseBroker starts a broker with no server whose own language is
// Portuguese, and returns a requester to its client side.
func portugueseBroker(t *testing.T) *proto.Requester {
	t.Helper()
	cfg := testConfig(t)
	cfg.Lang = "pt"
	b := startBroker(t, cfg)
	r := proto.NewRequester(b.FrontendEndpoint())
	t.Cleanup(r.Close)
	return r
}

// TestSilentServerDisconnected leaves a request unanswered for ten request
// timeouts. The broker then closes the server's connection: a reply even
// later would be taken for the reply to the same client's next request,
// which the server could hold by then.
func TestSilentServerDisconnected(t *testing.T) {
	cfg := testConfig(t)
	cfg.RequestTimeout = 100 * time.Millisecond
	cfg.HedgeAfter = 0
	b := startBroker(t, cfg)
	startLateServer(t, b)
	waitServers(t, b, 1)
	startServer(t, b, proto.Dealer, echo)
	waitServers(t, b, 2)

	r := proto.NewRequester(b.FrontendEndpoint())
	defer r.Close()
	requireTimeout(t, r)

	waitServers(t, b, 1)
	requireEchoes(t, r, "after the disconnect", 5)
}
