package election

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// network connects Nodes in memory, with links that a test cuts. The
// proxy, which carries announcements, is never cut. A message over a cut
// link gets no reply.
type network struct {
	mu      sync.Mutex
	nodes   map[string]*Node
	cut     map[[2]string]bool
	reaches atomic.Int64 // Reach calls, so a test can wait for checks
	changes atomic.Int64 // coordinators accepted by OnChange
	// catchingUp names the nodes that decline elections. Read only.
	catchingUp map[string]bool
}

// graphTransport is one node's side of a network.
type graphTransport struct {
	net  *network
	self Member
}

func (nw *network) linked(a, b string) bool {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return !nw.cut[[2]string{a, b}] && !nw.cut[[2]string{b, a}]
}

func (nw *network) setCut(a, b string, cut bool) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.cut[[2]string{a, b}] = cut
}

func (nw *network) node(name string) *Node {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.nodes[name]
}

func (tr *graphTransport) Elect(_ context.Context, m Member, epoch uint64) Reply {
	if !tr.net.linked(tr.self.Name, m.Name) {
		return NoReply
	}
	if tr.net.catchingUp[m.Name] {
		tr.net.node(m.Name).ObserveEpoch(epoch)
		return Declined
	}
	tr.net.node(m.Name).HandleElection(epoch, tr.self)
	return OK
}

func (tr *graphTransport) Ping(_ context.Context, m Member) bool {
	return tr.net.linked(tr.self.Name, m.Name)
}

func (tr *graphTransport) Announce(_ context.Context, a Announcement, _ []Member) {
	tr.net.mu.Lock()
	var others []*Node
	for name, n := range tr.net.nodes {
		if name != tr.self.Name {
			others = append(others, n)
		}
	}
	tr.net.mu.Unlock()
	for _, n := range others {
		n.HandleAnnouncement(a)
	}
}

// Tell delivers a confirmation directly, so not over a cut link.
func (tr *graphTransport) Tell(_ context.Context, a Announcement, m Member) {
	if tr.net.linked(tr.self.Name, m.Name) {
		tr.net.node(m.Name).HandleAnnouncement(a)
	}
}

func (tr *graphTransport) Reach(_ context.Context, via, target Member) (bool, Announcement) {
	tr.net.reaches.Add(1)
	if !tr.net.linked(tr.self.Name, via.Name) || !tr.net.linked(via.Name, target.Name) {
		return false, Announcement{}
	}
	known, _ := tr.net.node(via.Name).Coordinator()
	return true, known
}

// startNetwork runs three nodes, server-1 to server-3 with their ranks, and
// waits until all accept server-3.
func startNetwork(t *testing.T) *network {
	t.Helper()
	nw := runNetwork(t, nil)
	nw.waitAgreed(t, "server-3")
	return nw
}

