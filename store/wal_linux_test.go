//go:build linux

package store

import (
	"errors"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"msgsys/internal/testkit"
)

// TestStalledKeptSyncSwitchesToBlocking slows the first sync that keeps
// its processor past stallSync. The log's later syncs must then block,
// so that a disk that stalls once does not stop the server again.
func TestStalledKeptSyncSwitchesToBlocking(t *testing.T) {
	realKept, realBlocking := keptSync, blockingSync
	var keptCalls, blockingCalls atomic.Int32
	keptSync = func(fd uintptr) error {
		if keptCalls.Add(1) == 1 {
			time.Sleep(stallSync + 10*time.Millisecond)
		}
		return realKept(fd)
	}
	blockingSync = func(fd uintptr) error {
		blockingCalls.Add(1)
		return realBlocking(fd)
	}
	t.Cleanup(func() { keptSync, blockingSync = realKept, realBlocking })

	w, err := openWAL(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	o := newOrigin("s1", 1)
	for i := range 5 {
		if err := w.append([]Op{o.post("ana", "geral", "oi")}); err != nil {
			t.Fatal(err)
		}
		if err := w.syncUpTo(w.written); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
	}

	if got := keptCalls.Load(); got != 1 {
		t.Errorf("%d syncs kept the processor, want only the first, which stalled", got)
	}
	if got := blockingCalls.Load(); got < 4 {
		t.Errorf("%d syncs blocked after the stall, want at least 4", got)
	}
}

// TestFailedBackgroundSyncRefusesWrites fails the syncer's periodic sync,
// which no writer waits for. The store must refuse later writes, since a
// later sync of the same pages may report success although they were lost.
func TestFailedBackgroundSyncRefusesWrites(t *testing.T) {
	realBlocking := blockingSync
	var failing atomic.Bool
	blockingSync = func(fd uintptr) error {
		if failing.Load() {
			return syscall.EIO
		}
		return realBlocking(fd)
	}
	t.Cleanup(func() { blockingSync = realBlocking })

	s, err := Open(filepath.Join(t.TempDir(), "store.db"), Options{SyncEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o := newOrigin("s1", 1)
	failing.Store(true)
	if _, _, err := s.ApplyAsync([]Op{o.login("ana")}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 5*time.Second, "the failed sync recorded", func() bool { return s.failure() != nil })
	failing.Store(false)
	if _, _, err := s.ApplyAsync([]Op{o.login("bia")}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write after a failed sync: %v, want the sync's error", err)
	}
}
