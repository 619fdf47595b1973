package store

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestApplyAsyncLeavesOpsPending checks that ApplyAsync leaves a batch
// uncommitted yet visible to reads, and keeps its own copy of the batch.
func TestApplyAsyncLeavesOpsPending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s.settleAfter = time.Hour // only the test's reads commit
	o := newOrigin("s1", 1)
	mustApply(t, s, o.login("ana"), o.channel("geral"))

	batch := []Op{o.post("ana", "geral", "um"), o.post("ana", "geral", "dois")}
	res, durable, err := s.ApplyAsync(batch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 2 || res.Ops[0].Status != StatusApplied || res.Ops[1].Status != StatusApplied {
		t.Fatalf("ApplyAsync of two posts = %+v, want both applied", res)
	}
	if committed, logged := s.committedOps.Load(), s.loggedOps.Load(); committed != 2 || logged != 4 {
		t.Errorf("after ApplyAsync of posts: %d of %d ops committed, want 2 of 4", committed, logged)
	}
	if err := durable.Wait(); err != nil {
		t.Fatal(err)
	}

	// The caller may reuse its slice once ApplyAsync returns.
	batch[0].Text, batch[1].Text = "reused", "reused"
	messages, _, err := s.History("geral", "", 10)
	if err != nil || !slices.Equal(texts(messages), []string{"um", "dois"}) {
		t.Fatalf("History after ApplyAsync = %v, %v, want [um dois]", texts(messages), err)
	}

	if _, _, err := s.ApplyAsync([]Op{o.login("bia"), o.channel("avisos")}); err != nil {
		t.Fatal(err)
	}
	if !s.HasUser("bia") {
		t.Error("user of a pending login not found")
	}
	if !s.HasChannel("avisos") {
		t.Error("channel of a pending channel op not found")
	}

	want := dumpString(t, s)
	s = reopen(t, s, path)
	defer s.Close()
	if got := dumpString(t, s); got != want {
		t.Errorf("reopened store differs:\n%.1000s\nwant:\n%.1000s", got, want)
	}
}

// TestApplyAsyncRetryHiddenOnCommit checks the provisional outcome of a
// post that repeats a request the store has only pending: ApplyAsync
// reports it applied, and the commit still shows the request once.
func TestApplyAsyncRetryHiddenOnCommit(t *testing.T) {
	s := openTest(t)
	s1, s2 := newOrigin("s1", 1), newOrigin("s2", 2)
	mustApply(t, s, s1.login("ana"), s1.channel("geral"))

	first := s2.post("ana", "geral", "oi")
	first.RID = "publish:1"
	if _, err := s.Receive([]Op{first}); err != nil {
		t.Fatal(err)
	}
	retry := s1.post("ana", "geral", "oi")
	retry.RID = first.RID
	res, _, err := s.ApplyAsync([]Op{retry})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops[0].Status != StatusApplied {
		t.Errorf("provisional outcome of the retry: %v, want applied", res.Ops[0].Status)
	}
	messages, _, err := s.History("geral", "", 10)
	if err != nil || len(messages) != 1 {
		t.Fatalf("History = %v, %v, want the request once", texts(messages), err)
	}
}

// TestNameSeenDuringCommits checks that a name logged before a lookup is
// found while commits run alongside it, as a publish right after its login
// expects.
func TestNameSeenDuringCommits(t *testing.T) {
	s := openTest(t)
	s.settleAfter = 20 * time.Microsecond // commits land while names are read
	o := newOrigin("s1", 1)
	for i := range 3000 {
		user := fmt.Sprintf("user%d", i)
		if _, _, err := s.ApplyAsync([]Op{o.login(user)}); err != nil {
			t.Fatal(err)
		}
		if !s.HasUser(user) {
			t.Fatalf("login %d of %s logged but its user not found", i, user)
		}
	}
}

// TestCachedNameRenamed checks that a commit that renames a user or a
// channel, because an op lower in the total order names it, replaces the
// name that reads cached.
func TestCachedNameRenamed(t *testing.T) {
	s := openTest(t)
	late, early := newOrigin("s2", 2), newOrigin("s1", 1)
	late.clock, early.clock = 10, 0 // early's ops come first in the total order

	if _, err := s.Apply([]Op{late.login("Ana"), late.channel("Geral"), late.post("Ana", "Geral", "oi")}); err != nil {
		t.Fatal(err)
	}
	if shown, _ := s.UserName("ana"); shown != "Ana" {
		t.Fatalf("UserName(ana) = %q before the rename, want Ana", shown)
	}
	if shown, _ := s.ChannelName("geral"); shown != "Geral" {
		t.Fatalf("ChannelName(geral) = %q before the rename, want Geral", shown)
	}

	if _, err := s.Apply([]Op{early.login("ANA"), early.channel("GERAL")}); err != nil {
		t.Fatal(err)
	}
	if shown, _ := s.UserName("ana"); shown != "ANA" {
		t.Errorf("UserName(ana) = %q after the rename, want ANA", shown)
	}
	if shown, _ := s.ChannelName("geral"); shown != "GERAL" {
		t.Errorf("ChannelName(geral) = %q after the rename, want GERAL", shown)
	}
	// A post written before the rename shows the names as they are now.
	if page, _, _ := s.History("geral", "", 5); len(page) != 1 || page[0].User != "ANA" || page[0].Channel != "GERAL" {
		t.Errorf("History(geral) = %+v after the rename, want ANA's post in GERAL", page)
	}
}

// TestLookupRIDWhilePending looks a request id up while its op waits for
// a commit and after the commit, and checks that the count of pending
// ids, which lets lookups of fresh ids skip the pending ops, is emptied
// by the commit.
func TestLookupRIDWhilePending(t *testing.T) {
	s := openTest(t)
	s.settleAfter = time.Hour // only the test's reads commit
	o := newOrigin("s1", 1)
	mustApply(t, s, o.login("ana"), o.channel("geral"))

	post := o.post("ana", "geral", "um")
	post.RID = "r1"
	if _, _, err := s.ApplyAsync([]Op{post}); err != nil {
		t.Fatal(err)
	}
	at := time.Unix(0, post.Time)
	if op, ok, err := s.LookupRID("r1", at); err != nil || !ok || op.Seq != post.Seq {
		t.Fatalf("LookupRID of a pending op = %v, %t, %v, want seq %d", op, ok, err, post.Seq)
	}
	if _, ok, err := s.LookupRID("r2", at); err != nil || ok {
		t.Fatalf("LookupRID of an unknown id = %t, %v, want not found", ok, err)
	}

	if _, _, err := s.History("geral", "", 10); err != nil { // commits the pending op
		t.Fatal(err)
	}
	s.logMu.Lock()
	left := len(s.pendingRIDs)
	s.logMu.Unlock()
	if left != 0 {
		t.Errorf("%d request ids still counted as pending after the commit", left)
	}
	if op, ok, err := s.LookupRID("r1", at); err != nil || !ok || op.Seq != post.Seq {
		t.Errorf("LookupRID after the commit = %v, %t, %v, want seq %d", op, ok, err, post.Seq)
	}
}
