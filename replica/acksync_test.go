package replica

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"msgsys/proto"
	"msgsys/store"
)

// TestAckBeforeSync writes through a replicator whose store syncs its log
// only every hour unless asked. With AckBeforeSync a write that the peer
// holds returns with its bytes unsynced, and a write that no peer holds
// returns synced. Without it every write returns synced.
func TestAckBeforeSync(t *testing.T) {
	for _, ackBeforeSync := range []bool{true, false} {
		peer := startFakePeer(t)
		st, err := store.Open(filepath.Join(t.TempDir(), "server.db"), store.Options{SyncEvery: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })

		cfg := DefaultConfig()
		cfg.Name, cfg.Origin, cfg.Rank, cfg.Store, cfg.Clocks = "server-1", "server-1@test", 1, st, proto.NewClocks()
		cfg.AckTimeout, cfg.CopyTimeout = 100*time.Millisecond, 200*time.Millisecond
		cfg.AckBeforeSync = ackBeforeSync
		r := New(cfg)
		r.SetPeers([]Peer{{Name: "server-2", Addr: peer.ln.Endpoint()}})
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan struct{})
		go func() {
			defer close(ran)
			r.Run(ctx)
		}()

		write := func(op store.Op) {
			t.Helper()
			op.Clock, op.Time = 1, time.Now().UnixNano()
			if _, _, err := r.Write(ctx, op); err != nil {
				t.Fatalf("write: %v", err)
			}
		}
		write(store.Op{Kind: store.KindLogin, User: "ana"})
		waitFor(t, 5*time.Second, "the peer in sync", func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			p := r.peers["server-2"]
			return p != nil && p.inSync && p.reachable
		})

		write(store.Op{Kind: store.KindPost, User: "ana", Channel: "geral", Text: "copied"})
		if unsynced := st.Unsynced(); ackBeforeSync && unsynced == 0 {
			t.Error("AckBeforeSync: a write the peer held waited for its sync")
		} else if !ackBeforeSync && unsynced != 0 {
			t.Errorf("a write returned with %d bytes unsynced", unsynced)
		}

		peer.silent.Store(true)
		write(store.Op{Kind: store.KindPost, User: "ana", Channel: "geral", Text: "alone"})
		if unsynced := st.Unsynced(); unsynced != 0 {
			t.Errorf("AckBeforeSync %v: a write that no peer held returned with %d bytes unsynced", ackBeforeSync, unsynced)
		}
		cancel()
		<-ran
	}
}
