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
// batch, as a msgsys server does. It replies to a sync request with no
// ops, done and in sync. Its flags change that:
//   - silent: it reads requests and never replies, as a server stopped
//     with SIGSTOP whose kernel still accepts bytes.
//   - hangUp: it closes each connection at its first request.
//   - dropNext: it closes the connection at the next request, once.
type fakePeer struct {
	ln       *proto.Listener
	silent   atomic.Bool
	hangUp   atomic.Bool
	dropNext atomic.Bool
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
		if f.hangUp.Load() || f.dropNext.CompareAndSwap(true, false) {
			conn.Close()
			return
		}
		envelope := frames[: len(frames)-1 : len(frames)-1]
		meta := proto.Meta{Timestamp: proto.FormatTime(time.Now()), Clock: 1}
		if service, _ := proto.PeekService(frames[len(frames)-1]); service == ServiceSync {
			reply, err := proto.Encode(ServiceSync, &SyncReply{Status: proto.StatusOK, Done: true, InSync: true}, meta)
			if err != nil || conn.Send(append(envelope, reply)...) != nil {
				return
			}
			continue
		}
		req, err := decodeReplicate(frames[len(frames)-1])
		if err != nil {
			return
		}
		if n := len(req.Ops); n > 0 {
			have = req.Ops[n-1].Seq
		}
		reply := encodeReplicateReply(&ReplicateReply{Status: proto.StatusOK, Have: have}, meta)
		if err := conn.Send(append(envelope, reply)...); err != nil {
			return
		}
	}
}

// TestSilentPeerStopsHoldingWrites makes the only peer stop replying. One
// write waits CopyTimeout for its copy, and the writes after it go on
// alone at once instead of waiting as long each.
func TestSilentPeerStopsHoldingWrites(t *testing.T) {
	peer := startFakePeer(t)
	w := startWriter(t, peer, time.Second)
	w.post("") // the login the posts need

	// The peer holds the first writes, so they wait for it.
	w.waitInSync()
	w.post("copied")
	if acked := w.r.Status().Peers[0].Acked; acked < 2 {
		t.Fatalf("peer acknowledged seq %d, want 2", acked)
	}

	peer.silent.Store(true)
	if d := w.post("first alone"); d < w.r.cfg.CopyTimeout {
		t.Errorf("the first write after the peer fell silent took %v, want at least CopyTimeout %v", d, w.r.cfg.CopyTimeout)
	}
	for i := range 5 {
		if d := w.post("alone"); d > w.r.cfg.CopyTimeout/2 {
			t.Errorf("write %d after the silence was noticed took %v, want it at once", i, d)
		}
	}
}

// writer is a running Replicator of server-1 with one peer, server-2.
type writer struct {
	t   *testing.T
	r   *Replicator
	ctx context.Context
	seq uint64 // seq of the last write
}

// testConfig returns the configuration of server-1 with a store of its
// own, closed when the test ends.
func testConfig(t *testing.T) Config {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "server.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := DefaultConfig()
	cfg.Name, cfg.Origin, cfg.Rank, cfg.Store, cfg.Clocks = "server-1", "server-1@test", 1, st, proto.NewClocks()
	return cfg
}

// startWriter runs a Replicator whose only peer is peer, with an
// AckTimeout of 100 ms and the given CopyTimeout.
func startWriter(t *testing.T, peer *fakePeer, copyTimeout time.Duration) *writer {
	t.Helper()
	cfg := testConfig(t)
	cfg.AckTimeout, cfg.CopyTimeout = 100*time.Millisecond, copyTimeout
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
	return &writer{t: t, r: r, ctx: ctx}
}

// post writes a post with text, or a login when text is empty, and
// returns how long the write took.
func (w *writer) post(text string) time.Duration {
	w.t.Helper()
	start := time.Now()
	op := store.Op{Kind: store.KindLogin, User: "ana", Clock: 1, Time: time.Now().UnixNano()}
	if text != "" {
		op = store.Op{Kind: store.KindPost, User: "ana", Channel: "geral", Text: text, Clock: 1, Time: time.Now().UnixNano()}
	}
	written, _, err := w.r.Write(w.ctx, op)
	if err != nil {
		w.t.Fatalf("write %q: %v", text, err)
	}
	w.seq = written.Seq
	return time.Since(start)
}

// waitInSync waits until server-2 is reachable and in sync.
func (w *writer) waitInSync() {
	w.t.Helper()
	waitFor(w.t, 5*time.Second, "the peer in sync", func() bool {
		w.r.mu.Lock()
		defer w.r.mu.Unlock()
		p := w.r.peers["server-2"]
		return p != nil && p.inSync && p.reachable
	})
}

// acked returns the highest seq that server-2 has acknowledged.
func (w *writer) acked() uint64 {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	return w.r.peers["server-2"].acked
}
