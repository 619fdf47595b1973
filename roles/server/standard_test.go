package server

// Servers of other implementations that speak only the standard protocol:
// a libzmq peer (Debian's python3-zmq, testdata/standard_peer.py) replies to
// election and clock and rejects msgsys's own services, as other teams'
// servers do.

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"msgsys/election"
	"msgsys/internal/testkit"
	"msgsys/proto"
)

// standardPeer is a running testdata/standard_peer.py. Each line it
// prints is a JSON event: ready, announced, or a request it received.
type standardPeer struct {
	*testkit.PythonPeer
}

// startStandardPeer starts the peer as name, registered with the
// reference, and waits until it has its rank.
func startStandardPeer(t *testing.T, reference, name string, args ...string) *standardPeer {
	t.Helper()
	testkit.RequirePython(t, "zmq", "msgpack")
	script := filepath.Join("testdata", "standard_peer.py")
	p := &standardPeer{testkit.StartPython(t, 2*time.Minute, script, append([]string{reference, name}, args...)...)}
	waitFor(t, 10*time.Second, name+" registered", func() bool {
		_, ready := p.Find(isReady)
		return ready
	})
	return p
}

func isReady(line map[string]any) bool { return line["ready"] != nil }

// rank returns the rank the reference gave the peer.
func (p *standardPeer) rank() int64 {
	ready, _ := p.Find(isReady)
	rank, _ := ready["rank"].(float64)
	return int64(rank)
}

// received returns how many requests of service the peer has replied to.
func (p *standardPeer) received(service string) int {
	return p.Count(func(line map[string]any) bool {
		if line["ready"] != nil || line["announced"] != nil {
			return false
		}
		got, _ := line["service"].(string)
		return got == service
	})
}

// logCounter counts log records by message, across every logger derived
// from the one countingLogger returns.
type logCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *logCounter) count(message string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[message]
}

type countingHandler struct {
	slog.Handler
	counter *logCounter
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	h.counter.mu.Lock()
	h.counter.counts[r.Message]++
	h.counter.mu.Unlock()
	return h.Handler.Handle(ctx, r)
}

func (h countingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return countingHandler{h.Handler.WithAttrs(attrs), h.counter}
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{h.Handler.WithGroup(name), h.counter}
}

// countingLogger returns a test logger whose records are also counted.
func countingLogger(t *testing.T) (*slog.Logger, *logCounter) {
	counter := &logCounter{counts: make(map[string]int)}
	return slog.New(countingHandler{testLogger(t).Handler(), counter}), counter
}

// startCounted starts a server whose log records are counted, and waits
// for its rank.
func (c *cluster) startCounted(name string, change func(*Config)) (*Server, *logCounter) {
	c.t.Helper()
	cfg := c.config(name)
	log, counter := countingLogger(c.t)
	cfg.Log = log.With("role", "server")
	if change != nil {
		change(&cfg)
	}
	s := c.startWith(cfg)
	waitFor(c.t, 5*time.Second, name+" registered", func() bool { return s.Rank() > 0 })
	return s, counter
}

func newCluster(t *testing.T, expiry time.Duration) *cluster {
	c := &cluster{t: t, dir: t.TempDir(), servers: make(map[string]*node), expiry: expiry}
	c.startInfrastructure()
	return c
}

