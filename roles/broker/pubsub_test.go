package broker

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"msgsys/proto"
)

// publish sends one publication.
func publish(tb testing.TB, pub *proto.Conn, topic string, payload []byte) {
	tb.Helper()
	if err := pub.Send([]byte(topic), payload); err != nil {
		tb.Fatal(err)
	}
}

func TestPubSubExactDelivery(t *testing.T) {
	b := startBroker(t, testConfig(t))
	var subs []*receiver
	for range 2 {
		conn := dial(t, b.XPubEndpoint(), proto.Sub)
		subscribe(t, conn, true, "geral")
		subs = append(subs, receive(t, conn))
	}
	waitSubscriptions(t, b, 2)

	pub := dial(t, b.XSubEndpoint(), proto.Pub)
	const n = 1000
	for i := range n {
		publish(t, pub, "geral", strconv.AppendInt(nil, int64(i), 10))
	}
	for s, sub := range subs {
		for i := range n {
			msg := sub.next(t, 5*time.Second)
			if len(msg) != 2 || string(msg[0]) != "geral" || string(msg[1]) != strconv.Itoa(i) {
				t.Fatalf("subscriber %d, message %d: got %q", s, i, msg)
			}
		}
	}
}

func TestPubSubPrefixMatching(t *testing.T) {
	b := startBroker(t, testConfig(t))
	subscriptions := map[string][]string{
		"ana":     {"ana", "end"},
		"anabela": {"anabela", "end"},
		"all":     {""},
		"both":    {"ana", "anabela", "end"},
	}
	subs := make(map[string]*receiver)
	total := 0
	for name, topics := range subscriptions {
		conn := dial(t, b.XPubEndpoint(), proto.Sub)
		subscribe(t, conn, true, topics...)
		subs[name] = receive(t, conn)
		total += len(topics)
	}
	waitSubscriptions(t, b, total)

	pub := dial(t, b.XSubEndpoint(), proto.Pub)
	for _, topic := range []string{"ana", "anabela", "bob", "end"} {
		publish(t, pub, topic, []byte("to "+topic))
	}

	want := map[string][]string{
		"ana":     {"ana", "anabela", "end"},
		"anabela": {"anabela", "end"},
		"all":     {"ana", "anabela", "bob", "end"},
		"both":    {"ana", "anabela", "end"},
	}
	for name, topics := range want {
		var got []string
		for len(got) == 0 || got[len(got)-1] != "end" {
			got = append(got, string(subs[name].next(t, 5*time.Second)[0]))
		}
		if fmt.Sprint(got) != fmt.Sprint(topics) {
			t.Errorf("subscriber %q got topics %v, want %v", name, got, topics)
		}
	}
}

func TestPubSubUnsubscribe(t *testing.T) {
	b := startBroker(t, testConfig(t))
	conn := dial(t, b.XPubEndpoint(), proto.Sub)
	subscribe(t, conn, true, "x", "y")
	sub := receive(t, conn)
	waitSubscriptions(t, b, 2)

	pub := dial(t, b.XSubEndpoint(), proto.Pub)
	publish(t, pub, "x", []byte("first"))
	if msg := sub.next(t, 5*time.Second); string(msg[1]) != "first" {
		t.Fatalf("got %q, want the first publication on x", msg)
	}

	subscribe(t, conn, false, "x")
	waitSubscriptions(t, b, 1)
	publish(t, pub, "x", []byte("after unsubscribe"))
	publish(t, pub, "y", []byte("marker"))
	if msg := sub.next(t, 5*time.Second); string(msg[1]) != "marker" {
		t.Fatalf("got %q, want the marker on y", msg)
	}
}

func TestPubSubStuckSubscriber(t *testing.T) {
	cfg := testConfig(t)
	cfg.SubscriberQueue = 100
	b := startBroker(t, cfg)

	// The stuck subscriber subscribes and never reads, so its socket
	// buffers fill and then its queue.
	stuck := dial(t, b.XPubEndpoint(), proto.Sub)
	subscribe(t, stuck, true, "t")
	healthyConn := dial(t, b.XPubEndpoint(), proto.Sub)
	subscribe(t, healthyConn, true, "t")
	healthy := receive(t, healthyConn)
	waitSubscriptions(t, b, 2)

	// Far more than loopback socket buffers hold, sent in windows that
	// the healthy subscriber's queue can take.
	pub := dial(t, b.XSubEndpoint(), proto.Pub)
	const n, window = 20000, 50
	payload := bytes.Repeat([]byte{'p'}, 1024)
	for sent := 0; sent < n; sent += window {
		for range window {
			publish(t, pub, "t", payload)
		}
		waitFor(t, 10*time.Second, "the healthy subscriber to keep up", func() bool {
			return healthy.count.Load() >= int64(sent+window)
		})
	}

	if got := healthy.count.Load(); got != n {
		t.Errorf("healthy subscriber got %d publications, want %d", got, n)
	}
	if dropped := droppedFor(b, "t"); dropped == 0 {
		t.Error("no publication was dropped for the stuck subscriber")
	}
}

