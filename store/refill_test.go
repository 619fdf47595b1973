package store

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// logRecords returns how many records the segments of the store at path
// hold.
func logRecords(t *testing.T, path string) int {
	t.Helper()
	segs, err := walSegments(path + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, seg := range segs {
		n += len(recordOffsets(t, segmentPath(path, seg)))
	}
	return n
}

// storeOps returns how many ops the version vector counts.
func storeOps(version map[string]uint64) int {
	n := 0
	for _, seq := range version {
		n += int(seq)
	}
	return n
}

// TestMissingSegmentsRefilled removes segments of the log of a process
// that died, and reopens the store. Open must write the ops of the file
// that the removed segments held into new segments of the same numbers,
// without copies of ops that other segments hold. The next Open must find
// nothing to recover, and the log must rebuild the same store.
func TestMissingSegmentsRefilled(t *testing.T) {
	cases := []struct {
		name   string
		remove []uint64
	}{
		{"first segment", []uint64{1}},
		{"first two segments", []uint64{1, 2}},
		{"middle segment", []uint64{2}},
		{"first and third segments", []uint64{1, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.db")
			want, version := segmentedStore(t, path)
			removed := 0
			for _, seg := range c.remove {
				removed += len(recordOffsets(t, segmentPath(path, seg)))
				if err := os.Remove(segmentPath(path, seg)); err != nil {
					t.Fatal(err)
				}
			}
			if err := writeOpenMarker(path + ".wal"); err != nil {
				t.Fatal(err)
			}

			s := mustOpen(t, path)
			rec := s.Recovery()
			var missing []string
			for _, d := range rec.LogDamage {
				if d.Missing {
					missing = append(missing, d.Segment)
				}
			}
			var wantMissing []string
			for _, seg := range c.remove {
				wantMissing = append(wantMissing, segmentPath(path, seg))
			}
			if !slices.Equal(missing, wantMissing) {
				t.Errorf("missing segments reported %v, want %v", missing, wantMissing)
			}
			if rec.Refilled != removed {
				t.Errorf("Refilled = %d, want %d, the ops of the removed segments", rec.Refilled, removed)
			}
			for _, seg := range c.remove {
				if _, err := os.Stat(segmentPath(path, seg)); err != nil {
					t.Errorf("segment %d after the refill: %v", seg, err)
				}
			}
			if leftovers, _ := filepath.Glob(filepath.Join(path+".wal", "*"+walFillSuffix)); len(leftovers) != 0 {
				t.Errorf("files left before their rename: %v", leftovers)
			}
			if got := logRecords(t, path); got != storeOps(version) {
				t.Errorf("log holds %d records, want %d, one per op", got, storeOps(version))
			}
			if got := dumpString(t, s); got != want {
				t.Errorf("store after the refill:\n%.1500s\nwant:\n%.1500s", got, want)
			}

			s = reopen(t, s, path)
			if rec := s.Recovery(); !rec.IsZero() {
				t.Errorf("recovery at the next open: %+v", rec)
			}
			if got := s.VersionVector(); !maps.Equal(got, version) {
				t.Errorf("version vector %v, want %v", got, version)
			}
			mustClose(t, s)

			checkRebuild(t, path, want)
		})
	}
}

// TestDamagedFileRebuiltAfterRefill removes the first segment of the log
// of a process that died, reopens the store, closes it, and overwrites the
// header of the bbolt file. The refill made the log whole again, so Open
// must rebuild the store from it with every op.
func TestDamagedFileRebuiltAfterRefill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	want, version := segmentedStore(t, path)
	if err := os.Remove(segmentPath(path, 1)); err != nil {
		t.Fatal(err)
	}
	if err := writeOpenMarker(path + ".wal"); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, path)
	if rec := s.Recovery(); rec.Refilled == 0 {
		t.Errorf("no op copied back into the log: %+v", rec)
	}
	mustClose(t, s)

	overwrite(t, path, 0, make([]byte, 8192))
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open of the damaged file: %v", err)
	}
	defer s.Close()
	rec := s.Recovery()
	if !rec.Rebuilt || rec.DamagedFile == "" {
		t.Errorf("damaged file not moved aside and rebuilt: %+v", rec)
	}
	if len(rec.LogDamage) != 0 {
		t.Errorf("log damage reported after the refill: %+v", rec.LogDamage)
	}
	if got := s.VersionVector(); !maps.Equal(got, version) {
		t.Errorf("version vector %v, want %v", got, version)
	}
	if got := dumpString(t, s); got != want {
		t.Errorf("rebuilt store:\n%.1500s\nwant:\n%.1500s", got, want)
	}
}

// TestRefillInterruptedBeforeRename leaves the file that the refill writes
// for a missing segment under its temporary name, as a process that died
// before the rename leaves it. The segment must still count as missing, so
// a damaged bbolt file is not rebuilt from the log, and the next writable
// Open of a whole file must refill the log again.
func TestRefillInterruptedBeforeRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	want, _ := segmentedStore(t, path)
	seg1 := segmentPath(path, 1)
	if err := os.Rename(seg1, seg1+walFillSuffix); err != nil {
		t.Fatal(err)
	}
	if err := checkLogComplete(path + ".wal"); err == nil {
		t.Fatal("log with only a fill file for segment 1 counts as complete")
	}

	s := mustOpen(t, path)
	if rec := s.Recovery(); rec.Refilled == 0 {
		t.Errorf("no op copied back into the log: %+v", rec)
	}
	mustClose(t, s)
	if err := checkLogComplete(path + ".wal"); err != nil {
		t.Errorf("log after the refill: %v", err)
	}
	checkRebuild(t, path, want)
}
