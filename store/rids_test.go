package store

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// retryScenario makes posts of three origins whose request ids repeat
// across origins and slices, as retries that reach other servers do, with
// each origin's times rising with its seqs.
func retryScenario(rng *rand.Rand) (setup []Op, origins [][]Op) {
	setup = []Op{
		{Origin: "setup", Seq: 1, Rank: 0, Clock: 1, Time: baseTime.UnixNano(), Kind: KindLogin, User: "ana"},
		{Origin: "setup", Seq: 2, Rank: 0, Clock: 2, Time: baseTime.UnixNano(), Kind: KindChannel, Channel: "geral"},
	}
	for o := range 3 {
		origin := fmt.Sprintf("server-%d@x", o+1)
		at := baseTime.UnixNano()
		var ops []Op
		for seq := uint64(1); seq <= 60; seq++ {
			at += rng.Int64N(4 * ridSlice / 10)
			ops = append(ops, Op{
				Origin: origin, Seq: seq, Rank: int64(o + 1), Clock: 10 + rng.Uint64N(200), Time: at,
				Kind: KindPost, User: "ana", Channel: "geral",
				Text: fmt.Sprintf("%s/%d", origin, seq),
				RID:  fmt.Sprintf("publish:%d", rng.IntN(25)),
			})
		}
		origins = append(origins, ops)
	}
	return setup, origins
}

// expectedPosts applies the rule of indexRID to the whole set at once.
func expectedPosts(origins [][]Op) []string {
	all := slices.Concat(origins...)
	var visible []Op
	for _, op := range all {
		same := slices.DeleteFunc(slices.Clone(all), func(o Op) bool { return o.RID != op.RID })
		if repeats(op, same) == nil {
			visible = append(visible, op)
		}
	}
	slices.SortFunc(visible, compareOps)
	var texts []string
	for _, op := range visible {
		texts = append(texts, op.Text)
	}
	return texts
}

