package broker

import (
	"slices"
	"sync"
	"time"

	"msgsys/proto"
)

// failure is the reason the broker itself sends a request an error reply.
type failure int

const (
	noFailure failure = iota
	failNoServer
	failTimeout
	failDisconnected
	failTooLarge
)

// request is one client request on its way through the broker.
type request struct {
	client  *client
	key     string   // client identity and envelope, built by pendingKey
	frames  [][]byte // as forwarded: identity, envelope, delimiter, body
	envLen  int      // number of envelope frames after the identity
	payload []byte   // first body frame, decoded only for an error reply
	// deadline is when the reply is due. For a waiting request it is when
	// the wait ends, and for an abandoned one when its tombstone expires.
	deadline  time.Time
	abandoned bool // timed out, or its twin got the reply: a reply is dropped

	// Hedging: a retry-safe request that its server leaves unanswered for
	// hedgeAfter is sent to a second server too, and the first reply
	// wins. Guarded by table.mu.
	retrySafe bool      // a read, or a write with an id
	sentAt    time.Time // when it was handed to holder
	holder    *server   // the server it is pending on
	hedged    bool      // it has, or is, a copy on a second server
	twin      *request  // that copy, or the original of a copy, while both wait
}

// server is one connection on the backend.
type server struct {
	conn   *proto.Conn
	out    *outbox // requests on their way to the server
	addr   string
	credit int // max requests in flight: 1 for REP peers

	// Guarded by table.mu.
	inflight  int                 // pending requests not abandoned
	abandoned int                 // pending requests that are tombstones
	stalled   bool                // timed out and has not replied since
	slow      bool                // a request of it went to a second server, no reply since
	pending   map[string]*request // by pendingKey, tombstones included
}

// dispatch is a request to write to a server once table.mu is released.
type dispatch struct {
	server *server
	req    *request
}

// failedRequest is a request whose client the broker owes an error reply.
type failedRequest struct {
	req    *request
	reason failure
	server string // address of the server that held req, if any
}

// table is the routing state of the request broker: the connected servers
// in round-robin order, each with its pending requests, and the requests
// waiting for a free server. One mutex guards it and is held only for map
// and slice operations, so every write to a socket happens after Unlock.
type table struct {
	timeout      time.Duration // RequestTimeout
	queueTimeout time.Duration
	hedgeAfter   time.Duration // HedgeAfter, 0 for never
	tombstoneTTL time.Duration

	mu      sync.Mutex
	servers []*server
	next    int        // index in servers where the next search starts
	waiting []*request // FIFO, in deadline order because queueTimeout is fixed
	// waitingBytes is the size of the frames of the waiting requests.
	waitingBytes int
}

func newTable(cfg Config) *table {
	return &table{
		timeout:      cfg.RequestTimeout,
		queueTimeout: cfg.QueueTimeout,
		hedgeAfter:   cfg.HedgeAfter,
		// expire disconnects a server that is silent this long.
		tombstoneTTL: 10 * cfg.RequestTimeout,
	}
}

// add registers a newly connected server and returns the waiting requests
// it can take now.
func (t *table) add(s *server) []dispatch {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.pending = make(map[string]*request)
	t.servers = append(t.servers, s)
	return t.drainWaiting(time.Now(), nil)
}

// remove removes a disconnected server. It returns the requests that were
// in flight on it. Waiting requests keep waiting until their deadline.
func (t *table) remove(s *server) []failedRequest {
	t.mu.Lock()
	defer t.mu.Unlock()

	for i, other := range t.servers {
		if other != s {
			continue
		}
		t.servers = append(t.servers[:i], t.servers[i+1:]...)
		if t.next > i {
			t.next--
		}
		if t.next >= len(t.servers) {
			t.next = 0
		}
		break
	}

	var failed []failedRequest
	for _, req := range s.pending {
		if req.abandoned {
			continue
		}
		// The copy on another server may still reply.
		if twin := req.twin; twin != nil {
			twin.twin = nil
			continue
		}
		failed = append(failed, failedRequest{req, failDisconnected, s.addr})
	}
	s.pending = nil
	s.inflight, s.abandoned = 0, 0
	return failed
}

