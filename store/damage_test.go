package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// segmentedStore makes a closed store at path whose log spans several
// segments of 4 KiB, with the ops of two origins, s1 and s2, interleaved
// in batches. It returns the store's dump and version vector.
func segmentedStore(t *testing.T, path string) (string, map[string]uint64) {
	t.Helper()
	s, err := Open(path, Options{NoSync: true, SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := newOrigin("s1", 1), newOrigin("s2", 2)
	mustApply(t, s, s1.login("ana"), s1.channel("geral"), s2.login("bia"))
	for i := range 30 {
		var batch []Op
		for j := range 5 {
			batch = append(batch,
				s1.post("ana", "geral", fmt.Sprintf("ana %d.%d", i, j)),
				s2.post("bia", "geral", fmt.Sprintf("bia %d.%d", i, j)))
		}
		mustApply(t, s, batch...)
	}
	want, version := dumpString(t, s), s.VersionVector()
	mustClose(t, s)
	if segs := severalSegments(t, path+".wal"); len(segs) < 4 {
		t.Fatalf("%d segments, want at least 4", len(segs))
	}
	return want, version
}

// segmentPath returns the path of segment seg of the store at path.
func segmentPath(path string, seg uint64) string {
	return filepath.Join(path+".wal", fmt.Sprintf("%016d%s", seg, walSuffix))
}

// recordOffsets returns the offset of each whole record in the segment at
// path.
func recordOffsets(t *testing.T, path string) []int64 {
	t.Helper()
	data := mustRead(t, path)
	var offsets []int64
	for off := int64(0); off+walHeaderBytes <= int64(len(data)); {
		size := int64(binary.LittleEndian.Uint32(data[off:]))
		if size == 0 || off+walHeaderBytes+size > int64(len(data)) {
			break
		}
		offsets = append(offsets, off)
		off += walHeaderBytes + size
	}
	return offsets
}

// damageRecord flips a byte in the payload of the middle record of the
// segment at path, so that its checksum fails while the records around it
// stay whole. It returns the record's offset and the damaged segment.
func damageRecord(t *testing.T, path string) (int64, []byte) {
	t.Helper()
	offsets := recordOffsets(t, path)
	if len(offsets) < 3 {
		t.Fatalf("%s holds %d records, want a record with others around it", path, len(offsets))
	}
	off := offsets[len(offsets)/2]
	data := mustRead(t, path)
	data[off+walHeaderBytes+2] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return off, data
}

// overwrite writes data at off in the file at path.
func overwrite(t *testing.T, path string, off int64, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// damagedNames returns the files next to path whose names start with
// base.damaged-.
func damagedNames(t *testing.T, path string) []string {
	t.Helper()
	names, err := filepath.Glob(path + ".damaged-*")
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestDamagedFileRebuiltFromLog damages the bbolt file of a closed store
// in ways that keep bbolt from opening it. Open must move the file aside
// unchanged and rebuild the same store from the log.
func TestDamagedFileRebuiltFromLog(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"header overwritten", func(t *testing.T, path string) {
			overwrite(t, path, 0, bytes.Repeat([]byte{0xa5}, 8192))
		}},
		{"meta checksums wrong", func(t *testing.T, path string) {
			// Each of the two 4 KiB meta pages has a page header of 16
			// bytes, then the meta, whose checksum is at offset 56.
			overwrite(t, path, 16+56, []byte{0xff})
			overwrite(t, path, 4096+16+56, []byte{0xff})
		}},
		{"pages after the metas zeroed", func(t *testing.T, path string) {
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			overwrite(t, path, 8192, make([]byte, info.Size()-8192))
		}},
		{"file cut to three pages", func(t *testing.T, path string) {
			if err := os.Truncate(path, 3*4096); err != nil {
				t.Fatal(err)
			}
		}},
		{"file cut under two pages", func(t *testing.T, path string) {
			if err := os.Truncate(path, 5000); err != nil {
				t.Fatal(err)
			}
		}},
		{"not a bbolt file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 4096)), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.db")
			want, version := segmentedStore(t, path)
			c.damage(t, path)
			damaged := mustRead(t, path)

			s := mustOpen(t, path)
			rec := s.Recovery()
			if !rec.Rebuilt {
				t.Error("store not reported rebuilt")
			}
			if rec.FileDamage == "" {
				t.Error("Recovery.FileDamage is empty")
			}
			if names := damagedNames(t, path); len(names) != 1 || names[0] != rec.DamagedFile {
				t.Errorf("damaged files %v, want only Recovery.DamagedFile %q", names, rec.DamagedFile)
			}
			if rec.DamagedFile != "" && !bytes.Equal(mustRead(t, rec.DamagedFile), damaged) {
				t.Error("the file moved aside differs from the damaged file")
			}
			if got := s.VersionVector(); !maps.Equal(got, version) {
				t.Errorf("version vector %v, want %v", got, version)
			}
			if got := dumpString(t, s); got != want {
				t.Errorf("rebuilt store:\n%.1500s\nwant:\n%.1500s", got, want)
			}
			s = reopen(t, s, path)
			if rec := s.Recovery(); !rec.IsZero() {
				t.Errorf("recovery at the next open: %+v", rec)
			}
			mustClose(t, s)
		})
	}
}

