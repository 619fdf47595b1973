package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// baseTime is the physical time of the first op tests make.
var baseTime = time.Date(2026, 12, 4, 19, 33, 44, 738_000_000, time.UTC)

// openTest opens a new store in the test's temporary directory and closes
// it when the test ends.
func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store.db"), Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// testOrigin makes ops as one server would: consecutive seqs, and a Lamport
// clock that the test can move forward to model concurrency.
type testOrigin struct {
	name  string
	rank  int64
	seq   uint64
	clock uint64
}

func newOrigin(name string, rank int64) *testOrigin {
	return &testOrigin{name: name, rank: rank}
}

func (o *testOrigin) next(op Op) Op {
	o.seq++
	o.clock++
	op.Origin = o.name
	op.Seq = o.seq
	op.Rank = o.rank
	op.Clock = o.clock
	op.Time = baseTime.Add(time.Duration(o.clock) * time.Millisecond).UnixNano()
	return op
}

func (o *testOrigin) login(user string) Op {
	return o.next(Op{Kind: KindLogin, User: user})
}

func (o *testOrigin) channel(name string) Op {
	return o.next(Op{Kind: KindChannel, Channel: name})
}

func (o *testOrigin) post(user, channel, text string) Op {
	return o.next(Op{Kind: KindPost, User: user, Channel: channel, Text: text})
}

func (o *testOrigin) direct(src, dst, text string) Op {
	return o.next(Op{Kind: KindDirect, User: src, Peer: dst, Text: text})
}

func mustApply(t testing.TB, s *Store, ops ...Op) ApplyResult {
	t.Helper()
	res, err := s.Apply(ops)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

func dumpString(t testing.TB, s *Store) string {
	t.Helper()
	var buf bytes.Buffer
	if err := s.Dump(&buf); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	return buf.String()
}

func texts(messages []Message) []string {
	out := make([]string, len(messages))
	for i, m := range messages {
		out[i] = m.Text
	}
	return out
}

// mustOpen opens the store at path without syncs.
func mustOpen(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustClose closes s.
func mustClose(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// reopen closes s and opens the store at path again.
func reopen(t testing.TB, s *Store, path string) *Store {
	t.Helper()
	mustClose(t, s)
	return mustOpen(t, path)
}

// markOtherBoot makes the closed store at path look as a machine crash
// leaves it, open in a process of another boot, so that the next Open
// rebuilds the file from the log.
func markOtherBoot(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(path+".wal", walOpenMarker), []byte("another-boot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}
