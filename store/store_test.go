package store

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := newOrigin("s7", 7), newOrigin("s8", 8)
	mustApply(t, s, clusterOps()...)
	mustApply(t, s, a.next(Op{Kind: KindLogin, User: "dani", RID: "x"}), b.login("edu"))
	wantDump := dumpString(t, s)
	wantCounts := s.Counts()
	wantVersion := s.VersionVector()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if got := dumpString(t, s); got != wantDump {
		t.Errorf("dump changed across reopen")
	}
	if got := s.Counts(); got != wantCounts {
		t.Errorf("counts %+v, want %+v", got, wantCounts)
	}
	if got := s.VersionVector(); !maps.Equal(got, wantVersion) {
		t.Errorf("version vector %v, want %v", got, wantVersion)
	}
	if _, ok, _ := s.LookupRID("x", baseTime); !ok {
		t.Error("request id lost across reopen")
	}
	// The reopened store goes on from where it was.
	res := mustApply(t, s, a.login("fabi"))
	if res.Ops[0].Status != StatusApplied || !s.HasUser("fabi") {
		t.Errorf("apply after reopen: %+v", res.Ops[0])
	}
}

func TestBackupWhileOpen(t *testing.T) {
	s := openTest(t)
	mustApply(t, s, clusterOps()...)
	want := dumpString(t, s)

	path := filepath.Join(t.TempDir(), "copy.db")
	if err := s.Backup(path); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	// The original stays open and writable, and the copy opens beside it.
	mustApply(t, s, newOrigin("s9", 9).login("zeca"))
	copied, err := Open(path, Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("open backup read-only: %v", err)
	}
	defer copied.Close()
	if got := dumpString(t, copied); got != want {
		t.Errorf("backup dump differs from the original at backup time")
	}
	if copied.HasUser("zeca") {
		t.Error("backup holds a write made after it")
	}
	if got := copied.Counts(); got != (Counts{Users: 3, Channels: 2, Posts: 29, Directs: 9, Logins: 5}) {
		t.Errorf("backup counts = %+v", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("backup left %d files in its directory, want 1", len(entries))
	}
}

func TestOpenLockedFileTimesOut(t *testing.T) {
	s := openTest(t)
	start := time.Now()
	_, err := Open(s.db.Path(), Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second writable Open of a file in use: %v, want ErrLocked", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Open waited %v", elapsed)
	}
}

func TestOpenRejectsForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("something"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); !errors.Is(err, ErrNotStore) {
		t.Errorf("Open of another program's file: %v, want ErrNotStore", err)
	}
	if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, ErrNotStore) {
		t.Errorf("read-only Open of another program's file: %v, want ErrNotStore", err)
	}
}

func TestReadsAfterClose(t *testing.T) {
	s := openTest(t)
	o := newOrigin("s1", 1)
	mustApply(t, s, o.login("ana"), o.channel("geral"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.HasUser("ana") || len(s.Users()) != 0 || len(s.Channels()) != 0 {
		t.Error("closed store reports data")
	}
	if _, _, err := s.History("geral", "", 1); err == nil {
		t.Error("History on a closed store returned no error")
	}
	if _, err := s.Apply([]Op{o.login("bia")}); err == nil {
		t.Error("Apply on a closed store returned no error")
	}
}

// TestConcurrentReadsDuringApply runs readers against a store while one
// goroutine applies batches; go test -race checks the shared state.
func TestConcurrentReadsDuringApply(t *testing.T) {
	s := openTest(t)
	o := newOrigin("s1", 1)
	mustApply(t, s, o.login("ana"), o.channel("geral"))

	const batches = 50
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				page, _, err := s.History("geral", "", 20)
				if err != nil {
					errs <- err
					return
				}
				if !slices.IsSortedFunc(page, func(a, b Message) int { return bytes.Compare(OrderKey(opOf(a)), OrderKey(opOf(b))) }) {
					errs <- fmt.Errorf("history page out of order")
					return
				}
				_ = s.Counts()
				_ = s.VersionVector()
				_ = s.Users()
			}
		}()
	}
	for i := range batches {
		batch := make([]Op, 0, 10)
		for j := range 10 {
			batch = append(batch, o.post("ana", "geral", fmt.Sprintf("%d.%d", i, j)))
		}
		mustApply(t, s, batch...)
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.Counts().Posts; got != batches*10 {
		t.Errorf("posts = %d, want %d", got, batches*10)
	}
}

func opOf(m Message) Op {
	return Op{Clock: m.Clock, Rank: m.Rank, Origin: m.Origin, Seq: m.Seq}
}
