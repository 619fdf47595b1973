package store

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestApplyStatuses(t *testing.T) {
	s := openTest(t)
	o := newOrigin("s1", 1)
	op1, op2, op3, op4 := o.login("ana"), o.channel("geral"), o.post("ana", "geral", "oi"), o.post("ana", "geral", "tudo bem?")

	res := mustApply(t, s, op1, op2)
	if res.Applied != 2 || res.Ops[0].Status != StatusApplied || res.Ops[1].Status != StatusApplied {
		t.Fatalf("first batch: %+v", res)
	}
	if res.Version["s1"] != 2 {
		t.Fatalf("version after first batch = %v, want s1:2", res.Version)
	}

	res = mustApply(t, s, op2, op4)
	if got := res.Ops[0].Status; got != StatusDuplicate {
		t.Errorf("seq 2 again: status %v, want duplicate", got)
	}
	if got := res.Ops[1].Status; got != StatusGap {
		t.Errorf("seq 4 after 2: status %v, want gap", got)
	}
	if want := []Range{{Origin: "s1", From: 3, To: 3}}; !slices.Equal(res.Missing, want) {
		t.Errorf("missing = %v, want %v", res.Missing, want)
	}
	if res.Applied != 0 || res.Version["s1"] != 2 {
		t.Errorf("batch of duplicate and gap applied %d, version %v", res.Applied, res.Version)
	}

	res = mustApply(t, s, op3, op4)
	if res.Applied != 2 || len(res.Missing) != 0 {
		t.Fatalf("filling the gap: %+v", res)
	}
	if got := s.VersionVector(); !maps.Equal(got, map[string]uint64{"s1": 4}) {
		t.Errorf("version vector = %v, want s1:4", got)
	}
	if got := s.Counts(); got != (Counts{Users: 1, Channels: 1, Posts: 2, Logins: 1}) {
		t.Errorf("counts = %+v", got)
	}
}

func TestApplyOutOfOrderBatch(t *testing.T) {
	s := openTest(t)
	a, b := newOrigin("s1", 1), newOrigin("s2", 2)
	a1, a2, a3 := a.login("ana"), a.login("bia"), a.login("caio")
	b1, b2 := b.login("dani"), b.login("edu")

	// Seq 3 before 2 before 1, origins interleaved, and a duplicate of a2.
	res := mustApply(t, s, a3, b2, a2, b1, a1, a2)
	for i, want := range []Status{StatusApplied, StatusApplied, StatusApplied, StatusApplied, StatusApplied, StatusDuplicate} {
		if res.Ops[i].Status != want {
			t.Errorf("op %d: status %v, want %v", i, res.Ops[i].Status, want)
		}
	}
	if want := map[string]uint64{"s1": 3, "s2": 2}; !maps.Equal(res.Version, want) {
		t.Errorf("version = %v, want %v", res.Version, want)
	}
	if got := s.Users(); !slices.Equal(got, []string{"ana", "bia", "caio", "dani", "edu"}) {
		t.Errorf("users = %v", got)
	}
}

func TestApplyGapRangePerOrigin(t *testing.T) {
	s := openTest(t)
	a := newOrigin("s1", 1)
	ops := []Op{a.login("ana"), a.login("bia"), a.login("caio"), a.login("dani"), a.login("edu")}

	res := mustApply(t, s, ops[4], ops[0], ops[3])
	if want := []Range{{Origin: "s1", From: 2, To: 3}}; !slices.Equal(res.Missing, want) {
		t.Fatalf("missing = %v, want %v", res.Missing, want)
	}
	if res.Ops[0].Status != StatusGap || res.Ops[1].Status != StatusApplied || res.Ops[2].Status != StatusGap {
		t.Errorf("statuses = %v %v %v", res.Ops[0].Status, res.Ops[1].Status, res.Ops[2].Status)
	}
}