// TestDamagedFileKeptWhenLogIncomplete damages the bbolt file of a store
// whose log lacks segments. Open must fail with ErrDamaged, name what the
// log lacks, and leave the file where and as it was.
func TestDamagedFileKeptWhenLogIncomplete(t *testing.T) {
	cases := []struct {
		name   string
		remove []uint64 // segments to remove; nil removes the log
		want   string
	}{
		{"no log", nil, "no segment files found"},
		{"first segment missing", []uint64{1}, "segment 1 is missing"},
		{"segments missing", []uint64{1, 2}, "segments 1-2 are missing"},
		{"first and third segments missing", []uint64{1, 3}, "segments 1, 3 are missing"},
		{"middle segment missing", []uint64{2}, "segment 2 is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.db")
			segmentedStore(t, path)
			overwrite(t, path, 0, make([]byte, 8192))
			damaged := mustRead(t, path)
			if c.remove == nil {
				if err := os.RemoveAll(path + ".wal"); err != nil {
					t.Fatal(err)
				}
			}
			for _, seg := range c.remove {
				if err := os.Remove(segmentPath(path, seg)); err != nil {
					t.Fatal(err)
				}
			}

			s, err := Open(path, Options{NoSync: true})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("error %v does not wrap ErrDamaged", err)
			}
			if !strings.HasSuffix(err.Error(), "cannot rebuild it: "+c.want) {
				t.Errorf("error %q does not end with %q", err, c.want)
			}
			var incomplete *IncompleteLogError
			if !errors.As(err, &incomplete) {
				t.Errorf("error %v does not wrap an *IncompleteLogError", err)
			}
			checked := CheckLog(path)
			if !errors.As(checked, &incomplete) || checked.Error() != c.want {
				t.Errorf("CheckLog = %v, want an *IncompleteLogError %q", checked, c.want)
			}
			if !bytes.Equal(mustRead(t, path), damaged) {
				t.Error("the damaged file changed")
			}
			if names := damagedNames(t, path); len(names) != 0 {
				t.Errorf("files moved aside: %v", names)
			}
		})
	}
}

// TestDamagedFileReadOnly opens a damaged file read-only: Open fails with
// ErrDamaged and changes nothing.
func TestDamagedFileReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	segmentedStore(t, path)
	overwrite(t, path, 0, make([]byte, 8192))
	damaged := mustRead(t, path)

	s, err := Open(path, Options{ReadOnly: true})
	if err == nil {
		s.Close()
		t.Fatal("read-only Open of a damaged file succeeded")
	}
	if !errors.Is(err, ErrDamaged) {
		t.Errorf("error %v does not wrap ErrDamaged", err)
	}
	if !bytes.Equal(mustRead(t, path), damaged) {
		t.Error("the damaged file changed")
	}
	if names := damagedNames(t, path); len(names) != 0 {
		t.Errorf("files moved aside: %v", names)
	}
}

