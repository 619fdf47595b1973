package store

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// copyTree copies the regular files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// crashedStore runs TestCrashChild until it has acknowledged some batches,
// kills it, and returns the directory holding its store and log, untouched
// since the kill, and the last seq it acknowledged.
func crashedStore(t *testing.T) (string, uint64) {
	t.Helper()
	dir := t.TempDir()
	acknowledged := runCrashChild(t, filepath.Join(dir, "store.db"))
	return dir, acknowledged
}

// simulateMachineCrash makes a store directory look as if the machine, not
// only the process, died: the open marker names another boot, the bbolt
// file lost pages it never synced, and the log ends in a torn record.
func simulateMachineCrash(t *testing.T, dir string) {
	t.Helper()
	walDir := filepath.Join(dir, "store.db.wal")
	if err := os.WriteFile(filepath.Join(walDir, walOpenMarker), []byte("another-boot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "store.db")
	info, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, make([]byte, info.Size()/2), 0o600); err != nil {
		t.Fatal(err)
	}
	segs, err := walSegments(walDir)
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments: %v %v", segs, err)
	}
	last := filepath.Join(walDir, fmt.Sprintf("%016d%s", segs[len(segs)-1], walSuffix))
	end, err := scanSegment(last, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(last, os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	// A header that promises more than follows, as a write cut short does,
	// where the next record would start: the space reserved past the end
	// may follow.
	if _, err := f.WriteAt([]byte{200, 0, 0, 0, 1, 2, 3, 4, 'p', 'a', 'r'}, end); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRecoveryAfterCrashes kills a writing process and opens its store
// twice: as left by the process, and as a machine crash would leave it.
// Both must hold every acknowledged op, and the same ops.
func TestRecoveryAfterCrashes(t *testing.T) {
	dir, acknowledged := crashedStore(t)
	machine := t.TempDir()
	copyTree(t, dir, machine)
	simulateMachineCrash(t, machine)

	var dumps []string
	for _, c := range []struct {
		name    string
		dir     string
		rebuilt bool
	}{{"process crash", dir, false}, {"machine crash", machine, true}} {
		s, err := Open(filepath.Join(c.dir, "store.db"), Options{})
		if err != nil {
			t.Fatalf("%s: open: %v", c.name, err)
		}
		rec := s.Recovery()
		if !rec.Unclean {
			t.Errorf("%s: the stop of the killed process not reported unclean", c.name)
		}
		if rec.Rebuilt != c.rebuilt {
			t.Errorf("%s: rebuilt = %v, want %v", c.name, rec.Rebuilt, c.rebuilt)
		}
		if len(rec.LogDamage) != 0 {
			t.Errorf("%s: torn final record reported as log damage: %+v", c.name, rec.LogDamage)
		}
		if c.rebuilt && rec.Replayed < int(acknowledged) {
			t.Errorf("%s: replayed %d ops, want at least the %d acknowledged", c.name, rec.Replayed, acknowledged)
		}
		if have := s.VersionVector()["s1"]; have < acknowledged {
			t.Errorf("%s: version s1 = %d, but %d were acknowledged", c.name, have, acknowledged)
		}
		dumps = append(dumps, dumpString(t, s))

		// The store takes writes again, and closes cleanly.
		o := &testOrigin{name: "s1", seq: s.VersionVector()["s1"], clock: 1 << 20}
		if res := mustApply(t, s, o.post("ana", "geral", "after")); res.Ops[0].Status != StatusApplied {
			t.Errorf("%s: apply after recovery: %v", c.name, res.Ops[0].Status)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("%s: close: %v", c.name, err)
		}
		if _, err := os.Stat(filepath.Join(c.dir, "store.db.wal", walOpenMarker)); !os.IsNotExist(err) {
			t.Errorf("%s: open marker left after a clean close: %v", c.name, err)
		}

		s, err = Open(filepath.Join(c.dir, "store.db"), Options{})
		if err != nil {
			t.Fatalf("%s: reopen: %v", c.name, err)
		}
		if rec := s.Recovery(); !rec.IsZero() {
			t.Errorf("%s: recovery after a clean close: %+v", c.name, rec)
		}
		_ = s.Close()
	}
	if dumps[0] != dumps[1] {
		t.Errorf("the rebuilt store differs from the one the process left:\n%.2000s\n---\n%.2000s", dumps[0], dumps[1])
	}
}

// TestSeedLogFromFile removes the log of a closed store; Open starts a new
// log holding every op, so a later rebuild loses nothing.
func TestSeedLogFromFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := fillStore(s, 500, 100); err != nil {
		t.Fatal(err)
	}
	want := dumpString(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(path + ".wal"); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, path)
	if got := s.Recovery().Seeded; got != 500 {
		t.Errorf("seeded %d ops, want 500", got)
	}
	mustClose(t, s)

	checkRebuild(t, path, want)
}

// TestLostLogTailRefilled cuts whole records off the end of a cleanly
// closed store's log, which no crash does, and checks that Open copies them
// back from the file, so that a later rebuild from the log still has them.
func TestLostLogTailRefilled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s := mustOpen(t, path)
	o := newOrigin("s1", 1)
	mustApply(t, s, o.login("ana"), o.channel("geral"))
	cut := s.wal.end
	mustApply(t, s, o.post("ana", "geral", "um"), o.post("ana", "geral", "dois"))
	want := dumpString(t, s)
	mustClose(t, s)
	if err := os.Truncate(filepath.Join(path+".wal", fmt.Sprintf("%016d%s", cut.seg, walSuffix)), cut.off); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, path)
	if got := s.Recovery().Refilled; got != 2 {
		t.Errorf("refilled %d ops, want the 2 cut off", got)
	}
	mustClose(t, s)

	checkRebuild(t, path, want)
}

