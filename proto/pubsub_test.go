package proto

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testXPub is the subscriber side of a pub/sub proxy for tests: an XPUB
// listener that records each connection's subscriptions and sends a
// publication to the connections subscribed to a prefix of its topic, as
// libzmq's XPUB does.
type testXPub struct {
	t        *testing.T
	endpoint string
	cancel   context.CancelFunc
	done     chan struct{}

	mu    sync.Mutex // guards conns
	conns map[*Conn]map[string]bool
}

// startXPub listens on endpoint, which may name port 0.
func startXPub(t *testing.T, endpoint string) *testXPub {
	t.Helper()
	ln, err := Listen(endpoint, XPub, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return serveXPub(t, ln)
}

// serveXPub serves the proxy's subscriber side on ln until the test ends.
func serveXPub(t *testing.T, ln *Listener) *testXPub {
	ctx, cancel := context.WithCancel(context.Background())
	p := &testXPub{t: t, endpoint: ln.Endpoint(), cancel: cancel, done: make(chan struct{}),
		conns: make(map[*Conn]map[string]bool)}
	go func() {
		defer close(p.done)
		ln.Serve(ctx, p.handle)
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *testXPub) handle(c *Conn) {
	p.mu.Lock()
	p.conns[c] = make(map[string]bool)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	for {
		frames, err := c.Recv()
		if err != nil {
			return
		}
		if len(frames) != 1 || len(frames[0]) == 0 {
			p.t.Errorf("xpub: unexpected message %q", frames)
			continue
		}
		topic := string(frames[0][1:])
		p.mu.Lock()
		switch frames[0][0] {
		case 1:
			p.conns[c][topic] = true
		case 0:
			delete(p.conns[c], topic)
		default:
			p.t.Errorf("xpub: message %q is neither subscribe nor unsubscribe", frames[0])
		}
		p.mu.Unlock()
	}
}

// stop closes the listener and every connection. It may be called twice.
func (p *testXPub) stop() {
	p.cancel()
	<-p.done
}

// subscribed reports whether some connection is subscribed to topic.
func (p *testXPub) subscribed(topic string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, topics := range p.conns {
		if topics[topic] {
			return true
		}
	}
	return false
}

// publish sends [topic, payload] to every connection with a subscription
// that is a prefix of topic, or to every connection when all is set, and
// returns how many it sent to.
func (p *testXPub) publish(topic, payload string, all bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	sent := 0
	for c, topics := range p.conns {
		match := all
		for prefix := range topics {
			match = match || strings.HasPrefix(topic, prefix)
		}
		if match && c.Send([]byte(topic), []byte(payload)) == nil {
			sent++
		}
	}
	return sent
}

// runSubscriber subscribes to topics, runs s until the test ends, and
// checks that Run closes Deliveries when it returns.
func runSubscriber(t *testing.T, endpoint string, topics ...string) *Subscriber {
	t.Helper()
	s := NewSubscriber(endpoint, testLogger(t))
	for _, topic := range topics {
		s.Subscribe(topic)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Subscriber.Run did not return after cancel")
		}
		for range s.Deliveries() {
		}
	})
	return s
}

func nextDelivery(t *testing.T, s *Subscriber, timeout time.Duration) Delivery {
	t.Helper()
	select {
	case d, ok := <-s.Deliveries():
		if !ok {
			t.Fatal("Deliveries closed")
		}
		return d
	case <-time.After(timeout):
		t.Fatalf("no delivery after %v", timeout)
	}
	return Delivery{}
}

