package broker

import (
	"bytes"
	"context"
	"testing"
	"time"

	"msgsys/proto"
)

// hedgeConfig returns a broker configuration that sends a retry-safe
// request to a second server after 100 ms, well before the timeout.
func hedgeConfig(t *testing.T) Config {
	cfg := testConfig(t)
	cfg.RequestTimeout = 2 * time.Second
	cfg.HedgeAfter = 100 * time.Millisecond
	return cfg
}

// publishRequest encodes a publish, with a request id when id is set.
func publishRequest(t *testing.T, id string) []byte {
	t.Helper()
	payload, err := proto.Encode(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: "oi", ID: id}, proto.Meta{Timestamp: proto.FormatTime(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// TestFrozenServerRequestGoesToSecond sends retry-safe requests while the
// server that joined first never replies. The other server replies to each
// after the hedge delay instead of a timeout error, and later requests
// avoid the frozen server.
func TestFrozenServerRequestGoesToSecond(t *testing.T) {
	cfg := hedgeConfig(t)
	b := startBroker(t, cfg)
	frozen := startServer(t, b, proto.Dealer, silent)
	waitServers(t, b, 1)
	healthy := startServer(t, b, proto.Dealer, echo)
	waitServers(t, b, 2)

	r := proto.NewRequester(b.FrontendEndpoint())
	defer r.Close()
	for _, payload := range [][]byte{encodeRequest(t, proto.ServiceUsers, 1), publishRequest(t, "publish:ana/1")} {
		start := time.Now()
		reply, err := r.Request(context.Background(), payload, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(reply, payload) {
			t.Fatalf("reply %q, want the healthy server's echo", reply)
		}
		if elapsed := time.Since(start); elapsed >= cfg.RequestTimeout {
			t.Errorf("reply after %v, want it before the %v timeout", elapsed, cfg.RequestTimeout)
		}
	}

	// The frozen server got the first request only: the second went to
	// the healthy one first, and later ones avoid the slow server.
	requireEchoes(t, r, "after the hedge", 10)
	if n := frozen.received.Load(); n != 1 {
		t.Errorf("frozen server received %d requests, want 1", n)
	}
	if n := healthy.received.Load(); n != 12 {
		t.Errorf("healthy server received %d requests, want 12", n)
	}
}

// TestWriteWithoutIDNotHedged sends a publish without a request id to a
// frozen server. A second server could store it twice, so the broker
// waits for the timeout and replies with an error, as before hedging.
func TestWriteWithoutIDNotHedged(t *testing.T) {
	cfg := hedgeConfig(t)
	cfg.RequestTimeout = 500 * time.Millisecond
	b := startBroker(t, cfg)
	startServer(t, b, proto.Dealer, silent)
	waitServers(t, b, 1)
	healthy := startServer(t, b, proto.Dealer, echo)
	waitServers(t, b, 2)

	r := proto.NewRequester(b.FrontendEndpoint())
	defer r.Close()
	reply, err := r.Request(context.Background(), publishRequest(t, ""), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, text, _ := decodeError(t, reply); text != failureTexts[failTimeout].EN {
		t.Errorf("description %q, want the timeout text", text)
	}
	if n := healthy.received.Load(); n != 0 {
		t.Errorf("healthy server received %d requests, want 0", n)
	}
}

// TestLateReplyAfterHedgeDropped lets the first server reply after the
// second one has: the client gets one reply, the second server's, and
// the late one is dropped without reaching its next request.
func TestLateReplyAfterHedgeDropped(t *testing.T) {
	b := startBroker(t, hedgeConfig(t))
	unblock := startLateServer(t, b)
	waitServers(t, b, 1)
	startServer(t, b, proto.Dealer, echo)
	waitServers(t, b, 2)

	r := proto.NewRequester(b.FrontendEndpoint())
	defer r.Close()
	payload := encodeRequest(t, proto.ServiceUsers, 1)
	reply, err := r.Request(context.Background(), payload, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(reply, payload) {
		t.Fatalf("reply %q, want the second server's echo", reply)
	}

	unblock()
	waitFor(t, 5*time.Second, "the late reply to clear the slow mark", func() bool {
		b.table.mu.Lock()
		defer b.table.mu.Unlock()
		s := b.table.servers[0]
		return !s.slow && s.abandoned == 0 && s.inflight == 0
	})
	requireEchoes(t, r, "after the late reply", 4)
}

// TestTableHedgeFailsOnceBothTimeOut times out a hedged request on both
// servers: the client gets one error, at the original's deadline.
func TestTableHedgeFailsOnceBothTimeOut(t *testing.T) {
	tab, a, b := newTestTable()
	tab.hedgeAfter = 100 * time.Millisecond
	now := time.Now()

	req := &request{key: "c", retrySafe: true}
	if s, _ := tab.assign(req, now); s != a {
		t.Fatalf("request went to %v, want a", s)
	}
	e := tab.expire(now.Add(tab.hedgeAfter))
	failed, hedges, slowed := e.failed, e.hedges, e.slowed
	if len(failed) != 0 || len(hedges) != 1 || hedges[0].server != b {
		t.Fatalf("after the hedge delay: failed %+v, hedges %+v, want one hedge to b", failed, hedges)
	}
	if len(slowed) != 1 || !a.slow {
		t.Errorf("a is not marked slow after its request went to b (slowed %v)", slowed)
	}

	// The copy keeps the original's deadline: one error, at the timeout.
	failed = tab.expire(now.Add(tab.timeout - time.Millisecond)).failed
	if len(failed) != 0 {
		t.Fatalf("before the timeout: failed %+v, want none", failed)
	}
	failed = tab.expire(now.Add(tab.timeout)).failed
	if len(failed) != 1 || failed[0].reason != failTimeout {
		t.Fatalf("at the timeout: failed %+v, want one timeout", failed)
	}

	// Once a's tombstone expires, a holds nothing and takes requests again.
	tab.expire(now.Add(tab.timeout + tab.tombstoneTTL))
	if a.slow || a.stalled {
		t.Errorf("a, holding nothing, is still slow (%v) or stalled (%v)", a.slow, a.stalled)
	}
}