// checkRebuild opens the closed store at path as after a machine crash and
// checks that the file rebuilt from the log dumps as want.
func checkRebuild(t *testing.T, path, want string) {
	t.Helper()
	markOtherBoot(t, path)
	s := mustOpen(t, path)
	defer s.Close()
	if !s.Recovery().Rebuilt {
		t.Error("store with an open marker of another boot was not rebuilt")
	}
	if got := dumpString(t, s); got != want {
		t.Errorf("rebuilt from the log:\n%.1500s\nwant:\n%.1500s", got, want)
	}
}

// TestReceivedOpsVisible checks that ops logged by Receive are seen by the
// next read, and committed by the timer when nothing reads.
func TestReceivedOpsVisible(t *testing.T) {
	s := openTest(t)
	o := newOrigin("s2", 2)
	got, err := s.Receive([]Op{o.login("ana"), o.channel("geral"), o.post("ana", "geral", "oi")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Logged) != 3 || got.Version["s2"] != 3 {
		t.Fatalf("Receive = %+v, want 3 logged, version 3", got)
	}
	messages, _, err := s.History("geral", "", 10)
	if err != nil || len(messages) != 1 || messages[0].Text != "oi" {
		t.Fatalf("History after Receive = %v, %v", texts(messages), err)
	}

	gap := o.post("ana", "geral", "skipped")
	later := o.post("ana", "geral", "later")
	got, err = s.Receive([]Op{later})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Logged) != 0 || len(got.Missing) != 1 || got.Missing[0] != (Range{Origin: "s2", From: gap.Seq, To: gap.Seq}) {
		t.Errorf("Receive after a gap = %+v", got)
	}

	if _, err := s.Receive([]Op{gap, later}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.committedOps.Load() < s.loggedOps.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("received ops still pending after 5 s: %d of %d committed", s.committedOps.Load(), s.loggedOps.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if got := s.Counts().Posts; got != 3 {
		t.Errorf("posts = %d, want 3", got)
	}
}

// logThreeOps opens the log in dir and appends a login, a channel and a
// post to it.
func logThreeOps(t *testing.T, dir string, sync bool) (*wal, []Op) {
	t.Helper()
	w, err := openWAL(dir, sync)
	if err != nil {
		t.Fatal(err)
	}
	o := newOrigin("s1", 1)
	ops := []Op{o.login("ana"), o.channel("geral"), o.post("ana", "geral", "oi")}
	if err := w.append(ops); err != nil {
		t.Fatal(err)
	}
	return w, ops
}

// TestTornRecordEndsLog checks that a log whose end was cut off opens with
// the records before the cut, and takes appends after them.
func TestTornRecordEndsLog(t *testing.T) {
	dir := t.TempDir()
	w, ops := logThreeOps(t, dir, false)
	end := w.end
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, fmt.Sprintf("%016d%s", end.seg, walSuffix))
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	torn := slices.Clone(data[:len(data)-3])
	torn = append(torn, make([]byte, 100)...) // reserved space after the torn record
	if err := os.WriteFile(seg, torn, 0o600); err != nil {
		t.Fatal(err)
	}

	w, err = openWAL(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(data)) - 3 - w.end.off; w.cutBytes != want || want <= 0 {
		t.Errorf("cut %d bytes of the torn record, want %d", w.cutBytes, want)
	}
	if len(w.damage) != 0 {
		t.Errorf("torn record reported as damage: %+v", w.damage)
	}
	var got []Op
	collect := func(batch []Op) error {
		got = append(got, batch...)
		return nil
	}
	if err := w.replay(walPos{}, 2, collect); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1] != ops[1] {
		t.Fatalf("replayed %+v, want the first two ops", got)
	}
	if err := w.append(ops[2:]); err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := w.replay(walPos{}, 10, collect); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2] != ops[2] {
		t.Errorf("after the append replayed %+v", got)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, seg), data) {
		t.Error("the segment after the rewrite differs from the original")
	}
}