// assign picks the server for req and returns it. It returns nil and
// noFailure when req waits for a free server, and nil and a failure when
// req must get an error reply at once.
func (t *table) assign(req *request, now time.Time) (*server, failure) {
	t.mu.Lock()
	defer t.mu.Unlock()

	// A request also waits while no server is connected, because after a
	// restart or a stop of the broker the servers usually connect again
	// within milliseconds, and the request is then served.
	if s := t.pick(req.key); s != nil {
		t.hand(s, req, now)
		return s, noFailure
	}
	size := req.size()
	if t.queueTimeout == 0 || len(t.waiting) >= maxWaiting || t.waitingBytes+size > maxWaitingBytes {
		return nil, failNoServer
	}
	req.deadline = now.Add(t.queueTimeout)
	t.waiting = append(t.waiting, req)
	t.waitingBytes += size
	return nil, noFailure
}

// popWaiting removes the first waiting request and returns it. The caller
// holds mu.
func (t *table) popWaiting() *request {
	req := t.waiting[0]
	t.waiting[0] = nil
	t.waiting = t.waiting[1:]
	t.waitingBytes -= req.size()
	if len(t.waiting) == 0 {
		t.waiting = nil // let the backing array go
	}
	return req
}

// size returns the bytes that req's frames hold.
func (req *request) size() int {
	n := 0
	for _, frame := range req.frames {
		n += len(frame)
	}
	return n
}

// pick returns the next server in round-robin order that has a free slot,
// is not stalled and holds no request under key (so that a reply always
// names one request), or nil. A slow server is picked only when no other
// can take the request. The caller holds mu.
func (t *table) pick(key string) *server {
	if s := t.pickAmong(key, false); s != nil {
		return s
	}
	return t.pickAmong(key, true)
}

func (t *table) pickAmong(key string, slowToo bool) *server {
	n := len(t.servers)
	for i := range n {
		candidate := t.servers[(t.next+i)%n]
		if candidate.stalled || (candidate.slow && !slowToo) || candidate.inflight >= candidate.credit {
			continue
		}
		if _, busy := candidate.pending[key]; busy {
			continue
		}
		t.next = (t.next + i + 1) % n
		return candidate
	}
	return nil
}

// hand records req as pending on s. The caller holds mu.
func (t *table) hand(s *server, req *request, now time.Time) {
	req.deadline, req.sentAt, req.holder = now.Add(t.timeout), now, s
	s.pending[req.key] = req
	s.inflight++
}

// bury turns a pending request into a tombstone, so that its reply is
// dropped. The caller holds mu.
func (t *table) bury(req *request, now time.Time) {
	if req.abandoned || req.holder.pending == nil {
		return
	}
	req.abandoned = true
	req.deadline = now.Add(t.tombstoneTTL)
	req.holder.inflight--
	req.holder.abandoned++
}

// complete matches a reply from s to its request. It returns the request
// when its client still waits for the reply (nil for a late or unknown
// reply), and the waiting requests that the freed slot lets through. Any
// reply, late or not, clears the server's stalled mark.
func (t *table) complete(s *server, key string) (*request, []dispatch) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s.pending == nil {
		return nil, nil // already removed
	}

	now := time.Now()
	s.stalled, s.slow = false, false
	req, ok := s.pending[key]
	if !ok {
		return nil, t.drainWaiting(now, nil)
	}
	delete(s.pending, key)
	if req.abandoned {
		s.abandoned--
		req = nil
	} else {
		s.inflight--
		// The first reply wins, and the other server's is dropped.
		if twin := req.twin; twin != nil {
			twin.twin, req.twin = nil, nil
			t.bury(twin, now)
		}
	}
	return req, t.drainWaiting(now, nil)
}

// drainWaiting assigns waiting requests, oldest first, while servers have
// free slots, and appends them to out. The caller holds mu.
func (t *table) drainWaiting(now time.Time, out []dispatch) []dispatch {
	for len(t.waiting) > 0 {
		s := t.pick(t.waiting[0].key)
		if s == nil {
			break
		}
		req := t.popWaiting()
		t.hand(s, req, now)
		out = append(out, dispatch{s, req})
	}
	return out
}