// droppedFor sums the drops of the subscribers to topic.
func droppedFor(b *Broker, topic string) uint64 {
	b.fanout.mu.RLock()
	defer b.fanout.mu.RUnlock()
	var dropped uint64
	for s := range b.fanout.byPrefix[topic] {
		dropped += s.out.droppedCount()
	}
	return dropped
}

// nextSubscriptions reads n subscription messages from a publisher's
// connection, in no particular order.
func nextSubscriptions(t *testing.T, pub *receiver, n int) []string {
	t.Helper()
	var got []string
	for range n {
		msg := pub.next(t, 5*time.Second)
		on, topic, ok := proto.ParseSubscription(msg)
		if !ok {
			t.Fatalf("publisher got %q, want a subscription message", msg)
		}
		got = append(got, fmt.Sprintf("%t %s", on, topic))
	}
	slices.Sort(got)
	return got
}

func TestPublishersFollowSubscriptions(t *testing.T) {
	b := startBroker(t, testConfig(t))
	first := dial(t, b.XPubEndpoint(), proto.Sub)
	subscribe(t, first, true, "ana", "geral")
	waitSubscriptions(t, b, 2)

	// A PUB socket sends only what its peer subscribed to, so a new
	// publisher gets every prefix subscribed so far.
	pub := receive(t, dial(t, b.XSubEndpoint(), proto.Pub))
	if got, want := nextSubscriptions(t, pub, 2), []string{"true ana", "true geral"}; !slices.Equal(got, want) {
		t.Fatalf("publisher got %q on connecting, want %q", got, want)
	}

	// A prefix is forwarded when its first subscriber comes, once.
	second := dial(t, b.XPubEndpoint(), proto.Sub)
	subscribe(t, second, true, "ana", "bob")
	if got := nextSubscriptions(t, pub, 1); got[0] != "true bob" {
		t.Fatalf("publisher got %q, want only the new prefix bob", got)
	}

	// And withdrawn when its last one goes, by unsubscribing or leaving.
	subscribe(t, first, false, "ana")
	subscribe(t, first, true, "zed")
	if got := nextSubscriptions(t, pub, 1); got[0] != "true zed" {
		t.Fatalf("publisher got %q, want zed while ana keeps a subscriber", got)
	}
	second.Close()
	if got, want := nextSubscriptions(t, pub, 2), []string{"false ana", "false bob"}; !slices.Equal(got, want) {
		t.Fatalf("publisher got %q after the last subscriber of ana and bob left, want %q", got, want)
	}
}

// TestSubscriptionBounds sends a prefix over the length bound and more
// subscriptions than one subscriber may hold: the proxy applies neither,
// and forwards neither.
func TestSubscriptionBounds(t *testing.T) {
	b := startBroker(t, testConfig(t))
	pub := receive(t, dial(t, b.XSubEndpoint(), proto.Pub))
	sub := dial(t, b.XPubEndpoint(), proto.Sub)

	subscribe(t, sub, true, strings.Repeat("x", maxSubscriptionBytes+1))
	topics := make([]string, maxSubscriptions+1)
	for i := range topics {
		topics[i] = "t" + strconv.Itoa(i)
	}
	subscribe(t, sub, true, topics...)
	subscribe(t, sub, true, "") // over the bound too, so a marker that must not arrive
	waitSubscriptions(t, b, maxSubscriptions)

	got := nextSubscriptions(t, pub, maxSubscriptions)
	if slices.Contains(got, "true "+topics[maxSubscriptions]) {
		t.Error("the subscription over the bound was forwarded")
	}
	for _, s := range got {
		if len(s) > maxSubscriptionBytes {
			t.Fatalf("a prefix of %d bytes was forwarded", len(s))
		}
	}
}

// TestPublisherGetsEverythingPastForwardBound connects a publisher while
// more prefixes are subscribed than are forwarded one by one: it gets one
// subscription to everything instead.
func TestPublisherGetsEverythingPastForwardBound(t *testing.T) {
	b := startBroker(t, testConfig(t))
	total := 0
	for n := 0; total <= maxForwarded; n++ {
		sub := dial(t, b.XPubEndpoint(), proto.Sub)
		topics := make([]string, min(maxSubscriptions, maxForwarded+1-total))
		for i := range topics {
			topics[i] = fmt.Sprintf("s%d-%d", n, i)
		}
		subscribe(t, sub, true, topics...)
		total += len(topics)
	}
	waitSubscriptions(t, b, total)

	pub := receive(t, dial(t, b.XSubEndpoint(), proto.Pub))
	if got := nextSubscriptions(t, pub, 1); got[0] != "true " {
		t.Fatalf("publisher got %q, want one subscription to everything", got)
	}
	late := dial(t, b.XPubEndpoint(), proto.Sub)
	subscribe(t, late, true, "late")
	waitSubscriptions(t, b, total+1)

	// forward ran within the subscription, so anything it queued for the
	// publisher would be in its outbox now.
	b.fanout.mu.RLock()
	defer b.fanout.mu.RUnlock()
	for p := range b.fanout.publishers {
		p.out.mu.Lock()
		queued := len(p.out.items)
		p.out.mu.Unlock()
		if !p.all || queued != 0 {
			t.Errorf("publisher subscribed to everything: all %t, %d changes queued after it", p.all, queued)
		}
	}
}
