package replica

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/proto"
	"msgsys/store"
)

var waitFor = testkit.WaitFor

// fakePeer acknowledges every replicate request with the last seq of its
// batch, as a msgsys server does, until silent is set. From then on it
// reads requests and never replies, as a server stopped with SIGSTOP
// whose kernel still accepts bytes.
type fakePeer struct {
	ln     *proto.Listener
	silent atomic.Bool
}

func startFakePeer(t *testing.T) *fakePeer {
	t.Helper()
	ln, err := proto.Listen("tcp://127.0.0.1:0", proto.Router, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakePeer{ln: ln}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = ln.Serve(ctx, f.serve)
	}()
	t.Cleanup(func() {
		cancel()
		ln.Close()
		<-served
	})
	return f
}

func (f *fakePeer) serve(conn *proto.Conn) {
	var have uint64
	for {
		frames, err := conn.Recv()
		if err != nil {
			return
		}
		if f.silent.Load() {
			continue
		}
		req, err := decodeReplicate(frames[len(frames)-1])
		if err != nil {
			return
		}
		if n := len(req.Ops); n > 0 {
			have = req.Ops[n-1].Seq
		}
		reply := encodeReplicateReply(&ReplicateReply{Status: proto.StatusOK, Have: have}, proto.Meta{Timestamp: proto.FormatTime(time.Now()), Clock: 1})
		if err := conn.Send(append(frames[:len(frames)-1:len(frames)-1], reply)...); err != nil {
			return
		}
	}
}

// TestSilentPeerStopsHoldingWrites makes the only peer stop replying. One
// write waits CopyTimeout for its copy, and the writes after it go on
// alone at once instead of waiting as long each.
func TestSilentPeerStopsHoldingWrites(t *testing.T) {
	peer := startFakePeer(t)
	st, err := store.Open(filepath.Join(t.TempDir(), "server.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	cfg := DefaultConfig()
	cfg.Name, cfg.Origin, cfg.Rank, cfg.Store, cfg.Clocks = "server-1", "server-1@test", 1, st, proto.NewClocks()
	cfg.AckTimeout, cfg.CopyTimeout = 100*time.Millisecond, time.Second
	r := New(cfg)
	r.SetPeers([]Peer{{Name: "server-2", Addr: peer.ln.Endpoint()}})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		r.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-ran
	})

	post := func(text string) time.Duration {
		t.Helper()
		start := time.Now()
		op := store.Op{Kind: store.KindLogin, User: "ana", Clock: 1, Time: time.Now().UnixNano()}
		if text != "" {
			op = store.Op{Kind: store.KindPost, User: "ana", Channel: "geral", Text: text, Clock: 1, Time: time.Now().UnixNano()}
		}
		if _, _, err := r.Write(ctx, op); err != nil {
			t.Fatalf("write %q: %v", text, err)
		}
		return time.Since(start)
	}
	post("") // the login the posts need

	// The peer holds the first writes, so they wait for it.
	waitFor(t, 5*time.Second, "the peer in sync", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		p := r.peers["server-2"]
		return p != nil && p.inSync && p.reachable
	})
	post("copied")
	if acked := r.Status().Peers[0].Acked; acked < 2 {
		t.Fatalf("peer acknowledged seq %d, want 2", acked)
	}

	peer.silent.Store(true)
	if d := post("first alone"); d < cfg.CopyTimeout {
		t.Errorf("the first write after the peer fell silent took %v, want at least CopyTimeout %v", d, cfg.CopyTimeout)
	}
	for i := range 5 {
		if d := post("alone"); d > cfg.CopyTimeout/2 {
			t.Errorf("write %d after the silence was noticed took %v, want it at once", i, d)
		}
	}
}
