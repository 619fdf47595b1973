package election

import (
	"context"
	"sync"
	"testing"
)

// reachTransport gives each ping the Reach set for the member's name,
// Silent for a name it does not list, and sends nothing else.
type reachTransport struct {
	silentTransport

	mu    sync.Mutex
	reach map[string]Reach
}

func (tr *reachTransport) Ping(_ context.Context, m Member) Reach {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.reach[m.Name]
}

func (tr *reachTransport) set(name string, reach Reach) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.reach[name] = reach
}

// newMajorityNode returns the highest of three members, whose pings find
// the two others as reach gives them.
func newMajorityNode(reach map[string]Reach) (*Node, *reachTransport) {
	tr := &reachTransport{reach: reach}
	n := New(Config{Self: Member{Name: "server-3", Rank: 3, Addr: "tcp://127.0.0.1:3"}, Transport: tr})
	n.SetMembers([]Member{
		{Name: "server-1", Rank: 1, Addr: "tcp://127.0.0.1:1"},
		{Name: "server-2", Rank: 2, Addr: "tcp://127.0.0.1:2"},
	})
	return n, tr
}

// TestWinNeedsMajority elects the highest rank with the others reachable,
// silent or down. It wins with a majority of the members it did not find
// down, and not when a partition leaves it alone.
func TestWinNeedsMajority(t *testing.T) {
	cases := []struct {
		name   string
		first  Reach // server-1
		second Reach // server-2
		wins   bool
	}{
		{"both reachable", Reachable, Reachable, true},
		{"one reachable", Reachable, Silent, true},
		{"both silent", Silent, Silent, false},
		{"both down", Down, Down, true},
		{"one down, one silent", Down, Silent, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, _ := newMajorityNode(map[string]Reach{"server-1": c.first, "server-2": c.second})
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
// checks it no longer coordinates, and it does not win again until a
// member replies.
func TestCoordinatorStepsDownWithoutMajority(t *testing.T) {
	n, tr := newMajorityNode(map[string]Reach{"server-1": Reachable, "server-2": Reachable})
	ctx := context.Background()
	n.elect(ctx)
	if !n.IsCoordinator() {
		t.Fatal("the highest rank did not win with both members reachable")
	}

	tr.set("server-1", Silent)
	tr.set("server-2", Silent)
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

	tr.set("server-2", Reachable)
	n.check(ctx)
	if !n.IsCoordinator() {
		t.Error("the highest rank did not win again once a member replied")
	}
}