func TestApplyUnknownKindIsLoggedOnly(t *testing.T) {
	s := openTest(t)
	o := newOrigin("s1", 1)
	login := o.login("ana")
	poll := o.next(Op{Kind: "poll", User: "ana", Text: "lunch?", RID: "r-poll"})
	badName := o.post("ana", "no spaces allowed", "oi")
	post := o.post("ana", "geral", "oi")
	before := dumpString(t, s)
	mustApply(t, s, login)
	afterLogin := dumpString(t, s)

	res := mustApply(t, s, poll, badName, post)
	if got := res.Ops[0]; got.Status != StatusLogged || !errors.Is(got.Reason, ErrInvalidOp) {
		t.Errorf("unknown kind: %+v, want logged with ErrInvalidOp", got)
	}
	if got := res.Ops[1]; got.Status != StatusLogged || !errors.Is(got.Reason, ErrInvalidOp) {
		t.Errorf("invalid channel name: %+v, want logged with ErrInvalidOp", got)
	}
	if got := res.Ops[2].Status; got != StatusApplied {
		t.Errorf("post after the unknown op: status %v, want applied", got)
	}
	if got := s.VersionVector()["s1"]; got != 4 {
		t.Errorf("version s1 = %d, want 4", got)
	}

	ops, err := s.OpsAfter("s1", 1, 0, 0)
	if err != nil {
		t.Fatalf("OpsAfter: %v", err)
	}
	if len(ops) != 3 || ops[0] != poll || ops[1] != badName {
		t.Errorf("OpsAfter = %+v, want the logged ops unchanged", ops)
	}
	if got, ok, err := s.LookupRID("r-poll", baseTime); err != nil || !ok || got != poll {
		t.Errorf("LookupRID of the logged op = %+v, %v, %v", got, ok, err)
	}
	if got := s.Counts(); got != (Counts{Users: 1, Posts: 1, Logins: 1}) {
		t.Errorf("counts = %+v", got)
	}
	if before == afterLogin {
		t.Fatal("dump did not change after a login")
	}
	if dump := dumpString(t, s); strings.Contains(dump, "lunch?") || strings.Contains(dump, "no spaces") {
		t.Errorf("dump shows an op that was not materialised:\n%s", dump)
	}
}

func TestApplyInvalidIdentity(t *testing.T) {
	s := openTest(t)
	cases := map[string]Op{
		"empty origin":     {Seq: 1, Kind: KindLogin, User: "ana"},
		"zero byte":        {Origin: "s\x001", Seq: 1, Kind: KindLogin, User: "ana"},
		"seq zero":         {Origin: "s1", Seq: 0, Kind: KindLogin, User: "ana"},
		"long origin":      {Origin: strings.Repeat("s", MaxOriginBytes+1), Seq: 1, Kind: KindLogin, User: "ana"},
		"invalid UTF-8":    {Origin: "s\xff", Seq: 1, Kind: KindLogin, User: "ana"},
		"long origin (ok)": {Origin: strings.Repeat("s", MaxOriginBytes), Seq: 1, Kind: KindLogin, User: "bia"},
	}
	for name, op := range cases {
		res := mustApply(t, s, op)
		want := StatusInvalid
		if strings.HasSuffix(name, "(ok)") {
			want = StatusApplied
		}
		if got := res.Ops[0]; got.Status != want {
			t.Errorf("%s: status %v (%v), want %v", name, got.Status, got.Reason, want)
		}
	}
	if got := s.Users(); !slices.Equal(got, []string{"bia"}) {
		t.Errorf("users = %v, want only bia", got)
	}
	if got := len(s.VersionVector()); got != 1 {
		t.Errorf("version vector has %d origins, want 1", got)
	}
}

func TestApplyEmptyBatch(t *testing.T) {
	s := openTest(t)
	res := mustApply(t, s)
	if len(res.Ops) != 0 || res.Applied != 0 || res.Version == nil {
		t.Errorf("empty batch: %+v", res)
	}
}

