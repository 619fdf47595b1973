package replica

import (
	"context"
	"fmt"
	"testing"
	"time"

	"msgsys/proto"
)

// TestLostPeerStillHoldsNextWrite drops the connection to the only peer
// while a write waits for it, as a server that resumes after a stop finds
// its streams timed out while its peers are fine. The write waits for the
// sender to reconnect and is acknowledged with the peer's copy, not alone.
func TestLostPeerStillHoldsNextWrite(t *testing.T) {
	peer := startFakePeer(t)
	w := startWriter(t, peer, 2*time.Second)
	w.post("")
	w.waitInSync()

	peer.dropNext.Store(true)
	w.post("dropped")
	if got := w.acked(); got < w.seq {
		t.Errorf("write %d acknowledged while the peer held only seq %d", w.seq, got)
	}
}

// TestCatchUpMakesPeerReachable keeps the only peer down long enough for
// its sender to give up on it, then brings it back and catches up with
// it, as a server does when a partition heals. The next write waits for
// the peer's copy instead of being acknowledged alone while the sender
// is still in its pause between retries.
func TestCatchUpMakesPeerReachable(t *testing.T) {
	peer := startFakePeer(t)
	copyTimeout := 300 * time.Millisecond
	w := startWriter(t, peer, copyTimeout)
	w.post("")
	w.waitInSync()

	peer.hangUp.Store(true)
	waitFor(t, 5*time.Second, "the peer lost for longer than CopyTimeout", func() bool {
		w.r.mu.Lock()
		defer w.r.mu.Unlock()
		p := w.r.peers["server-2"]
		return !p.reachable && !p.recentlyLost(time.Now(), copyTimeout)
	})
	w.post("alone") // the sender now pauses up to a second between retries

	peer.hangUp.Store(false)
	peers := []Peer{{Name: "server-2", Addr: peer.ln.Endpoint()}}
	if err := w.r.CatchUp(w.ctx, peers, 5*time.Second, Expected{}); err != nil {
		t.Fatalf("catch-up: %v", err)
	}
	w.post("after catch-up")
	if got := w.acked(); got < w.seq {
		t.Errorf("write %d acknowledged while the peer held only seq %d", w.seq, got)
	}
}

// TestSyncAddsPeersUpToLimit sends sync requests under many names, as
// anyone can without a cluster key. Each gets its reply, and only
// MaxPeers of them become peers.
func TestSyncAddsPeersUpToLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxPeers = 3
	r := New(cfg)

	for i := range 10 {
		req := &SyncRequest{Name: fmt.Sprintf("fake-%d", i), Addr: fmt.Sprintf("tcp://127.0.0.1:%d", 20000+i)}
		frame, err := proto.Encode(ServiceSync, req, proto.NewClocks().Meta())
		if err != nil {
			t.Fatal(err)
		}
		var reply SyncReply
		if _, err := proto.DecodeInto(r.HandleSync(context.Background(), frame), &reply); err != nil || !proto.IsSuccess(reply.Status) {
			t.Fatalf("sync %d: reply %+v, %v", i, reply, err)
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if got := len(r.peers); got != cfg.MaxPeers {
		t.Errorf("%d peers after 10 sync requests, want MaxPeers %d", got, cfg.MaxPeers)
	}
}

// TestStoodStill separates a timer that fired late under load from one
// that fired after a stop of the process.
func TestStoodStill(t *testing.T) {
	start := time.Now()
	wait := 500 * time.Millisecond
	if stoodStill(start, start.Add(wait+50*time.Millisecond), wait) {
		t.Error("a timer 50 ms late counts as a stop")
	}
	if !stoodStill(start, start.Add(5*time.Second), wait) {
		t.Error("a timer 4.5 s late does not count as a stop")
	}
}

// TestPullPeersSkipsUnreachable lists three peers, one of which does not
// reply to pushes, as at the end of a cut link. Anti-entropy pulls from
// the two others, and reports the cut so that it pulls more often. With
// no peer replying it tries them all.
func TestPullPeersSkipsUnreachable(t *testing.T) {
	r := New(testConfig(t))
	for _, p := range []struct {
		name      string
		reachable bool
	}{{"server-3", false}, {"server-2", true}, {"server-4", true}} {
		r.peers[p.name] = &peer{Peer: Peer{Name: p.name, Addr: "tcp://127.0.0.1:1"}, reachable: p.reachable}
	}

	peers, cut := r.pullPeers()
	if !cut || len(peers) != 2 || peers[0].Name != "server-2" || peers[1].Name != "server-4" {
		t.Errorf("pull peers %v, cut %v, want [server-2 server-4] and a cut", peers, cut)
	}

	r.peers["server-3"].reachable = true
	if _, cut := r.pullPeers(); cut {
		t.Error("a cut reported while every peer replies")
	}

	for _, p := range r.peers {
		p.reachable = false
	}
	if peers, cut := r.pullPeers(); cut || len(peers) != 3 {
		t.Errorf("with no peer replying: pull peers %v, cut %v, want all three and no cut", peers, cut)
	}
}