// checkLogDamage checks that rec reports one damaged place: the record at
// off of the segment at segPath, cut with every byte after it, and a copy
// of the damaged segment.
func checkLogDamage(t *testing.T, rec Recovery, segPath string, off int64, damaged []byte) {
	t.Helper()
	if rec.TailCut != 0 {
		t.Errorf("damage reported as a torn final record of %d bytes", rec.TailCut)
	}
	if len(rec.LogDamage) != 1 {
		t.Fatalf("log damage %+v, want one place", rec.LogDamage)
	}
	d := rec.LogDamage[0]
	if d.Segment != segPath || d.Offset != off || d.Missing {
		t.Errorf("damage at %s offset %d (missing %v), want %s offset %d", d.Segment, d.Offset, d.Missing, segPath, off)
	}
	if want := int64(len(bytes.TrimRight(damaged, "\x00"))) - off; d.Bytes != want {
		t.Errorf("cut %d bytes, want the %d from the damaged record on", d.Bytes, want)
	}
	if !bytes.Equal(mustRead(t, d.Copy), damaged) {
		t.Errorf("copy %s differs from the segment before the cut", d.Copy)
	}
}

// TestLogDamageRefilledFromFile damages a record in the middle of a
// segment of a multi-segment log whose bbolt file is whole. Open must
// report the damage with its place, keep the store as it was, and copy the
// ops the log lost back into it, so that a rebuild from the log gives the
// same store.
func TestLogDamageRefilledFromFile(t *testing.T) {
	cases := []struct {
		name    string
		segment func(segs []uint64) uint64
		died    bool // the process died instead of closing the store
	}{
		{"middle segment", func(segs []uint64) uint64 { return segs[1] }, false},
		{"last segment", func(segs []uint64) uint64 { return segs[len(segs)-1] }, false},
		{"middle segment after a process crash", func(segs []uint64) uint64 { return segs[1] }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.db")
			want, version := segmentedStore(t, path)
			segs := severalSegments(t, path+".wal")
			seg := c.segment(segs)
			segPath := segmentPath(path, seg)
			off, damaged := damageRecord(t, segPath)
			if c.died {
				// An open marker of this boot: the process died, and its
				// commits are in the file.
				if err := writeOpenMarker(path + ".wal"); err != nil {
					t.Fatal(err)
				}
			}

			s := mustOpen(t, path)
			rec := s.Recovery()
			checkLogDamage(t, rec, segPath, off, damaged)
			if info, err := os.Stat(segPath); seg != segs[len(segs)-1] && (err != nil || info.Size() != off) {
				t.Errorf("segment after the cut: %v, want %d bytes", err, off)
			}
			if rec.Refilled == 0 {
				t.Error("no op copied back into the log")
			}
			if rec.Rebuilt {
				t.Error("store with a whole file reported rebuilt")
			}
			if got := s.VersionVector(); !maps.Equal(got, version) {
				t.Errorf("version vector %v, want %v", got, version)
			}
			if got := dumpString(t, s); got != want {
				t.Errorf("store after the cut:\n%.1500s\nwant:\n%.1500s", got, want)
			}
			mustClose(t, s)

			checkRebuild(t, path, want)
		})
	}
}

