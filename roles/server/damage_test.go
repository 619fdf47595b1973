package server

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/store"
)

// oldHistory returns n posts of an origin from before the test's cluster
// started, after the login and the channel they need.
func oldHistory(n int) []store.Op {
	ops := []store.Op{
		{Origin: "server-1@old", Seq: 1, Rank: 1, Clock: 1, Time: 1, Kind: store.KindLogin, User: "ana"},
		{Origin: "server-1@old", Seq: 2, Rank: 1, Clock: 2, Time: 2, Kind: store.KindChannel, Channel: "geral"},
	}
	for i := range n {
		seq := uint64(len(ops) + 1)
		ops = append(ops, store.Op{Origin: "server-1@old", Seq: seq, Rank: 1, Clock: seq, Time: int64(seq),
			Kind: store.KindPost, User: "ana", Channel: "geral", Text: fmt.Sprintf("post %d", i)})
	}
	return ops
}

// writeHistory stores ops in a new store in the data directory dir, with
// write-ahead log segments of segmentBytes, and closes it.
func writeHistory(t *testing.T, dir string, ops []store.Op, segmentBytes int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "server.db"), store.Options{NoSync: true, SegmentBytes: segmentBytes})
	if err != nil {
		t.Fatal(err)
	}
	for batch := range slices.Chunk(ops, 20) {
		if _, err := st.Apply(batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// flipByte inverts the byte at off in the file at path.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedStoreRebuiltAndCaughtUp starts a server whose bbolt file has
// its first 8 KiB zeroed and whose write-ahead log, of several segments,
// has a damaged byte in a middle segment. The server must move the file
// aside, rebuild it from the log, warn about both, and get the ops the
// cut records held from its peer before it serves.
func TestDamagedStoreRebuiltAndCaughtUp(t *testing.T) {
	c := &cluster{t: t, dir: t.TempDir(), servers: make(map[string]*node)}
	c.startInfrastructure()
	cfg1, cfg2 := c.config("server-1"), c.config("server-2")
	logs := new(testkit.Buffer)
	cfg2.Log = slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, logs), nil)).With("role", "server")

	history := oldHistory(300)
	writeHistory(t, cfg1.Data, history, 0)
	writeHistory(t, cfg2.Data, history, 4096)
	path := filepath.Join(cfg2.Data, "server.db")
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 8192), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	segment := filepath.Join(path+".wal", fmt.Sprintf("%016d.seg", 2))
	info, err := os.Stat(segment)
	if err != nil {
		t.Fatalf("the log has no second segment: %v", err)
	}
	flipByte(t, segment, info.Size()/2)

	s1 := c.startWith(cfg1)
	waitFor(t, 5*time.Second, "server-1 registered", func() bool { return s1.Rank() > 0 })
	s2 := c.startWith(cfg2)
	c.waitServing(2)

	rec := s2.Store().Recovery()
	if rec.DamagedFile == "" || !rec.Rebuilt {
		t.Errorf("recovery %+v, want the damaged file moved aside and the store rebuilt", rec)
	}
	if len(rec.LogDamage) != 1 || rec.LogDamage[0].Segment != segment {
		t.Errorf("log damage %+v, want one place in %s", rec.LogDamage, segment)
	}
	if rec.Replayed >= len(history) {
		t.Errorf("replayed %d ops, want fewer than the %d stored, as the cut records lost some", rec.Replayed, len(history))
	}
	if lines := logs.Lines("level=WARN", `msg="store file damaged, rebuilt from the log"`, "kept="+rec.DamagedFile); len(lines) != 1 {
		t.Errorf("%d warnings about the damaged file, want 1:\n%s", len(lines), logs)
	}
	if lines := logs.Lines("level=WARN", `msg="store log damaged, records cut"`, "segment="+segment, fmt.Sprintf("offset=%d", rec.LogDamage[0].Offset)); len(lines) != 1 {
		t.Errorf("%d warnings about the damaged log, want 1:\n%s", len(lines), logs)
	}
	if got := s2.Store().VersionVector()["server-1@old"]; got != uint64(len(history)) {
		t.Errorf("server-2 serves with seq %d of the old origin, want %d", got, len(history))
	}
	want := dumpOf(t, s1)
	if got := dumpOf(t, s2); got != want {
		t.Errorf("server-2 dump:\n%.1000s\nwant:\n%.1000s", got, want)
	}

	// The log now holds what catch-up brought, so a rebuild from it alone
	// gives the same store.
	c.stop("server-2")
	if err := os.WriteFile(filepath.Join(path+".wal", "open"), []byte("another-boot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !st.Recovery().Rebuilt {
		t.Error("store with an open marker of another boot not rebuilt")
	}
	var b strings.Builder
	if err := st.Dump(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("store rebuilt from server-2's log:\n%.1000s\nwant:\n%.1000s", b.String(), want)
	}
}