func TestLoginMergesNames(t *testing.T) {
	a, b := newOrigin("s1", 1), newOrigin("s2", 2)
	// Both servers register the same name at the same clock; rank 1 is
	// lower in the total order, so its spelling wins wherever it lands.
	fromA := a.login("ANA")
	fromB := b.login("ana")

	for _, order := range [][]Op{{fromA, fromB}, {fromB, fromA}} {
		s := openTest(t)
		first := mustApply(t, s, order[0])
		second := mustApply(t, s, order[1])
		if !first.Ops[0].NewUser || second.Ops[0].NewUser {
			t.Errorf("NewUser = %v then %v, want true then false", first.Ops[0].NewUser, second.Ops[0].NewUser)
		}
		if got, ok := s.UserName("Ana"); !ok || got != "ANA" {
			t.Errorf("UserName = %q, %v, want ANA", got, ok)
		}
		if got := s.Counts(); got.Users != 1 || got.Logins != 2 {
			t.Errorf("counts = %+v, want 1 user and 2 logins", got)
		}
	}
}

func TestChannelConcurrentCreation(t *testing.T) {
	a, b, c := newOrigin("s1", 1), newOrigin("s2", 2), newOrigin("s3", 3)
	b.clock = 10
	c.clock = 10
	late := a.next(Op{Kind: KindChannel, Channel: "geral", User: "ana"}) // clock 1: lowest
	mid := b.channel("Geral")                                            // clock 11, rank 2
	high := c.channel("GERAL")                                           // clock 11, rank 3

	for _, order := range [][]Op{{mid, high, late}, {high, late, mid}, {late, mid, high}} {
		s := openTest(t)
		var outcomes []ChannelOutcome
		for _, op := range order {
			outcomes = append(outcomes, mustApply(t, s, op).Ops[0].Channel)
		}
		if !slices.Equal(outcomes, []ChannelOutcome{ChannelCreated, ChannelExisted, ChannelExisted}) {
			t.Errorf("outcomes = %v, want created then existed twice", outcomes)
		}
		if got, ok := s.ChannelName("GeRaL"); !ok || got != "geral" {
			t.Errorf("ChannelName = %q, %v, want geral from the op lowest in total order", got, ok)
		}
		if got := s.Counts().Channels; got != 1 {
			t.Errorf("channels = %d, want 1", got)
		}
	}
}

func TestLookupRID(t *testing.T) {
	s := openTest(t)
	a, b := newOrigin("s1", 1), newOrigin("s2", 2)
	withRID := a.next(Op{Kind: KindLogin, User: "ana", RID: "req-1"})
	// The same retried request accepted by a second server, later in the
	// total order, so the first op stays the request's result.
	b.clock = 5
	retry := b.next(Op{Kind: KindLogin, User: "ana", RID: "req-1"})
	// A third copy lower in the order than both takes over.
	c := newOrigin("s0", 0)
	lowest := c.next(Op{Kind: KindLogin, User: "ana", RID: "req-1"})

	mustApply(t, s, withRID)
	if got, ok, err := s.LookupRID("req-1", baseTime); err != nil || !ok || got != withRID {
		t.Fatalf("LookupRID = %+v, %v, %v", got, ok, err)
	}
	mustApply(t, s, retry)
	if got, _, _ := s.LookupRID("req-1", baseTime); got != withRID {
		t.Errorf("after a later retry LookupRID = %+v, want %+v", got, withRID)
	}
	mustApply(t, s, lowest)
	if got, _, _ := s.LookupRID("req-1", baseTime); got != lowest {
		t.Errorf("after a lower retry LookupRID = %+v, want %+v", got, lowest)
	}
	if _, ok, err := s.LookupRID("req-2", baseTime); ok || err != nil {
		t.Errorf("unknown id: %v, %v", ok, err)
	}
	if _, ok, err := s.LookupRID("", baseTime); ok || err != nil {
		t.Errorf("empty id: %v, %v", ok, err)
	}
}

func TestCounts(t *testing.T) {
	s := openTest(t)
	o := newOrigin("s1", 1)
	mustApply(t, s,
		o.login("ana"), o.login("Ana"), o.login("bia"),
		o.channel("geral"), o.channel("dev"), o.channel("GERAL"),
		o.post("ana", "geral", "1"), o.post("bia", "dev", "2"), o.post("ana", "geral", "3"),
		o.direct("ana", "bia", "oi"), o.direct("bia", "ana", "olá"),
	)
	want := Counts{Users: 2, Channels: 2, Posts: 3, Directs: 2, Logins: 3}
	if got := s.Counts(); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
}