func TestSubscriberExactTopic(t *testing.T) {
	proxy := startXPub(t, "tcp://127.0.0.1:0")
	s := runSubscriber(t, proxy.endpoint, "ana")
	waitFor(t, 5*time.Second, "the proxy to see the subscription to ana", func() bool {
		return proxy.subscribed("ana")
	})

	// ZeroMQ matches by prefix, so the proxy sends "anabela" to a
	// subscriber of "ana", and the Subscriber must drop it.
	if n := proxy.publish("anabela", "for anabela", false); n != 1 {
		t.Fatalf("anabela published to %d connections, want 1 (prefix match)", n)
	}
	proxy.publish("bob", "for bob", true)
	proxy.publish("", "no topic", true)
	proxy.publish("ana", "for ana", false)
	if d := nextDelivery(t, s, 5*time.Second); d.Topic != "ana" || string(d.Payload) != "for ana" {
		t.Fatalf("delivery %q %q, want ana's", d.Topic, d.Payload)
	}

	s.Subscribe("anabela")
	waitFor(t, 5*time.Second, "the subscription to anabela", func() bool { return proxy.subscribed("anabela") })
	proxy.publish("anabela", "now for anabela", false)
	if d := nextDelivery(t, s, 5*time.Second); d.Topic != "anabela" || string(d.Payload) != "now for anabela" {
		t.Fatalf("delivery %q %q, want anabela's", d.Topic, d.Payload)
	}

	s.Unsubscribe("ana")
	waitFor(t, 5*time.Second, "the unsubscription from ana", func() bool { return !proxy.subscribed("ana") })
	proxy.publish("ana", "after unsubscribe", true)
	proxy.publish("anabela", "last", false)
	if d := nextDelivery(t, s, 5*time.Second); d.Topic != "anabela" || string(d.Payload) != "last" {
		t.Fatalf("delivery %q %q, want anabela's last", d.Topic, d.Payload)
	}
}

func TestSubscriberResubscribesAfterRestart(t *testing.T) {
	proxy := startXPub(t, "tcp://127.0.0.1:0")
	endpoint := proxy.endpoint
	s := runSubscriber(t, endpoint, "ana", "geral")
	select {
	case <-s.Connected():
	case <-time.After(5 * time.Second):
		t.Fatal("no connection signal")
	}
	waitFor(t, 5*time.Second, "both subscriptions", func() bool {
		return proxy.subscribed("ana") && proxy.subscribed("geral")
	})

	proxy.stop()
	// A topic added while the proxy is down is sent on reconnection too.
	s.Subscribe("bob")
	// Another process may hold the port for a moment, as one of the
	// ephemeral range, so binding it again may take a few tries.
	var restarted *testXPub
	waitFor(t, 5*time.Second, "the proxy's port to be free again", func() bool {
		ln, err := Listen(endpoint, XPub, testLogger(t))
		if err != nil {
			return false
		}
		restarted = serveXPub(t, ln)
		return true
	})
	waitFor(t, 10*time.Second, "the subscriptions to reach the restarted proxy", func() bool {
		return restarted.subscribed("ana") && restarted.subscribed("geral") && restarted.subscribed("bob")
	})
	select {
	case <-s.Connected():
	case <-time.After(5 * time.Second):
		t.Fatal("no signal for the reconnection")
	}
	restarted.publish("geral", "after restart", false)
	if d := nextDelivery(t, s, 5*time.Second); d.Topic != "geral" || string(d.Payload) != "after restart" {
		t.Fatalf("delivery %q %q", d.Topic, d.Payload)
	}
}

// testXSub is the publisher side of a pub/sub proxy for tests: it
// subscribes each publisher to its prefixes, as a proxy forwards its
// subscribers' ones, and passes every publication received to a channel.
type testXSub struct {
	endpoint string
	received chan Delivery
	conns    chan *Conn // each publisher connection, as it connects
	cancel   context.CancelFunc
	done     chan struct{}
}

// restartableEndpoint returns a loopback endpoint whose port lies outside
// the ephemeral range, for a listener that a test stops and binds again:
// a port the system picks for port 0 may be taken meanwhile by any
// outgoing connection.
func restartableEndpoint(t *testing.T) string {
	t.Helper()
	ports, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return "tcp://127.0.0.1:" + strconv.Itoa(ports[0])
}