// TestRetryRuleIndependentOfArrival applies the same ops in many orders
// and batchings and expects the same store each time. The request id index
// is in memory, in the file, moving between them, or pushed to the file
// early by its memory bound, and some runs reopen the store midway.
func TestRetryRuleIndependentOfArrival(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	setup, origins := retryScenario(rng)
	want := expectedPosts(origins)
	t.Logf("%d of %d posts shown", len(want), 3*60)
	if len(want) == 60*3 || len(want) < 25 {
		t.Fatalf("scenario shows %d of %d posts; it should hide some retries", len(want), 60*3)
	}

	clocks := map[string]func(step int) time.Time{
		"memory":  func(int) time.Time { return baseTime },
		"file":    func(int) time.Time { return baseTime.Add(time.Hour) },
		"sliding": func(step int) time.Time { return baseTime.Add(time.Duration(step) * 2 * time.Second) },
		"bounded": func(int) time.Time { return baseTime },
	}
	var first string
	for run := range 16 {
		name := []string{"memory", "file", "sliding", "bounded"}[run%4]
		path := filepath.Join(t.TempDir(), "store.db")
		s, err := Open(path, Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		step := 0
		s.now = func() time.Time { return clocks[name](step) }
		bound := func() {
			if name == "bounded" {
				s.rids.memoryMax = 20 // slices go to the file early
			}
		}
		bound()
		mustApply(t, s, setup...)

		next := make([]int, len(origins))
		for remaining := 3 * 60; remaining > 0; step++ {
			o := rng.IntN(len(origins))
			n := min(1+rng.IntN(8), len(origins[o])-next[o])
			if n == 0 {
				continue
			}
			mustApply(t, s, origins[o][next[o]:next[o]+n]...)
			next[o] += n
			remaining -= n
			if step == 20 && run%2 == 1 {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				if s, err = Open(path, Options{NoSync: true}); err != nil {
					t.Fatal(err)
				}
				s.now = func() time.Time { return clocks[name](step) }
				bound()
			}
		}

		messages, _, err := s.History("geral", "", MaxLimit)
		if err != nil {
			t.Fatal(err)
		}
		if got := texts(messages); !slices.Equal(got, want) {
			t.Fatalf("run %d (%s): history has %d posts, want %d:\n got %v\nwant %v", run, name, len(got), len(want), got, want)
		}
		if got := s.Counts().Posts; got != len(want) {
			t.Errorf("run %d (%s): %d posts counted, want %d", run, name, got, len(want))
		}
		dump := dumpString(t, s)
		if first == "" {
			first = dump
		} else if dump != first {
			t.Errorf("run %d (%s): dump differs from run 0", run, name)
		}
		_ = s.Close()
	}
}

// TestRIDsMoveToFile checks that old request ids leave memory in bounded
// chunks, stay found in the file, survive a reopen, and still match a
// late retry.
func TestRIDsMoveToFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	now := baseTime
	s.now = func() time.Time { return now }

	o := newOrigin("s1", 1)
	mustApply(t, s, o.login("ana"), o.channel("geral"))
	const n = 3*ridFlushChunk + 100
	var batch []Op
	for i := range n {
		batch = append(batch, o.next(Op{Kind: KindPost, User: "ana", Channel: "geral", Text: "oi", RID: fmt.Sprintf("publish:%d", i)}))
		if len(batch) == 1000 || i == n-1 {
			mustApply(t, s, batch...)
			batch = batch[:0]
		}
	}
	if got := s.rids.refs; got != n {
		t.Fatalf("%d request ids in memory, want all %d while they are recent", got, n)
	}

	now = baseTime.Add(10 * time.Minute)
	applies := 0
	for s.rids.refs > 0 {
		if applies++; applies > 10 {
			t.Fatalf("%d request ids still in memory after %d applies", s.rids.refs, applies)
		}
		mustApply(t, s, o.post("ana", "geral", "tick"))
	}
	if applies < n/ridFlushChunk {
		t.Errorf("memory emptied in %d applies; each should write at most %d ids", applies, ridFlushChunk)
	}

	at := func(op Op) time.Time { return time.Unix(0, op.Time) }
	oldest := Op{}
	if err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		oldest, err = readLog(tx.Bucket(bucketLog), "s1", 3)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.LookupRID(oldest.RID, at(oldest)); err != nil || !ok || got != oldest {
		t.Fatalf("LookupRID of a written id = %+v, %v, %v", got, ok, err)
	}
	if _, ok, _ := s.LookupRID(oldest.RID, now); ok {
		t.Errorf("LookupRID found %q ten minutes after it; retries only match nearby ops", oldest.RID)
	}

	// A late retry of that post, from another origin, lower in the order.
	late := Op{Origin: "s0", Seq: 1, Rank: 0, Clock: 1, Time: oldest.Time + int64(time.Second),
		Kind: KindPost, User: "ana", Channel: "geral", Text: "oi", RID: oldest.RID}
	res := mustApply(t, s, late)
	if res.Ops[0].Status != StatusApplied {
		t.Fatalf("late lower retry: %v %v, want applied", res.Ops[0].Status, res.Ops[0].Reason)
	}
	recent := o.next(Op{Kind: KindPost, User: "ana", Channel: "geral", Text: "new", RID: "publish:new"})
	recent.Time = now.UnixNano()
	mustApply(t, s, recent)
	posts := s.Counts().Posts

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path, Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return now }
	if got := s.rids.refs; got != 1 {
		t.Errorf("%d request ids in memory after reopen, want the 1 recent one", got)
	}
	if got, ok, _ := s.LookupRID(oldest.RID, at(oldest)); !ok || got != late {
		t.Errorf("after reopen LookupRID = %+v, %v, want the lower late retry", got, ok)
	}
	if got, ok, _ := s.LookupRID("publish:new", now); !ok || got != recent {
		t.Errorf("after reopen LookupRID of the recent id = %+v, %v", got, ok)
	}
	if got := s.Counts().Posts; got != posts {
		t.Errorf("posts = %d after reopen, want %d", got, posts)
	}
}

// TestRIDMemoryBound fills the index faster than slices age: past the bound
// the oldest slices go to the file early, and retries still match.
func TestRIDMemoryBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	s.now = func() time.Time { return baseTime }
	s.rids.memoryMax = 500

	o := newOrigin("s1", 1)
	mustApply(t, s, o.login("ana"), o.channel("geral"))
	var first Op
	for b := range 40 {
		var batch []Op
		for i := range 100 {
			op := o.next(Op{Kind: KindPost, User: "ana", Channel: "geral", Text: "oi", RID: fmt.Sprintf("publish:%d.%d", b, i)})
			op.Time = baseTime.Add(time.Duration(b) * time.Second).UnixNano()
			batch = append(batch, op)
		}
		if b == 0 {
			first = batch[0]
		}
		mustApply(t, s, batch...)
	}
	if s.rids.refs > 500+ridFlushChunk {
		t.Errorf("%d request ids in memory, want about 500 at most", s.rids.refs)
	}

	retry := Op{Origin: "s2", Seq: 1, Rank: 2, Clock: first.Clock + 1000, Time: first.Time + int64(time.Second),
		Kind: KindPost, User: "ana", Channel: "geral", Text: "oi", RID: first.RID}
	if res := mustApply(t, s, retry); res.Ops[0].Status != StatusLogged {
		t.Errorf("retry of a request written early to the file: %v, want logged", res.Ops[0].Status)
	}
	want := dumpString(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path, Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	if got := dumpString(t, s); got != want {
		t.Error("dump changed across a reopen")
	}
	if got, ok, _ := s.LookupRID(first.RID, time.Unix(0, first.Time)); !ok || got != first {
		t.Errorf("after reopen LookupRID = %+v, %v, want the first attempt", got, ok)
	}
}
