package store

import (
	"path/filepath"
	"testing"
	"time"

	"msgsys/internal/testkit"
)

// TestSyncEveryLeavesSyncsToThePeriod logs a batch in a store whose log
// syncs every hour: the batch stays unsynced until its Durable's Wait
// syncs it. With a short period the syncer's own sync covers it.
func TestSyncEveryLeavesSyncsToThePeriod(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "store.db"), Options{SyncEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o := newOrigin("s1", 1)
	_, durable, err := s.ApplyAsync([]Op{o.login("ana")})
	if err != nil {
		t.Fatal(err)
	}
	if s.Unsynced() == 0 {
		t.Fatal("the batch was synced at once, want it left to the period")
	}
	if err := durable.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := s.Unsynced(); n != 0 {
		t.Fatalf("%d bytes unsynced after Wait, want 0", n)
	}

	short, err := Open(filepath.Join(t.TempDir(), "store.db"), Options{SyncEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	if _, _, err := short.ApplyAsync([]Op{o.login("bia")}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 5*time.Second, "the syncer's periodic sync", func() bool { return short.Unsynced() == 0 })
}