func startXSub(t *testing.T, endpoint string, prefixes ...string) *testXSub {
	t.Helper()
	ln, err := Listen(endpoint, XSub, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	x := &testXSub{endpoint: ln.Endpoint(), received: make(chan Delivery, 1024), conns: make(chan *Conn, 16), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(x.done)
		ln.Serve(ctx, func(c *Conn) {
			if c.PeerType() != Pub {
				t.Errorf("xsub: peer type %q, want PUB", c.PeerType())
			}
			for _, prefix := range prefixes {
				if err := c.Send(Subscription(true, prefix)); err != nil {
					return
				}
			}
			select {
			case x.conns <- c:
			default:
			}
			for {
				frames, err := c.Recv()
				if err != nil {
					return
				}
				if len(frames) != 2 {
					t.Errorf("xsub: publication of %d frames", len(frames))
					continue
				}
				select {
				case x.received <- Delivery{Topic: string(frames[0]), Payload: frames[1]}:
				default:
				}
			}
		})
	}()
	t.Cleanup(x.stop)
	return x
}

func (x *testXSub) stop() {
	x.cancel()
	<-x.done
}

// publishUntilReceived publishes payload every few milliseconds until the
// sink receives it, since publications sent while the Publisher is still
// connecting are lost by design.
func publishUntilReceived(t *testing.T, p *Publisher, sink *testXSub, topic, payload string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case d := <-sink.received:
			if d.Topic == topic && string(d.Payload) == payload {
				return
			}
		case <-ticker.C:
			p.Publish(topic, []byte(payload))
		case <-deadline:
			t.Fatalf("publication %q on %q never arrived", payload, topic)
		}
	}
}

// runPublisher runs a Publisher to endpoint until the test ends.
func runPublisher(t *testing.T, endpoint string) *Publisher {
	t.Helper()
	return runPublisherAs(t, endpoint, "")
}

// runPublisherAs is runPublisher announcing identity, if not empty.
func runPublisherAs(t *testing.T, endpoint, identity string) *Publisher {
	t.Helper()
	p := NewPublisher(endpoint, testLogger(t))
	p.UseIdentity(identity)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return p
}

func TestPublisherReconnects(t *testing.T) {
	sink := startXSub(t, restartableEndpoint(t), "")
	p := runPublisher(t, sink.endpoint)

	publishUntilReceived(t, p, sink, "geral", "before restart")
	sink.stop()
	restarted := startXSub(t, sink.endpoint, "")
	publishUntilReceived(t, p, restarted, "geral", "after restart")
}

func TestPublisherBurstInOrder(t *testing.T) {
	sink := startXSub(t, "tcp://127.0.0.1:0", "")
	p := runPublisher(t, sink.endpoint)
	publishUntilReceived(t, p, sink, "geral", "connected")

	// A burst queues faster than one write per publication, so the
	// Publisher sends it in batches, which must keep its order.
	const n = 1000
	for i := range n {
		if !p.Publish("burst", []byte(strconv.Itoa(i))) {
			t.Fatalf("publication %d dropped with room in the queue", i)
		}
	}
	deadline := time.After(10 * time.Second)
	for next := 0; next < n; {
		select {
		case d := <-sink.received:
			if d.Topic != "burst" {
				continue // a late copy of the first publication
			}
			if got := string(d.Payload); got != strconv.Itoa(next) {
				t.Fatalf("publication %s arrived where %d was due", got, next)
			}
			next++
		case <-deadline:
			t.Fatalf("%d of %d publications arrived", next, n)
		}
	}
}

// nextPublication returns the next publication the sink receives on one
// of topics, skipping late copies of those publishUntilReceived repeated.
func nextPublication(t *testing.T, sink *testXSub, topics ...string) Delivery {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case d := <-sink.received:
			if slices.Contains(topics, d.Topic) {
				return d
			}
		case <-deadline:
			t.Fatalf("no publication on %q within 5s", topics)
			return Delivery{}
		}
	}
}

