package broker

import (
	"strconv"
	"testing"
	"time"
)

// newTestTable returns a table with servers a and b, each with credit 4,
// and a request timeout of one second.
func newTestTable() (t *table, a, b *server) {
	cfg := DefaultConfig()
	cfg.RequestTimeout = time.Second
	t = newTable(cfg)
	a = &server{addr: "a", credit: 4}
	b = &server{addr: "b", credit: 4}
	t.add(a)
	t.add(b)
	return t, a, b
}

func TestTableTombstoneKeepsKeyOffServer(t *testing.T) {
	tab, a, b := newTestTable()
	now := time.Now()

	// Client c's request goes to a and times out, and client d's goes to b.
	first := &request{key: "c"}
	if s, _ := tab.assign(first, now); s != a {
		t.Fatalf("first request went to %v, want a", s)
	}
	if s, _ := tab.assign(&request{key: "d"}, now); s != b {
		t.Fatalf("second request went to %v, want b", s)
	}
	answers := tab.expire(now.Add(time.Second)).failed
	if len(answers) != 2 || answers[0].reason != failTimeout {
		t.Fatalf("expire returned %+v, want two timeouts", answers)
	}
	if !a.stalled || !b.stalled {
		t.Fatal("servers holding timed-out requests are not stalled")
	}

	// b replies late, which unstalls it. A new request from c must go to
	// b, not to a, even once a is unstalled by a reply for d.
	if req, _ := tab.complete(b, "d"); req != nil {
		t.Fatal("a late reply was matched to a request")
	}
	if s, _ := tab.assign(&request{key: "c"}, now); s != b {
		t.Fatalf("c's retry went to %v, want b", s)
	}
	a.stalled = false
	if s, failed := tab.assign(&request{key: "c"}, now); s != nil || failed != noFailure {
		t.Fatalf("c's second retry went to %v (%v), want it to wait: a holds c's tombstone, b c's request", s, failed)
	}

	// a's late reply for c is dropped, and the waiting retry goes to a.
	req, sends := tab.complete(a, "c")
	if req != nil {
		t.Fatal("a's late reply was matched to a request")
	}
	if len(sends) != 1 || sends[0].server != a {
		t.Fatalf("after a's late reply, sends %+v, want the waiting request on a", sends)
	}
}

func TestTableTombstoneExpiryUnstalls(t *testing.T) {
	tab, a, _ := newTestTable()
	now := time.Now()
	tab.assign(&request{key: "c"}, now)
	tab.expire(now.Add(time.Second))
	if !a.stalled {
		t.Fatal("a is not stalled after a timeout")
	}
	tab.expire(now.Add(time.Second + tab.tombstoneTTL))
	if a.stalled || len(a.pending) != 0 {
		t.Fatalf("after the tombstone expired: stalled %v, %d pending, want neither", a.stalled, len(a.pending))
	}
}

func TestTableCreditAndQueue(t *testing.T) {
	tab, a, b := newTestTable()
	now := time.Now()
	for i := range 8 {
		if s, _ := tab.assign(&request{key: string(rune('a' + i))}, now); s == nil {
			t.Fatalf("request %d found no server with 8 free slots", i)
		}
	}
	if a.inflight != 4 || b.inflight != 4 {
		t.Fatalf("in flight a=%d b=%d, want 4 each", a.inflight, b.inflight)
	}

	waiting := &request{key: "z"}
	if s, failed := tab.assign(waiting, now); s != nil || failed != noFailure {
		t.Fatalf("a request beyond every credit got %v (%v), want it to wait", s, failed)
	}
	answers := tab.expire(now.Add(tab.queueTimeout)).failed
	if len(answers) != 1 || answers[0].req != waiting || answers[0].reason != failNoServer {
		t.Fatalf("expire returned %+v, want the waiting request failed", answers)
	}

	// With every server gone, a request waits for one to connect, and
	// fails at its deadline.
	tab.remove(a)
	tab.remove(b)
	alone := &request{key: "y"}
	if s, failed := tab.assign(alone, now); s != nil || failed != noFailure {
		t.Fatalf("with no server: %v (%v), want the request to wait", s, failed)
	}
	answers = tab.expire(now.Add(tab.queueTimeout)).failed
	if len(answers) != 1 || answers[0].req != alone || answers[0].reason != failNoServer {
		t.Fatalf("expire returned %+v, want the request failed at its deadline", answers)
	}

	// Without a queue time it fails at once.
	tab.queueTimeout = 0
	if s, failed := tab.assign(&request{key: "x"}, now); s != nil || failed != failNoServer {
		t.Fatalf("with no server and no queue time: %v (%v), want failNoServer", s, failed)
	}
}

func TestTableServerConnectsForWaitingRequest(t *testing.T) {
	cfg := DefaultConfig()
	tab := newTable(cfg)
	now := time.Now()
	waiting := &request{key: "w"}
	if s, failed := tab.assign(waiting, now); s != nil || failed != noFailure {
		t.Fatalf("with no server: %v (%v), want the request to wait", s, failed)
	}
	sends := tab.add(&server{addr: "a", credit: 4})
	if len(sends) != 1 || sends[0].req != waiting {
		t.Fatalf("a server that connects gets %+v, want the waiting request", sends)
	}
}

func TestOutboxBoundedByBytes(t *testing.T) {
	o := newOutbox(1 << 20)
	big := make([]byte, 1<<20)
	queued := 0
	for range 100 {
		if ok, _ := o.push([][]byte{[]byte("t"), big}); ok {
			queued++
		}
	}
	if want := maxOutboxBytes / (1<<20 + 1); queued != want {
		t.Fatalf("queued %d messages of 1 MiB, want %d", queued, want)
	}
	if got := o.droppedCount(); got != uint64(100-queued) {
		t.Fatalf("dropped %d, want %d", got, 100-queued)
	}
}

func TestTableWaitingBoundedByBytes(t *testing.T) {
	tab := newTable(DefaultConfig())
	now := time.Now()
	body := make([]byte, 1<<20)
	waiting := 0
	for i := range maxWaiting {
		req := &request{key: strconv.Itoa(i), frames: [][]byte{[]byte("client"), {}, body}}
		if _, failed := tab.assign(req, now); failed != noFailure {
			break
		}
		waiting++
	}
	if want := maxWaitingBytes / len(body); waiting >= want+1 || waiting < want-1 {
		t.Errorf("%d requests of 1 MiB wait, want about %d", waiting, want)
	}

	tab.expire(now.Add(tab.queueTimeout))
	if tab.waitingBytes != 0 || len(tab.waiting) != 0 {
		t.Errorf("after expiry %d requests and %d bytes wait, want none", len(tab.waiting), tab.waitingBytes)
	}
}