func TestApplyReadOnly(t *testing.T) {
	s := openTest(t)
	path := s.db.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open read-only: %v", err)
	}
	defer ro.Close()
	if _, err := ro.Apply([]Op{newOrigin("s1", 1).login("ana")}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Apply on read-only store: %v, want ErrReadOnly", err)
	}
}

// postsPageUse returns the share of the posts index's leaf pages in use.
func postsPageUse(t *testing.T, s *Store) float64 {
	t.Helper()
	var stats bolt.BucketStats
	err := s.db.View(func(tx *bolt.Tx) error {
		stats = tx.Bucket(bucketPosts).Stats()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return float64(stats.LeafInuse) / float64(stats.LeafAlloc)
}

func TestIndexPagesStayDense(t *testing.T) {
	s := openTest(t)
	a, b := newOrigin("s1", 1), newOrigin("s2", 2)
	const batches, size = 400, 50
	for i := range batches {
		ops := make([]Op, 0, size)
		for j := range size {
			ops = append(ops, a.post("ana", fmt.Sprintf("ch%d", j%4), fmt.Sprint(i)))
		}
		mustApply(t, s, ops...)
	}
	if use := postsPageUse(t, s); use < 0.9 {
		t.Errorf("appended posts use %.0f%% of their pages, want at least 90%%", use*100)
	}

	// The second origin's posts have the same clocks, so each lands
	// between two committed posts, as in a catch-up.
	for i := range batches {
		ops := make([]Op, 0, size)
		for j := range size {
			ops = append(ops, b.post("bia", fmt.Sprintf("ch%d", j%4), fmt.Sprint(i)))
		}
		mustApply(t, s, ops...)
	}
	if use := postsPageUse(t, s); use < 0.5 {
		t.Errorf("posts inserted between others use %.0f%% of their pages, want at least 50%%", use*100)
	}
	if got := s.Counts().Posts; got != 2*batches*size {
		t.Errorf("posts = %d, want %d", got, 2*batches*size)
	}
}

func TestRetriedRequestMaterialisedOnce(t *testing.T) {
	first := Op{Origin: "server-1@a", Seq: 1, Rank: 1, Clock: 10, Time: 1, Kind: KindPost, User: "ana", Channel: "geral", Text: "oi", RID: "publish:abc"}
	retry := Op{Origin: "server-2@b", Seq: 1, Rank: 2, Clock: 12, Time: 2, Kind: KindPost, User: "ana", Channel: "geral", Text: "oi", RID: "publish:abc"}
	setup := []Op{
		{Origin: "server-3@c", Seq: 1, Rank: 3, Clock: 1, Time: 1, Kind: KindLogin, User: "ana"},
		{Origin: "server-3@c", Seq: 2, Rank: 3, Clock: 2, Time: 1, Kind: KindChannel, Channel: "geral"},
	}

	var dumps []string
	for _, order := range [][]Op{{first, retry}, {retry, first}} {
		s := openTest(t)
		if _, err := s.Apply(setup); err != nil {
			t.Fatal(err)
		}
		for _, op := range order {
			if _, err := s.Apply([]Op{op}); err != nil {
				t.Fatal(err)
			}
		}
		messages, _, err := s.History("geral", "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(messages) != 1 {
			t.Fatalf("order %s first: %d messages in history, want 1", order[0].Origin, len(messages))
		}
		if messages[0].Origin != first.Origin {
			t.Errorf("order %s first: history keeps %s, want the op lowest in order", order[0].Origin, messages[0].Origin)
		}
		if got := s.Counts().Posts; got != 1 {
			t.Errorf("order %s first: %d posts counted, want 1", order[0].Origin, got)
		}
		var b strings.Builder
		if err := s.Dump(&b); err != nil {
			t.Fatal(err)
		}
		dumps = append(dumps, b.String())
	}
	if dumps[0] != dumps[1] {
		t.Errorf("dumps differ by arrival order:\n%s\n%s", dumps[0], dumps[1])
	}
}