func TestPublisherSendsOnlySubscribedTopics(t *testing.T) {
	sink := startXSub(t, restartableEndpoint(t), "ana")
	p := runPublisher(t, sink.endpoint)
	publishUntilReceived(t, p, sink, "ana", "connected")
	conn := <-sink.conns

	// In the order sent, the first to arrive is the first the proxy
	// subscribed to: no subscriber requested bob, and the reserved topic always
	// goes.
	for _, topic := range []string{"bob", ReservedTopic, "anabela", "ana"} {
		p.Publish(topic, []byte("to "+topic))
	}
	topics := []string{"bob", ReservedTopic, "anabela"}
	for _, want := range []string{ReservedTopic, "anabela", "ana"} {
		if d := nextPublication(t, sink, append(topics, "ana")...); d.Topic != want || string(d.Payload) != "to "+want {
			t.Fatalf("got %q on %q, want the publication on %q", d.Payload, d.Topic, want)
		}
	}

	if err := conn.Send(Subscription(false, "ana")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the unsubscription to apply", func() bool { return !p.Wants("ana") })
	p.Publish("ana", []byte("after unsubscribe"))
	p.Publish(ReservedTopic, []byte("marker"))
	if d := nextPublication(t, sink, "ana", ReservedTopic); string(d.Payload) != "marker" {
		t.Fatalf("got %q on %q, want the marker", d.Payload, d.Topic)
	}

	// A new connection starts from the proxy's subscriptions alone.
	if err := conn.Send(Subscription(true, "ana")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the subscription to apply", func() bool { return p.Wants("ana") })
	sink.stop()
	restarted := startXSub(t, sink.endpoint, "geral")
	publishUntilReceived(t, p, restarted, "geral", "reconnected")
	if p.Wants("ana") {
		t.Error("a subscription of the old connection still counts after reconnecting")
	}
}

func TestPublisherQueueFullDrops(t *testing.T) {
	// Nothing runs the Publisher, so the queue fills and Publish reports
	// the drop instead of blocking.
	p := NewPublisher("tcp://127.0.0.1:1", nil)
	accepted := 0
	for range 10000 {
		if p.Publish(ReservedTopic, []byte("x")) {
			accepted++
		}
	}
	if accepted == 0 || accepted == 10000 {
		t.Errorf("Publish accepted %d of 10000 with no connection", accepted)
	}
}

func TestRedialBacksOffFlappingPeer(t *testing.T) {
	// The peer completes every handshake and hangs up at once.
	var accepted atomic.Int32
	ln := serve(t, Router, func(*Conn) { accepted.Add(1) })

	var sessions atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		Redial(ctx, ln.Endpoint(), Dealer, testLogger(t), func(ctx context.Context, c *Conn) error {
			sessions.Add(1)
			_, err := c.Recv()
			return err
		})
	}()
	defer func() {
		cancel()
		<-done
	}()

	// Backing off from redialMin and doubling, the fifth session starts
	// after at least 50+100+200+400 ms. Without backoff it starts at once.
	waitFor(t, 10*time.Second, "five sessions", func() bool { return sessions.Load() >= 5 })
	if elapsed := time.Since(start); elapsed < 700*time.Millisecond {
		t.Errorf("five sessions within %v against a peer that hangs up, want backoff", elapsed)
	}
	// The peer counts a connection after its own side of the handshake,
	// which may finish after the dialer's session has started.
	waitFor(t, 10*time.Second, "five connections at the peer", func() bool { return accepted.Load() >= 5 })
}

func TestRedialNilLogger(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// Nothing listens on port 1, so every dial fails and is logged.
	Redial(ctx, "tcp://127.0.0.1:1", Dealer, nil, func(context.Context, *Conn) error { return nil })
}

func TestRedialStopsOnCancel(t *testing.T) {
	ln := startEcho(t)
	ctx, cancel := context.WithCancel(context.Background())
	connected := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		Redial(ctx, ln.Endpoint(), Dealer, testLogger(t), func(ctx context.Context, c *Conn) error {
			close(connected)
			// A session that only ends when its connection closes: Redial
			// must close it on cancel.
			for {
				if _, err := c.Recv(); err != nil {
					return err
				}
			}
		})
	}()
	select {
	case <-connected:
	case <-time.After(5 * time.Second):
		t.Fatal("never connected")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Redial did not return after cancel")
	}
}

// TestPublisherAnnouncesIdentity checks that a publisher given a name
// announces it, numbered, to the proxy.
func TestPublisherAnnouncesIdentity(t *testing.T) {
	sink := startXSub(t, "tcp://127.0.0.1:0", "")
	runPublisherAs(t, sink.endpoint, "server-9")

	select {
	case c := <-sink.conns:
		if got := c.PeerIdentity(); !strings.HasPrefix(got, "server-9#") {
			t.Errorf("publisher announced %q, want server-9#N", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the publisher did not connect")
	}
}