// expire runs the periodic checks: requests past their deadline are
// abandoned, which marks their server stalled, waiting requests past
// theirs are failed, and old tombstones are dropped. A server stays
// stalled until it replies, or until every tombstone it holds has
// expired, so that a server which lost one request is tried again.
//
// Retry-safe requests left unanswered for hedgeAfter are also handed to
// a second server, returned as hedges, and their server is marked slow
// until it replies. A frozen server (SIGSTOP, docker pause, a long
// pause of its runtime) then holds up its clients for hedgeAfter, not
// for the whole timeout, and gets no new requests while others can
// take them. A request that a second server holds fails only when
// both have timed out or gone.
//
// A tombstone that expires shows that its server has not replied to a
// request for tombstoneTTL. Its connection is returned in dropped, to be
// closed: a reply even later would be taken for the reply to the next
// request of the same client and envelope, which the server may hold by
// then. A server reconnects with a clean slate.
func (t *table) expire(now time.Time) (e expiry) {
	t.mu.Lock()
	defer t.mu.Unlock()

	for _, s := range t.servers {
		for key, req := range s.pending {
			if req.abandoned {
				if !now.Before(req.deadline) {
					delete(s.pending, key)
					s.abandoned--
					if !slices.Contains(e.dropped, s) {
						e.dropped = append(e.dropped, s)
					}
				}
				continue
			}
			if !now.Before(req.deadline) {
				t.bury(req, now)
				s.stalled = true
				if twin := req.twin; twin != nil {
					twin.twin, req.twin = nil, nil
					continue
				}
				e.failed = append(e.failed, failedRequest{req, failTimeout, s.addr})
				continue
			}
			if hedge := t.hedge(req, now); hedge != nil {
				e.hedges = append(e.hedges, dispatch{hedge.holder, hedge})
				if !s.slow {
					s.slow = true
					e.slowed = append(e.slowed, s.addr)
				}
			}
		}
		if s.stalled && s.abandoned == 0 {
			s.stalled = false
		}
		// A slow server that holds nothing any more, not even a tombstone,
		// has nothing left to reply to, so it takes requests again.
		if s.slow && s.inflight == 0 && s.abandoned == 0 {
			s.slow = false
		}
	}

	for len(t.waiting) > 0 && !now.Before(t.waiting[0].deadline) {
		e.failed = append(e.failed, failedRequest{t.popWaiting(), failNoServer, ""})
	}
	return e
}

// expiry holds the findings of one run of expire.
type expiry struct {
	failed  []failedRequest // requests whose clients get an error reply
	hedges  []dispatch      // copies to write to a second server
	slowed  []string        // servers newly marked slow
	dropped []*server       // servers to disconnect, silent for tombstoneTTL
}

// hedge hands a copy of req to a second server when req is retry-safe,
// has waited hedgeAfter and has no copy yet, and returns the copy, or nil.
// The caller holds mu.
func (t *table) hedge(req *request, now time.Time) *request {
	if t.hedgeAfter <= 0 || !req.retrySafe || req.hedged || now.Sub(req.sentAt) < t.hedgeAfter {
		return nil
	}
	other := t.pickAmong(req.key, false)
	if other == nil {
		return nil
	}
	copied := &request{
		client:    req.client,
		key:       req.key,
		frames:    req.frames,
		envLen:    req.envLen,
		payload:   req.payload,
		retrySafe: true,
		hedged:    true,
		twin:      req,
	}
	req.hedged, req.twin = true, copied
	t.hand(other, copied, now)
	// The copy keeps the original's deadline, so the client's error
	// still comes within the request timeout.
	copied.deadline = req.deadline
	return copied
}

// counts reports the connected servers and the requests in flight, for
// tests and logs.
func (t *table) counts() (servers, inflight int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.servers {
		inflight += s.inflight
	}
	return len(t.servers), inflight
}

// isStalled reports whether s is marked stalled.
func (t *table) isStalled(s *server) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return s.stalled
}
