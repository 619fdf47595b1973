package dump

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"msgsys/lang"
	"msgsys/store"
)

// segmentedStore creates dir/server.db whose write-ahead log spans at
// least five segments of 4 KiB, and returns the store's own dump.
func segmentedStore(t *testing.T, dir string) string {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, storeFile), store.Options{NoSync: true, SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	at := time.Date(2026, 12, 4, 19, 33, 44, 0, time.UTC).UnixNano()
	ops := []store.Op{{Kind: store.KindLogin, User: "ana"}, {Kind: store.KindChannel, Channel: "geral"}}
	for i := range 100 {
		text := fmt.Sprintf("post %d %s", i, strings.Repeat("x", 200))
		ops = append(ops, store.Op{Kind: store.KindPost, User: "ana", Channel: "geral", Text: text})
	}
	for i := range ops {
		ops[i].Origin, ops[i].Seq, ops[i].Rank = "server-1@test", uint64(i+1), 1
		ops[i].Clock, ops[i].Time = uint64(i+1), at+int64(i)*int64(time.Millisecond)
		if _, err := st.Apply(ops[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}

	var want bytes.Buffer
	if err := st.Dump(&want); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, segmentName(5))); err != nil {
		t.Fatalf("the log has fewer than 5 segments: %v", err)
	}
	return want.String()
}

// damageStoreFile overwrites the first 8 KiB of dir/server.db, its meta
// pages, so that bbolt cannot open it.
func damageStoreFile(t *testing.T, dir string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, storeFile), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xa5}, 8192), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// snapshotDir returns the contents of every file under dir by its path
// relative to dir, with directories as empty entries.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := make(map[string]string)
	err := filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if entry.IsDir() {
			files[rel+"/"] = ""
			return nil
		}
		data, err := os.ReadFile(path)
		files[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// assertUnchanged fails when the files under a data directory differ from
// an earlier snapshot.
func assertUnchanged(t *testing.T, before, after map[string]string) {
	t.Helper()
	if names := slices.Sorted(maps.Keys(after)); !slices.Equal(names, slices.Sorted(maps.Keys(before))) {
		t.Errorf("the dump changed the data directory's entries: before %v, after %v", slices.Sorted(maps.Keys(before)), names)
		return
	}
	for name, data := range before {
		if after[name] != data {
			t.Errorf("the dump changed %s", name)
		}
	}
}

// runDumpLogged dumps dir with errors in language l, with TMPDIR set to a
// directory of the test, and returns the JSON and the log.
func runDumpLogged(t *testing.T, dir, l string) (string, string, error) {
	t.Helper()
	var out bytes.Buffer
	logs := &logBuffer{}
	cfg := DefaultConfig()
	cfg.Data = dir
	cfg.Out = &out
	cfg.Lang = l
	cfg.Log = slog.New(slog.NewTextHandler(logs, nil))
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = d.Run(context.Background())
	return out.String(), logs.String(), err
}

// TestDumpDamagedStoreRebuilt dumps a data directory whose bbolt file is
// damaged and whose log is complete. The dump must equal the store's own
// dump from before the damage, say on stderr that it was rebuilt, leave the
// data directory as it was and remove its temporary copy.
func TestDumpDamagedStoreRebuilt(t *testing.T) {
	dir := t.TempDir()
	want := segmentedStore(t, dir)
	damageStoreFile(t, dir)
	before := snapshotDir(t, dir)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	got, logs, err := runDumpLogged(t, dir, lang.EN)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got != want {
		t.Errorf("dump differs from the store's own before the damage:\ngot:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "rebuilt from the write-ahead log") {
		t.Errorf("log does not warn that the dump was rebuilt from the log:\n%s", logs)
	}
	assertUnchanged(t, before, snapshotDir(t, dir))
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the dump left %d entries in TMPDIR, want its copy removed", len(left))
	}
}

// TestDumpDamagedStoreLogIncomplete dumps a data directory whose bbolt
// file is damaged and whose log lacks segments. Run must fail with
// ErrDamaged and a text in the dump's language that names the missing
// segments, print nothing and change nothing.
func TestDumpDamagedStoreLogIncomplete(t *testing.T) {
	cases := []struct {
		name   string
		remove []string // files or directories to remove, relative to the data directory
		lang   string
		want   string
	}{
		{"no log", []string{"server.db.wal"}, lang.EN, "cannot rebuild it: no segment files found. A server started on that directory"},
		{"no log", []string{"server.db.wal"}, lang.PT, "não pode reconstruí-lo: não há arquivos de segmento. Um servidor iniciado nesse diretório"},
		{"one segment", []string{segmentName(2)}, lang.EN, "cannot rebuild it: segment 2 is missing."},
		{"one segment", []string{segmentName(2)}, lang.PT, "não pode reconstruí-lo: falta o segmento 2."},
		{"segments", []string{segmentName(1), segmentName(2), segmentName(4)}, lang.EN, "cannot rebuild it: segments 1-2, 4 are missing."},
		{"segments", []string{segmentName(1), segmentName(2), segmentName(4)}, lang.PT, "não pode reconstruí-lo: faltam os segmentos 1-2, 4."},
	}
	for _, c := range cases {
		t.Run(c.name+"/"+c.lang, func(t *testing.T) {
			dir := t.TempDir()
			segmentedStore(t, dir)
			damageStoreFile(t, dir)
			for _, name := range c.remove {
				if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshotDir(t, dir)

			out, _, err := runDumpLogged(t, dir, c.lang)
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("Run error = %v, want ErrDamaged", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %q, want it to contain %q", err, c.want)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, storeFile)) {
				t.Errorf("error = %q does not name the damaged file", err)
			}
			if out != "" {
				t.Errorf("printed %q", out)
			}
			assertUnchanged(t, before, snapshotDir(t, dir))
		})
	}
}

// segmentName returns the path of log segment seg relative to the data
// directory.
func segmentName(seg int) string {
	return filepath.Join(storeFile+".wal", fmt.Sprintf("%016d.seg", seg))
}
