package store

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestHistoryPaging(t *testing.T) {
	s := openTest(t)
	a, b := newOrigin("s1", 1), newOrigin("s2", 2)
	mustApply(t, s, a.login("ana"), a.channel("geral"), a.channel("dev"))
	b.clock = a.clock

	// Two origins post at the same clocks, so rank decides their order.
	var want []string
	var batch []Op
	for i := range 23 {
		batch = append(batch, a.post("ana", "geral", fmt.Sprintf("a%02d", i)), b.post("bia", "geral", fmt.Sprintf("b%02d", i)))
		want = append(want, fmt.Sprintf("a%02d", i), fmt.Sprintf("b%02d", i))
		batch = append(batch, a.post("ana", "dev", "other channel"))
		b.clock = a.clock
	}
	mustApply(t, s, batch...)

	var got []string
	before := ""
	pages := 0
	for {
		page, next, err := s.History("GERAL", before, 10)
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		pages++
		if len(page) == 0 || len(page) > 10 {
			t.Fatalf("page %d has %d messages", pages, len(page))
		}
		got = append(texts(page), got...)
		if next == "" {
			break
		}
		if next != page[0].Cursor() {
			t.Errorf("next cursor is not the oldest message's cursor")
		}
		before = next
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages joined = %v\nwant %v", got, want)
	}
	if pages != 5 {
		t.Errorf("read %d pages of 46 posts, want 5", pages)
	}
}

func TestHistoryNewestPage(t *testing.T) {
	s := openTest(t)
	o := newOrigin("s1", 1)
	mustApply(t, s, o.channel("geral"), o.post("ana", "geral", "1"), o.post("ana", "geral", "2"), o.post("ana", "geral", "3"))

	page, next, err := s.History("geral", "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(texts(page), []string{"2", "3"}) || next == "" {
		t.Fatalf("newest page = %v, next %q", texts(page), next)
	}
	m := page[1]
	if m.Kind != KindPost || m.Channel != "geral" || m.User != "ana" || m.Origin != "s1" || m.Seq != 4 || m.Rank != 1 || m.Clock != 4 {
		t.Errorf("message = %+v", m)
	}
	if want := baseTime.Add(4 * time.Millisecond); !m.Time.Equal(want) || m.Time.Location() != time.UTC {
		t.Errorf("time = %v, want %v in UTC", m.Time, want)
	}

	page, next, err = s.History("geral", next, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(texts(page), []string{"1"}) || next != "" {
		t.Errorf("last page = %v, next %q, want [1] and no cursor", texts(page), next)
	}

	// A cursor past every message returns the newest page again.
	future := Cursor(Op{Clock: 1 << 40, Origin: "s9", Seq: 1})
	if page, _, _ := s.History("geral", future, 1); !slices.Equal(texts(page), []string{"3"}) {
		t.Errorf("page before a future cursor = %v", texts(page))
	}
}

func TestHistoryEdgeCases(t *testing.T) {
	s := openTest(t)
	o := newOrigin("s1", 1)
	mustApply(t, s, o.channel("geral"), o.post("ana", "geral", "1"))

	if page, next, err := s.History("nowhere", "", 10); err != nil || len(page) != 0 || next != "" {
		t.Errorf("unknown channel: %v, %q, %v", page, next, err)
	}
	if page, _, err := s.History("", "", 10); err != nil || len(page) != 0 {
		t.Errorf("empty name: %v, %v", page, err)
	}
	if _, _, err := s.History("geral", "not a cursor!", 10); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: %v, want ErrBadCursor", err)
	}
	if _, _, err := s.History("geral", "AAAA", 10); !errors.Is(err, ErrBadCursor) {
		t.Errorf("short cursor: %v, want ErrBadCursor", err)
	}
	if page, _, err := s.History("geral", "", 0); err != nil || len(page) != 1 {
		t.Errorf("limit 0 (default): %v, %v", page, err)
	}
}

func TestHistoryLimitCapped(t *testing.T) {
	s := openTest(t)
	o := newOrigin("s1", 1)
	ops := []Op{o.channel("geral")}
	for i := range MaxLimit + 5 {
		ops = append(ops, o.post("ana", "geral", fmt.Sprint(i)))
	}
	mustApply(t, s, ops...)
	page, next, err := s.History("geral", "", MaxLimit*2)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != MaxLimit || next == "" {
		t.Errorf("page of %d messages, next %q; want %d and a cursor", len(page), next, MaxLimit)
	}
	page, _, _ = s.History("geral", "", -1)
	if len(page) != DefaultLimit {
		t.Errorf("negative limit gave %d messages, want %d", len(page), DefaultLimit)
	}
}

func TestConversationSymmetric(t *testing.T) {
	s := openTest(t)
	o := newOrigin("s1", 1)
	mustApply(t, s,
		o.login("Ana"), o.login("Bia"), o.login("Caio"),
		o.direct("Ana", "Bia", "oi Bia"),
		o.direct("Bia", "ana", "oi Ana"),
		o.direct("Ana", "Caio", "oi Caio"),
		o.direct("BIA", "ANA", "tchau"),
	)
	want := []string{"oi Bia", "oi Ana", "tchau"}
	for _, pair := range [][2]string{{"ana", "bia"}, {"BIA", "Ana"}, {"bIA", "aNA"}} {
		page, next, err := s.Conversation(pair[0], pair[1], "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(texts(page), want) || next != "" {
			t.Errorf("Conversation(%s, %s) = %v, next %q, want %v", pair[0], pair[1], texts(page), next, want)
		}
	}
	page, _, _ := s.Conversation("caio", "ana", "", 10)
	if !slices.Equal(texts(page), []string{"oi Caio"}) {
		t.Errorf("Conversation(caio, ana) = %v", texts(page))
	}
	if page[0].Kind != KindDirect || page[0].User != "Ana" || page[0].Peer != "Caio" {
		t.Errorf("message = %+v", page[0])
	}

	// Paging a conversation from the other side continues where it stopped.
	first, next, _ := s.Conversation("ana", "bia", "", 2)
	rest, _, _ := s.Conversation("bia", "ana", next, 2)
	if got := append(texts(rest), texts(first)...); !slices.Equal(got, want) {
		t.Errorf("pages from both sides = %v, want %v", got, want)
	}
}

