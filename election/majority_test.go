package election

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// reachTransport gives each ping the reply set for the member's name,
// none for a name it does not list, and sends nothing else.
type reachTransport struct {
	silentTransport

	mu      sync.Mutex
	replies map[string]bool
}

func (tr *reachTransport) Ping(_ context.Context, m Member) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.replies[m.Name]
}

func (tr *reachTransport) set(name string, replies bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.replies[name] = replies
}

// newMajorityNode returns the highest of three members, whose pings find
// the two others as replies gives them.
func newMajorityNode(replies map[string]bool, edit func(*Config)) (*Node, *reachTransport) {
	tr := &reachTransport{replies: replies}
	// Members count against the majority from the start, as after their
	// grace as newcomers.
	cfg := Config{Self: Member{Name: "server-3", Rank: 3, Addr: "tcp://127.0.0.1:3"}, Transport: tr, NewMemberGrace: time.Nanosecond}
	if edit != nil {
		edit(&cfg)
	}
	n := New(cfg)
	n.SetMembers([]Member{
		{Name: "server-1", Rank: 1, Addr: "tcp://127.0.0.1:1"},
		{Name: "server-2", Rank: 2, Addr: "tcp://127.0.0.1:2"},
	})
	return n, tr
}

// TestWinNeedsMajority elects the highest rank with the others replying
// to its pings or not. It wins with a majority of the members, and not
// when a partition leaves it alone.
func TestWinNeedsMajority(t *testing.T) {
	cases := []struct {
		name   string
		first  bool // server-1 replies
		second bool // server-2 replies
		wins   bool
	}{
		{"both reply", true, true, true},
		{"one replies", true, false, true},
		{"none replies", false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, _ := newMajorityNode(map[string]bool{"server-1": c.first, "server-2": c.second}, nil)
			n.elect(context.Background())
			_, won := n.Coordinator()
			if won != c.wins {
				t.Errorf("coordinator after the election: %v, want %v", won, c.wins)
			}
		})
	}
}

// TestCoordinatorStepsDownWithoutMajority lets a coordinator lose sight of
// both other members, as when a partition cuts it off. After Misses
// checks it no longer coordinates. When a member replies again, it first
// catches up (OnMajorityRegained), and wins only once it may coordinate.
func TestCoordinatorStepsDownWithoutMajority(t *testing.T) {
	var catchingUp atomic.Bool
	var regained atomic.Int32
	n, tr := newMajorityNode(map[string]bool{"server-1": true, "server-2": true}, func(cfg *Config) {
		cfg.MayCoordinate = func() bool { return !catchingUp.Load() }
		cfg.OnMajorityRegained = func() {
			regained.Add(1)
			catchingUp.Store(true)
		}
	})
	ctx := context.Background()
	n.elect(ctx)
	if !n.IsCoordinator() {
		t.Fatal("the highest rank did not win with both members replying")
	}

	tr.set("server-1", false)
	tr.set("server-2", false)
	for range n.cfg.Misses - 1 {
		n.check(ctx)
	}
	if !n.IsCoordinator() {
		t.Fatalf("stepped down after %d checks, want %d", n.cfg.Misses-1, n.cfg.Misses)
	}
	n.check(ctx) // steps down, and its election finds no majority
	n.check(ctx)
	if _, ok := n.Coordinator(); ok {
		t.Fatal("a coordinator cut off from both members still coordinates")
	}
	if !n.Minority() {
		t.Error("Minority is false after checks that reached no member")
	}

	tr.set("server-2", true)
	n.check(ctx)
	if got := regained.Load(); got != 1 {
		t.Fatalf("OnMajorityRegained called %d times, want 1", got)
	}
	if n.Minority() {
		t.Error("Minority is true after a check that reached a member")
	}
	if _, ok := n.Coordinator(); ok {
		t.Fatal("won while catching up after the partition")
	}
	catchingUp.Store(false)
	n.check(ctx)
	if !n.IsCoordinator() {
		t.Error("the highest rank did not win again after catching up")
	}
}

// TestUnrepliedNewcomersDoNotCount lists two members that have never
// replied, as names registered once at the reference with no server
// behind them. They count against the majority only after their grace,
// and a member that replied once counts from then on.
func TestUnrepliedNewcomersDoNotCount(t *testing.T) {
	n, tr := newMajorityNode(map[string]bool{"server-1": false, "server-2": false}, func(cfg *Config) {
		cfg.NewMemberGrace = time.Hour
	})
	if !n.majorityReachable(context.Background(), n.Members()) {
		t.Error("two unreplied newcomers took the majority away within their grace")
	}

	tr.set("server-1", true)
	n.majorityReachable(context.Background(), n.Members())
	tr.set("server-1", false)
	if n.majorityReachable(context.Background(), n.Members()) {
		t.Error("a member that replied once and then stopped does not count against the majority")
	}
}