// TestLogDamageAfterMachineCrash damages a record in the middle of a
// segment of a log whose bbolt file a machine crash left to be rebuilt.
// The rebuilt store lacks the ops of the cut records and every later op
// of their origins, but it must be consistent: its log rebuilds the same
// store again, and the ops that catch-up brings from a peer complete it.
func TestLogDamageAfterMachineCrash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store.db")
	want, version := segmentedStore(t, path)
	peerDir := t.TempDir()
	copyTree(t, dir, peerDir)

	segPath := segmentPath(path, severalSegments(t, path+".wal")[1])
	off, damaged := damageRecord(t, segPath)
	markOtherBoot(t, path)

	s := mustOpen(t, path)
	rec := s.Recovery()
	checkLogDamage(t, rec, segPath, off, damaged)
	if !rec.Rebuilt || rec.Refilled != 0 {
		t.Errorf("recovery %+v, want a rebuild that refilled nothing", rec)
	}
	lacking := s.VersionVector()
	if lacking["s1"] >= version["s1"] || lacking["s2"] >= version["s2"] {
		t.Fatalf("version vector %v after losing records of both origins, want each below %v", lacking, version)
	}
	rebuilt := dumpString(t, s)
	mustClose(t, s)
	checkRebuild(t, path, rebuilt)

	// Catch-up: a peer sends, per origin, the ops after the version vector.
	peer := mustOpen(t, filepath.Join(peerDir, "store.db"))
	defer peer.Close()
	s = mustOpen(t, path)
	for origin, seq := range lacking {
		ops, err := peer.OpsAfter(origin, seq, 10_000, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Receive(ops); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.VersionVector(); !maps.Equal(got, version) {
		t.Errorf("version vector after catch-up %v, want %v", got, version)
	}
	if got := dumpString(t, s); got != want {
		t.Errorf("store after catch-up:\n%.1500s\nwant:\n%.1500s", got, want)
	}
	mustClose(t, s)
	checkRebuild(t, path, want)
}

// TestLogCutClassified opens logs whose last segment ends in bytes that
// are not whole records. A torn final record is cut and counted in
// cutBytes. Anything else is damage, cut and recorded with its offset.
func TestLogCutClassified(t *testing.T) {
	cases := []struct {
		name string
		tail func(record []byte) []byte // bytes after the last whole record, given a whole one
		torn bool
	}{
		{"part of a header", func(r []byte) []byte { return r[:5] }, true},
		{"record cut short", func(r []byte) []byte { return r[:len(r)-3] }, true},
		{"record cut short before reserved zeros", func(r []byte) []byte {
			return append(bytes.Clone(r[:len(r)-3]), make([]byte, 4096)...)
		}, true},
		{"whole record with a wrong checksum", func(r []byte) []byte {
			// The record's last byte, the length of an empty request id,
			// is zero, and zeros past the log's end are reserved space.
			bad := bytes.Clone(r)
			bad[len(bad)-1] = 0x7f
			return bad
		}, false},
		{"bad record before whole ones", func(r []byte) []byte {
			bad := bytes.Clone(r)
			bad[walHeaderBytes+1] ^= 0xff
			return append(append(bad, r...), r...)
		}, false},
		{"header of zero length before a record", func(r []byte) []byte {
			return append(make([]byte, walHeaderBytes+1), r...)
		}, false},
		{"long run of garbage", func(r []byte) []byte {
			return bytes.Repeat([]byte{0xee}, walTornMaxBytes+1)
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			w, _ := logThreeOps(t, dir, false)
			end := w.end
			if err := w.close(); err != nil {
				t.Fatal(err)
			}
			seg := w.segPath(end.seg)
			data := mustRead(t, seg)
			offsets := recordOffsets(t, seg)
			record := data[offsets[len(offsets)-1]:]
			tail := c.tail(record)
			if err := os.WriteFile(seg, append(bytes.Clone(data), tail...), 0o600); err != nil {
				t.Fatal(err)
			}
			cut := int64(len(bytes.TrimRight(tail, "\x00")))

			w, err := openWAL(dir, false)
			if err != nil {
				t.Fatal(err)
			}
			defer w.close()
			if w.end != end {
				t.Errorf("log opened at %+v, want after the last whole record %+v", w.end, end)
			}
			if c.torn {
				if w.cutBytes != cut || len(w.damage) != 0 {
					t.Errorf("cut %d bytes as torn and damage %+v, want %d torn and no damage", w.cutBytes, w.damage, cut)
				}
				return
			}
			if w.cutBytes != 0 {
				t.Errorf("damage counted as a torn record of %d bytes", w.cutBytes)
			}
			if len(w.damage) != 1 || w.damage[0].Offset != end.off || w.damage[0].Bytes != cut {
				t.Errorf("damage %+v, want %d bytes at offset %d", w.damage, cut, end.off)
			}
		})
	}
}
