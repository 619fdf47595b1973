package store

import (
	"bytes"
	"cmp"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func compareOps(a, b Op) int {
	return cmp.Or(cmp.Compare(a.Clock, b.Clock), cmp.Compare(a.Rank, b.Rank),
		cmp.Compare(a.Origin, b.Origin), cmp.Compare(a.Seq, b.Seq))
}

func TestOrderKeySortsInTotalOrder(t *testing.T) {
	ops := []Op{
		{Clock: 0, Rank: math.MinInt64, Origin: "a", Seq: 1},
		{Clock: 1, Rank: -1, Origin: "a", Seq: 1},
		{Clock: 1, Rank: 0, Origin: "a", Seq: 1},
		{Clock: 1, Rank: 1, Origin: "a", Seq: 1},
		{Clock: 1, Rank: 1, Origin: "a", Seq: 2},
		{Clock: 1, Rank: 1, Origin: "ab", Seq: 1},
		{Clock: 1, Rank: 1, Origin: "b", Seq: 0},
		{Clock: 1, Rank: math.MaxInt64, Origin: "a", Seq: 1},
		{Clock: 256, Rank: 1, Origin: "a", Seq: 1},
		{Clock: math.MaxUint64, Rank: 1, Origin: "a", Seq: math.MaxUint64},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		ops = append(ops, Op{
			Clock:  rng.Uint64N(4),
			Rank:   rng.Int64N(5) - 2,
			Origin: []string{"s", "s1", "s10", "s2", "t"}[rng.IntN(5)],
			Seq:    rng.Uint64N(300),
		})
	}
	for i, a := range ops {
		for _, b := range ops[i:] {
			want := compareOps(a, b)
			if got := bytes.Compare(OrderKey(a), OrderKey(b)); got != want {
				t.Fatalf("compare keys of %+v and %+v = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestOrderKeyRoundTrip(t *testing.T) {
	op := Op{Clock: 77, Rank: -3, Origin: "servidor-á", Seq: 1 << 40}
	pos, err := parseOrderKey(OrderKey(op))
	if err != nil {
		t.Fatal(err)
	}
	if pos != (orderPosition{Clock: 77, Rank: -3, Origin: "servidor-á", Seq: 1 << 40}) {
		t.Errorf("parsed %+v", pos)
	}
	key, err := parseCursor(Cursor(op))
	if err != nil || !bytes.Equal(key, OrderKey(op)) {
		t.Errorf("cursor round trip: %x, %v", key, err)
	}
	for _, bad := range []string{"", "!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := parseCursor(bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("parseCursor(%q) = %v, want ErrBadCursor", bad, err)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	ops := []Op{
		{Origin: "s1", Seq: 1, Rank: 3, Clock: 9, Time: 1_800_000_000_123_000_000, Kind: KindPost, User: "ana", Channel: "geral", Text: "oi\n", RID: "r"},
		{Origin: "s1", Seq: 2, Rank: -1, Clock: math.MaxUint64, Time: -5, Kind: KindDirect, User: "ana", Peer: "bia", Text: "x"},
		{Origin: "s1", Seq: 3, Kind: KindLogin, User: "ana"},
		{Origin: "s1", Seq: 4, Kind: KindChannel, Channel: "geral"},
		{Origin: "s1", Seq: 5, Kind: "future-kind", User: "ana", Text: string(make([]byte, 9000))},
		{Origin: "s1", Seq: 6},
	}
	for _, op := range ops {
		got, err := decodeRecord(op.Origin, op.Seq, encodeRecord(op))
		if err != nil {
			t.Fatalf("decode %+v: %v", op, err)
		}
		if got != op {
			t.Errorf("round trip of %+v gave %+v", op, got)
		}
	}
}

func TestRecordTruncated(t *testing.T) {
	rec := encodeRecord(Op{Kind: KindPost, User: "ana", Channel: "geral", Text: "oi", RID: "r"})
	for n := range len(rec) {
		if _, err := decodeRecord("s1", 1, rec[:n]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("record cut to %d of %d bytes: %v, want ErrCorrupt", n, len(rec), err)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(Op{Kind: KindPost, User: "ana", Channel: "geral", Text: "oi", RID: "r"}))
	f.Add(encodeRecord(Op{Kind: "other", Clock: 1 << 60, Rank: -7}))
	f.Add([]byte{recordFormat, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		op, err := decodeRecord("s1", 1, data)
		if err != nil {
			return
		}
		// A record that decodes must encode back to an equal op.
		again, err := decodeRecord("s1", 1, encodeRecord(op))
		if err != nil || again != op {
			t.Fatalf("re-encoding %+v gave %+v, %v", op, again, err)
		}
	})
}

func FuzzApply(f *testing.F) {
	f.Add("s1", uint64(1), KindPost, "ana", "geral", "", "oi", "r1")
	f.Add("s1", uint64(1), "weird", "", "", "", "", "")
	f.Add("s\x00", uint64(1), KindLogin, "ana", "", "", "", "")
	f.Add("s1", uint64(1), KindDirect, "ana", "", "a\x00b", "x", "")
	s := openTest(f)
	f.Fuzz(func(t *testing.T, origin string, seq uint64, kind, user, channel, peer, text, rid string) {
		have := s.VersionVector()[origin]
		op := Op{Origin: origin, Seq: seq, Kind: kind, User: user, Channel: channel, Peer: peer, Text: text, RID: rid}
		res, err := s.Apply([]Op{op})
		if err != nil {
			t.Fatalf("Apply(%+v): %v", op, err)
		}
		if res.Ops[0].Status == StatusApplied || res.Ops[0].Status == StatusLogged {
			if seq != have+1 {
				t.Fatalf("applied seq %d after %d", seq, have)
			}
			got, err := s.OpsAfter(origin, seq-1, 1, 0)
			if err != nil || len(got) != 1 || got[0] != op {
				t.Fatalf("OpsAfter gave %+v, %v, want %+v", got, err, op)
			}
		}
		if err := s.Dump(&bytes.Buffer{}); err != nil {
			t.Fatalf("Dump after %+v: %v", op, err)
		}
	})
}

func TestStatusString(t *testing.T) {
	names := []string{}
	for _, s := range []Status{StatusApplied, StatusDuplicate, StatusGap, StatusLogged, StatusInvalid, 0, 99} {
		names = append(names, s.String())
	}
	if want := []string{"applied", "duplicate", "gap", "logged", "invalid", "unknown", "unknown"}; !slices.Equal(names, want) {
		t.Errorf("names = %v", names)
	}
}