func TestNamesCaseInsensitive(t *testing.T) {
	s := openTest(t)
	o := newOrigin("s1", 1)
	mustApply(t, s, o.login("João"), o.login("zé"), o.login("Ärger"), o.channel("Geral"), o.channel("café"), o.post("JOÃO", "GERAL", "oi"))

	for _, name := range []string{"joão", "JOÃO", "João"} {
		if got, ok := s.UserName(name); !ok || got != "João" {
			t.Errorf("UserName(%q) = %q, %v", name, got, ok)
		}
	}
	if !s.HasUser("ZÉ") || s.HasUser("ze") || s.HasUser("") {
		t.Errorf("HasUser: ZÉ %v, ze %v, empty %v", s.HasUser("ZÉ"), s.HasUser("ze"), s.HasUser(""))
	}
	if !s.HasChannel("CAFÉ") || !s.HasChannel("geral") || s.HasChannel("outro") {
		t.Error("HasChannel does not fold names")
	}
	// Decomposed e plus combining acute accent is the same name after NFC.
	if got, ok := s.ChannelName("cafe\u0301"); !ok || got != "café" {
		t.Errorf("ChannelName of decomposed name = %q, %v", got, ok)
	}
	if got := s.Users(); !slices.Equal(got, []string{"João", "zé", "Ärger"}) {
		t.Errorf("Users = %v, want sorted bytewise by folded name", got)
	}
	if got := s.Channels(); !slices.Equal(got, []string{"café", "Geral"}) {
		t.Errorf("Channels = %v, want sorted by folded name", got)
	}
	// History shows the names as the users and channels show them, not as
	// the post spelled them.
	if page, _, _ := s.History("geral", "", 5); len(page) != 1 || page[0].User != "João" || page[0].Channel != "Geral" {
		t.Errorf("History(geral) = %+v, want João's post in Geral", page)
	}
}

func TestOpsAfter(t *testing.T) {
	s := openTest(t)
	o := newOrigin("s1", 1)
	var ops []Op
	for i := range 20 {
		ops = append(ops, o.post("ana", "geral", fmt.Sprintf("message %02d", i)))
	}
	mustApply(t, s, ops...)

	got, err := s.OpsAfter("s1", 5, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, ops[5:9]) {
		t.Errorf("OpsAfter(5, limit 4) = %+v", got)
	}
	got, _ = s.OpsAfter("s1", 0, 0, 0)
	if !slices.Equal(got, ops) {
		t.Errorf("OpsAfter(0, no limit) returned %d ops, want 20", len(got))
	}
	got, _ = s.OpsAfter("s1", 18, 100, 0)
	if !slices.Equal(got, ops[18:]) {
		t.Errorf("OpsAfter(18) returned %d ops, want 2", len(got))
	}
	if got, err := s.OpsAfter("s1", 20, 10, 0); err != nil || len(got) != 0 {
		t.Errorf("OpsAfter(last) = %v, %v", got, err)
	}
	if got, err := s.OpsAfter("nobody", 0, 10, 0); err != nil || len(got) != 0 {
		t.Errorf("OpsAfter(unknown origin) = %v, %v", got, err)
	}

	// Each op is opOverhead plus 24 bytes of strings.
	got, _ = s.OpsAfter("s1", 0, 0, 3*(opOverhead+24)+10)
	if len(got) != 3 {
		t.Errorf("OpsAfter with a byte bound returned %d ops, want 3", len(got))
	}
	got, _ = s.OpsAfter("s1", 0, 0, 1)
	if len(got) != 1 {
		t.Errorf("OpsAfter with a tiny byte bound returned %d ops, want at least one", len(got))
	}
}

// TestHighestClockOfEachKind gives each shown kind in turn the highest
// clock: the result must find it wherever it is indexed.
func TestHighestClockOfEachKind(t *testing.T) {
	if got, err := openTest(t).HighestClock(); err != nil || got != 0 {
		t.Errorf("empty store: HighestClock() = %d, %v, want 0", got, err)
	}

	for _, kind := range []string{KindLogin, KindChannel, KindPost, KindDirect} {
		t.Run(kind, func(t *testing.T) {
			s := openTest(t)
			o := newOrigin("s1", 1)
			mustApply(t, s, o.login("ana"), o.login("bia"), o.channel("geral"), o.post("ana", "geral", "oi"),
				o.direct("ana", "bia", "oi, bia"))

			// A second origin, far ahead, writes one op of the kind.
			late := newOrigin("s2", 2)
			late.clock = 1_000_000
			var op Op
			switch kind {
			case KindLogin:
				op = late.login("caio")
			case KindChannel:
				op = late.channel("dev")
			case KindPost:
				op = late.post("bia", "geral", "tarde")
			case KindDirect:
				op = late.direct("bia", "ana", "tarde")
			}
			mustApply(t, s, op)

			got, err := s.HighestClock()
			if err != nil {
				t.Fatal(err)
			}
			if got != op.Clock {
				t.Errorf("HighestClock() = %d, want %d, the clock of the %s", got, op.Clock, kind)
			}
		})
	}
}