func TestBerkeleyLeavesOutServerWithoutAdjust(t *testing.T) {
	c := newCluster(t, 0)
	// The standard server's clock is 1.5 s ahead, within the outlier
	// bound, so the first round averages it in and sends it adjust.
	std := startStandardPeer(t, c.reference, "std-1", "--skew", "1.5")
	fast := func(cfg *Config) { cfg.BerkeleyEvery = 50 * time.Millisecond }
	c.startCounted("server-2", fast)
	coordinator, logs := c.startCounted("server-3", fast)
	c.waitServing(2)

	// server-2 may coordinate for a moment before server-3 starts, and
	// send the standard server a correction of its own, even from a round
	// that began before it accepted server-3. So the count starts once
	// server-3 has left the standard server out, server-2 follows
	// server-3, and server-3 has run one more round.
	waitFor(t, 10*time.Second, "server-3 to leave the standard server out", func() bool {
		return logs.count("server left out of clock synchronisation") > 0
	})
	waitFor(t, 10*time.Second, "server-2 to follow server-3", func() bool {
		return c.coordinators()["server-2"] == "server-3"
	})
	settled := logs.count("berkeley round")
	waitFor(t, 10*time.Second, "one more Berkeley round", func() bool { return logs.count("berkeley round") > settled })
	corrections := std.received(serviceAdjust)
	rounds := logs.count("berkeley round")
	waitFor(t, 10*time.Second, "six more Berkeley rounds", func() bool { return logs.count("berkeley round") >= rounds+6 })

	// Each coordinator's first round moved the msgsys clocks towards the
	// standard server, to at most half its skew. Averaging it in every
	// round would have moved them most of the way.
	for name, n := range c.servers {
		if offset := n.server.cfg.Clocks.Physical.Offset(); offset > time.Second {
			t.Errorf("%s clock moved %v towards a server that ignores corrections", name, offset)
		}
	}
	if got := std.received(serviceAdjust); got != corrections {
		t.Errorf("standard server got %d more corrections after it was left out", got-corrections)
	}
	if got := logs.count("server left out of clock synchronisation"); got != 1 {
		t.Errorf("coordinator logged the left-out server %d times, want 1", got)
	}
	if a, _ := coordinator.Coordinator(); a.Coordinator != "server-3" {
		t.Errorf("coordinator = %q, want server-3", a.Coordinator)
	}
}

func TestAnnouncementWithoutRankUsesReferenceList(t *testing.T) {
	// The server reads the reference's list every 30 s only, so the
	// standard server's announcement arrives before the list names it.
	c := newCluster(t, time.Minute)
	s, logs := c.startCounted("server-1", func(cfg *Config) { cfg.HeartbeatEvery = time.Minute })
	c.waitServing(1)
	std := startStandardPeer(t, c.reference, "std-1")
	if std.rank() != 2 {
		t.Fatalf("standard server rank = %d, want 2", std.rank())
	}

	// A standard announcement: the coordinator's name only.
	s.applyAnnouncement(proto.Data{"coordinator": "std-1", "clock": int64(1)})

	a, _ := s.Coordinator()
	if a.Coordinator != "std-1" {
		t.Fatalf("coordinator = %q, want std-1, which the reference lists at rank 2", a.Coordinator)
	}
	if a.Rank != 2 {
		t.Errorf("coordinator rank = %d, want 2 from the reference's list", a.Rank)
	}
	if got := logs.count("lower rank claims coordinator"); got != 0 {
		t.Errorf("logged %d times that a lower rank claims coordinator", got)
	}
}

func TestDeputyDecidesChannelsForStandardCoordinator(t *testing.T) {
	c := newCluster(t, 0)
	fast := func(cfg *Config) { cfg.BerkeleyEvery = 50 * time.Millisecond }
	low, lowLogs := c.startCounted("server-1", fast)
	high, highLogs := c.startCounted("server-2", fast)
	c.waitServing(2)

	// The standard server outranks both; they elect it, as Bully requires.
	std := startStandardPeer(t, c.reference, "std-3", "--xsub", c.xsub)
	waitFor(t, 10*time.Second, "the standard server accepted as coordinator", func() bool {
		for _, s := range []*Server{low, high} {
			if a, _ := s.Coordinator(); a.Coordinator != "std-3" || a.Rank != std.rank() {
				return false
			}
		}
		return true
	})

	cl := c.client()
	cl.waitAnswered()
	for i := range 4 {
		cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: fmt.Sprintf("geral-%d", i)})
	}
	for _, s := range []*Server{low, high} {
		for i := range 4 {
			if name := fmt.Sprintf("geral-%d", i); !s.Store().HasChannel(name) {
				t.Errorf("%s lacks channel %s", s.cfg.Name, name)
			}
		}
	}

	// Two creations of one name at once: the deputy decides one.
	results := make(chan string, 2)
	for range 2 {
		go func() {
			other := c.client()
			env := other.call(proto.ServiceChannel, &proto.ChannelRequest{Channel: "disputado"})
			results <- status(env)
		}()
	}
	successes := 0
	for range 2 {
		if proto.IsSuccess(<-results) {
			successes++
		}
	}
	if successes != 1 {
		t.Errorf("concurrent creations of one name: %d successes, want 1", successes)
	}

	for _, s := range []*Server{low, high} {
		a, _ := s.Coordinator()
		deputy, ok := s.channelDeputy(a)
		if !ok || deputy.Name != "server-2" {
			t.Errorf("%s: deputy = %q (%v), want server-2", s.cfg.Name, deputy.Name, ok)
		}
	}
	for name, logs := range map[string]*logCounter{"server-1": lowLogs, "server-2": highLogs} {
		if logs.count("channel decisions go to a deputy") != 1 {
			t.Errorf("%s logged the switch to a deputy %d times, want 1", name, logs.count("channel decisions go to a deputy"))
		}
	}
	waitFor(t, 10*time.Second, "a Berkeley round run by the deputy", func() bool { return highLogs.count("berkeley round") > 0 })
	if got := std.received(serviceAdjust); got != 0 {
		t.Errorf("standard server got %d corrections from the deputy, want 0", got)
	}
}