// TestReservedSpaceEndsLog checks that a segment file allocated past the
// log's end, as a process that died leaves it, opens at its last record,
// and that a clean close gives the reserved space back.
func TestReservedSpaceEndsLog(t *testing.T) {
	dir := t.TempDir()
	w, ops := logThreeOps(t, dir, true)
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	end := w.end
	seg := w.segPath(end.seg)
	info, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if !w.noReserve && info.Size() != walReserveBytes {
		t.Errorf("segment of %d bytes while open, want %d reserved", info.Size(), walReserveBytes)
	}

	// Open the log again without closing it, as after a crash.
	again, err := openWAL(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if again.end != end {
		t.Errorf("reopened at %+v, want the end of the last record %+v", again.end, end)
	}
	if again.cutBytes != 0 {
		t.Errorf("cut %d bytes of reserved zeros, want none reported", again.cutBytes)
	}
	var got []Op
	err = again.replay(walPos{}, 10, func(batch []Op) error {
		got = append(got, batch...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ops) || got[2] != ops[2] {
		t.Errorf("replayed %+v, want the three ops", got)
	}
	if err := again.close(); err != nil {
		t.Fatal(err)
	}
	info, err = os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != end.off {
		t.Errorf("segment of %d bytes after close, want %d", info.Size(), end.off)
	}
	abandon(w)
}

// abandon stops a log's syncer and closes its file without the steps of a
// clean close, as a process that dies leaves it.
func abandon(w *wal) {
	close(w.stop)
	<-w.stopped
	_ = w.f.Close()
}

// TestSegmentsRotate fills several small segments and checks that each full
// one ends with its last record and that a reopened log replays every op.
func TestSegmentsRotate(t *testing.T) {
	dir := t.TempDir()
	w, err := openWAL(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	w.segmentBytes = 4096
	o := newOrigin("s1", 1)
	var ops []Op
	for i := range 200 {
		ops = append(ops, o.post("ana", "geral", fmt.Sprintf("mensagem %d", i)))
	}
	for batch := range slices.Chunk(ops, 5) {
		if err := w.append(batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}

	segs := severalSegments(t, dir)
	for _, seg := range segs[:len(segs)-1] {
		end, err := scanSegment(w.segPath(seg), 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(w.segPath(seg))
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() != end || end < w.segmentBytes {
			t.Errorf("full segment %d: %d bytes, records end at %d, want equal and at least %d", seg, info.Size(), end, w.segmentBytes)
		}
	}

	again, err := openWAL(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer again.close()
	var got []Op
	err = again.replay(walPos{}, 64, func(batch []Op) error {
		got = append(got, batch...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, ops) {
		t.Errorf("replayed %d ops, want the %d appended in order", len(got), len(ops))
	}
	abandon(w)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestFailedOpenLeavesNoMarker opens a file of another program: Open fails
// and a later Open of a fresh file still works.
func TestFailedOpenLeavesNoMarker(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("x", 8192)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); err == nil {
		t.Fatal("Open of a file that is not a store succeeded")
	}
	if _, err := os.Stat(filepath.Join(path+".wal", walOpenMarker)); !os.IsNotExist(err) {
		t.Errorf("open marker after a failed Open: %v", err)
	}
}

// TestUncleanMarksOpenStore checks Unclean on an open, a closed and a
// crashed store.
func TestUncleanMarksOpenStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if !Unclean(path) {
		t.Error("Unclean is false while the store is open")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if Unclean(path) {
		t.Error("Unclean is true after a clean close")
	}
	dir, _ := crashedStore(t)
	if !Unclean(filepath.Join(dir, "store.db")) {
		t.Error("Unclean is false after the writing process was killed")
	}
}

// TestSyncsDuringRotation runs syncs from many goroutines while appends
// rotate segments, as writers and the syncer do under load, and checks
// that every sync succeeds and covers what was appended before it.
func TestSyncsDuringRotation(t *testing.T) {
	dir := t.TempDir()
	w, err := openWAL(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	w.segmentBytes = 4096
	o := newOrigin("s1", 1)

	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := range 200 {
		if err := w.append([]Op{o.post("ana", "geral", fmt.Sprintf("mensagem %d", i))}); err != nil {
			t.Fatal(err)
		}
		w.mu.Lock()
		upTo := w.written
		w.mu.Unlock()
		for range 2 {
			wg.Go(func() {
				if err := w.syncUpTo(upTo); err != nil {
					errs <- err
				} else if synced := w.synced.Load(); synced < upTo {
					errs <- fmt.Errorf("syncUpTo(%d) returned with %d synced", upTo, synced)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}

	segs := severalSegments(t, dir)
	records := 0
	for _, seg := range segs {
		if _, err := scanSegment(w.segPath(seg), 0, func(Op) error { records++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if records != 200 {
		t.Errorf("%d records in the log, want 200", records)
	}
}

// severalSegments returns the log's segments in dir and fails the test
// unless the 4096-byte segments of a test made at least three.
func severalSegments(t *testing.T, dir string) []uint64 {
	t.Helper()
	segs, err := walSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several of 4096 bytes", len(segs))
	}
	return segs
}