// runNetwork runs three nodes, server-1 to server-3 with their ranks.
// catchingUp names the nodes that may not coordinate: they decline
// elections, as a server does while it catches up.
func runNetwork(t *testing.T, catchingUp map[string]bool) *network {
	t.Helper()
	nw := &network{nodes: make(map[string]*Node), cut: make(map[[2]string]bool), catchingUp: catchingUp}
	var members []Member
	for i := 1; i <= 3; i++ {
		members = append(members, Member{Name: fmt.Sprintf("server-%d", i), Rank: int64(i), Addr: fmt.Sprintf("tcp://127.0.0.1:%d", i)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	for _, m := range members {
		n := New(Config{
			Self:            m,
			Transport:       &graphTransport{net: nw, self: m},
			CheckEvery:      5 * time.Millisecond,
			CheckTimeout:    10 * time.Millisecond,
			OKTimeout:       10 * time.Millisecond,
			AnnounceTimeout: 50 * time.Millisecond,
			OnChange:        func(Announcement) { nw.changes.Add(1) },
			MayCoordinate:   func() bool { return !catchingUp[m.Name] },
		})
		n.SetMembers(members)
		nw.nodes[m.Name] = n
	}
	for _, n := range nw.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Run(ctx)
		}()
	}
	return nw
}

// waitAgreed waits until the named nodes, or else every node, accept
// coordinator.
func (nw *network) waitAgreed(t *testing.T, coordinator string, names ...string) {
	t.Helper()
	if len(names) == 0 {
		names = []string{"server-1", "server-2", "server-3"}
	}
	waitFor(t, fmt.Sprintf("%v to accept %s", names, coordinator), func() bool {
		for _, name := range names {
			if a, ok := nw.node(name).Coordinator(); !ok || a.Coordinator != coordinator {
				return false
			}
		}
		return true
	})
}

// waitReaches waits until count more relays have been asked to ping.
func (nw *network) waitReaches(t *testing.T, count int64) {
	t.Helper()
	target := nw.reaches.Load() + count
	waitFor(t, "relayed pings", func() bool { return nw.reaches.Load() >= target })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCutLinkKeepsCoordinator cuts the link between the coordinator and
// each other server in turn. The server at the cut end keeps the
// coordinator, which the third server still reaches, and no election
// changes it while many checks pass.
func TestCutLinkKeepsCoordinator(t *testing.T) {
	for _, end := range []string{"server-1", "server-2"} {
		t.Run(end, func(t *testing.T) {
			nw := startNetwork(t)
			before := nw.node("server-3").Epoch()
			changes := nw.changes.Load()

			nw.setCut(end, "server-3", true)
			waitFor(t, end+" to find the coordinator reachable only through others", nw.node(end).Indirect)
			nw.waitReaches(t, 20)

			nw.waitAgreed(t, "server-3")
			if after := nw.node("server-3").Epoch(); after != before {
				t.Errorf("epoch went from %d to %d across the cut, want no election", before, after)
			}
			if got := nw.changes.Load() - changes; got != 0 {
				t.Errorf("nodes accepted %d new coordinators across the cut, want 0", got)
			}

			nw.setCut(end, "server-3", false)
			waitFor(t, end+" to reach the coordinator directly again", func() bool { return !nw.node(end).Indirect() })
		})
	}
}

// TestDropBehindCutLink drops the coordinator at the cut end, as a server
// does when its claim gets no reply. The election that follows finds the
// coordinator alive through the third server and restores it instead of
// winning, even at server-2, which every other member would accept.
func TestDropBehindCutLink(t *testing.T) {
	nw := startNetwork(t)
	n := nw.node("server-2")
	before := n.Epoch()

	nw.setCut("server-2", "server-3", true)
	current, _ := n.Coordinator()
	n.Drop(current)

	waitFor(t, "server-2 to restore the coordinator", func() bool {
		a, ok := n.Coordinator()
		return ok && a.Coordinator == "server-3" && n.Indirect()
	})
	nw.waitReaches(t, 20)
	nw.waitAgreed(t, "server-3")
	if after := nw.node("server-3").Epoch(); after != before {
		t.Errorf("epoch went from %d to %d, want no election won", before, after)
	}
}

// TestDeadCoordinatorNotReachedThroughOthers stops the coordinator for
// every member: the relays do not reach it either, and server-2 wins.
func TestDeadCoordinatorNotReachedThroughOthers(t *testing.T) {
	nw := startNetwork(t)
	for _, other := range []string{"server-1", "server-2"} {
		nw.setCut(other, "server-3", true)
	}
	// server-3 still runs and, alone, steps down for want of a majority.
	nw.waitAgreed(t, "server-2", "server-1", "server-2")
	if nw.node("server-2").Indirect() || nw.node("server-1").Indirect() {
		t.Error("a node counts the new coordinator as reachable only through others")
	}
}

// TestCatchingUpHigherRankDoesNotBlock runs server-3 catching up, so it
// declines elections while every other server reaches it. server-2 must
// still win: the check through others is for a higher rank that does not
// reply, not for one that declines.
func TestCatchingUpHigherRankDoesNotBlock(t *testing.T) {
	nw := runNetwork(t, map[string]bool{"server-3": true})
	nw.waitAgreed(t, "server-2", "server-1", "server-2")
}