func TestStandardPeerProbedRarely(t *testing.T) {
	c := newCluster(t, 0)
	std := startStandardPeer(t, c.reference, "std-1")
	fast := func(cfg *Config) { cfg.AntiEntropyEvery = 50 * time.Millisecond }
	_, logs2 := c.startCounted("server-2", fast)
	_, logs3 := c.startCounted("server-3", fast)
	c.waitServing(2)

	const marked = "peer does not implement msgsys replication, probing it rarely"
	waitFor(t, 10*time.Second, "both servers to note the standard peer", func() bool {
		return logs2.count(marked) == 1 && logs3.count(marked) == 1
	})

	// A measuring window, not a synchronisation: in one second each
	// server pulls 20 times and its sender retries a failed push at
	// least once, unless the standard peer is left alone.
	replicates, syncs := std.received("replicate"), std.received("sync")
	window := time.NewTimer(time.Second)
	<-window.C
	if got := std.received("replicate") - replicates; got > 0 {
		t.Errorf("standard peer got %d more replicate requests within 1 s, want 0", got)
	}
	if got := std.received("sync") - syncs; got > 0 {
		t.Errorf("standard peer got %d more sync requests within 1 s, want 0", got)
	}
	if logs2.count(marked) != 1 || logs3.count(marked) != 1 {
		t.Errorf("the standard peer was logged %d and %d times, want once per server", logs2.count(marked), logs3.count(marked))
	}
}

func TestStandardPeerSilentOK(t *testing.T) {
	c := newCluster(t, 0)
	_, logs1 := c.startCounted("server-1", nil)
	_, logs2 := c.startCounted("server-2", nil)
	c.waitServing(2)

	// Without --xsub the standard server replies OK to elections and
	// never announces, like one that publishes to the wrong address. It
	// outranks both, so both elect again once they list it.
	std := startStandardPeer(t, c.reference, "std-3")
	if std.rank() != 3 {
		t.Fatalf("standard server rank = %d, want 3", std.rank())
	}
	const passed = "higher rank replies ok but never announces, passing over it"
	waitFor(t, 15*time.Second, "both servers to pass over the standard server", func() bool {
		return logs1.count(passed) == 1 && logs2.count(passed) == 1
	})
	coordinators := c.coordinators()
	if coordinators["server-1"] != "server-2" || coordinators["server-2"] != "server-2" {
		t.Errorf("coordinators = %v, want server-2 for both", coordinators)
	}

	cl := c.client()
	cl.waitAnswered()
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})

	// A measuring window, not a synchronisation: an election reaches the
	// standard server at least once a second unless it is passed over.
	elections := std.received(proto.ServiceElection)
	window := time.NewTimer(1500 * time.Millisecond)
	<-window.C
	if got := std.received(proto.ServiceElection) - elections; got > 0 {
		t.Errorf("standard server got %d more election requests within 1.5 s, want 0", got)
	}
	if logs1.count(passed) != 1 || logs2.count(passed) != 1 {
		t.Errorf("the pass-over was logged %d and %d times, want once per server", logs1.count(passed), logs2.count(passed))
	}
}

// TestBerkeleyLeavesOutServerWithoutAddress gives the Berkeley rounds a
// member that registered no address, as a server of another
// implementation may. Its clock cannot be read, so it is left out instead
// of failing a reading every round.
func TestBerkeleyLeavesOutServerWithoutAddress(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler), noAdjust: newPeerMarks()}
	members := []election.Member{
		{Name: "server-1", Rank: 1, Addr: "tcp://127.0.0.1:5560"},
		{Name: "std-1", Rank: 2},
	}
	got := s.adjustable(members, 1)
	if len(got) != 1 || got[0].Name != "server-1" {
		t.Errorf("members of the round = %v, want server-1 alone", got)
	}
}
