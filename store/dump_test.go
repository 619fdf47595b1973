package store

import (
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// clusterOps makes the ops of three servers that accepted writes
// concurrently: the same user registered on two of them, the same channel
// created on two of them, posts and direct messages at equal clocks, an op
// of a kind this version does not know, and a retried request.
func clusterOps() []Op {
	a, b, c := newOrigin("s1", 1), newOrigin("s2", 2), newOrigin("s3", 3)
	var ops []Op
	add := func(op ...Op) { ops = append(ops, op...) }

	add(a.login("Ana"), b.login("ANA"), c.login("Bia"))
	add(a.channel("Geral"), b.channel("geral"), c.channel("dev"))
	add(a.login("caio"), c.login("ana"))
	for i := range 12 {
		add(a.post("Ana", "geral", fmt.Sprintf("a%d", i)))
		add(b.post("ANA", "Geral", fmt.Sprintf("b%d", i)))
		if i%3 == 0 {
			add(c.post("Bia", "dev", fmt.Sprintf("c%d <&>", i)))
			add(c.direct("Bia", "ana", fmt.Sprintf("oi %d", i)))
			add(a.direct("Ana", "bia", fmt.Sprintf("olá %d", i)))
		}
	}
	add(b.next(Op{Kind: "poll", User: "ANA", Text: "unknown kind"}))
	add(a.next(Op{Kind: KindPost, User: "caio", Channel: "dev", Text: "retry", RID: "r1"}))
	add(b.next(Op{Kind: KindPost, User: "caio", Channel: "dev", Text: "retry", RID: "r1"}))
	add(c.direct("Bia", "caio", "linha 1\nlinha 2\t\"aspas\""))
	return ops
}

// deliver applies ops to s in random batches of random order, as
// replication from several peers would, and puts back every op that lands
// on a gap until all are applied.
func deliver(t *testing.T, s *Store, ops []Op, rng *rand.Rand) {
	t.Helper()
	pending := slices.Clone(ops)
	for rounds := 0; len(pending) > 0; rounds++ {
		if rounds > 10*len(ops) {
			t.Fatalf("%d ops still pending after %d rounds", len(pending), rounds)
		}
		rng.Shuffle(len(pending), func(i, j int) { pending[i], pending[j] = pending[j], pending[i] })
		n := 1 + rng.IntN(min(len(pending), 7))
		batch := pending[:n]
		res := mustApply(t, s, batch...)
		var kept []Op
		for i, r := range res.Ops {
			switch r.Status {
			case StatusGap:
				kept = append(kept, batch[i])
			case StatusApplied, StatusLogged, StatusDuplicate:
			default:
				t.Fatalf("op %+v: status %v (%v)", batch[i], r.Status, r.Reason)
			}
		}
		// Sometimes a peer sends the same op twice.
		if rng.IntN(4) == 0 {
			kept = append(kept, batch[0])
		}
		pending = append(kept, pending[n:]...)
	}
}

func TestDumpConvergesAcrossArrivalOrders(t *testing.T) {
	ops := clusterOps()
	reference := openTest(t)
	mustApply(t, reference, ops...)
	want := dumpString(t, reference)
	var lowestRID Op
	for _, op := range ops {
		if op.RID == "r1" && (lowestRID.Origin == "" || compareOps(op, lowestRID) < 0) {
			lowestRID = op
		}
	}

	for seed := range uint64(8) {
		s := openTest(t)
		deliver(t, s, ops, rand.New(rand.NewPCG(seed, 42)))
		if got := dumpString(t, s); got != want {
			t.Fatalf("seed %d: dump differs\n--- got\n%s\n--- want\n%s", seed, got, want)
		}
		if got := s.Counts(); got != reference.Counts() {
			t.Errorf("seed %d: counts %+v, want %+v", seed, got, reference.Counts())
		}
		if got := s.VersionVector(); !maps.Equal(got, reference.VersionVector()) {
			t.Errorf("seed %d: version vector %v, want %v", seed, got, reference.VersionVector())
		}
		if got, _, _ := s.LookupRID("r1", baseTime); got != lowestRID {
			t.Errorf("seed %d: LookupRID(r1) = %+v, want %+v", seed, got, lowestRID)
		}
	}
}

func TestDumpGolden(t *testing.T) {
	s := openTest(t)
	mustApply(t, s, clusterOps()...)
	got := dumpString(t, s)

	var parsed map[string]any
	if err := json.Unmarshal([]byte(got), &parsed); err != nil {
		t.Fatalf("dump is not valid JSON: %v\n%s", err, got)
	}
	for _, key := range []string{"users", "channels", "conversations"} {
		if _, ok := parsed[key]; !ok {
			t.Errorf("dump has no %q", key)
		}
	}

	golden := filepath.Join("testdata", "dump.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestDumpGolden -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("dump differs from %s (rerun with -update if the change is intended)\n%s", golden, got)
	}
}

func TestDumpEmptyStore(t *testing.T) {
	s := openTest(t)
	want := "{\n  \"users\": [],\n  \"channels\": [],\n  \"conversations\": []\n}\n"
	if got := dumpString(t, s); got != want {
		t.Errorf("dump of an empty store = %q, want %q", got, want)
	}
}

func TestDumpPostBeforeChannel(t *testing.T) {
	a, b := newOrigin("s1", 1), newOrigin("s2", 2)
	create := a.channel("geral")
	post := b.post("ana", "geral", "oi")

	s := openTest(t)
	mustApply(t, s, post)
	if page, _, _ := s.History("geral", "", 10); len(page) != 1 {
		t.Errorf("post before its channel: history has %d messages", len(page))
	}
	partial := dumpString(t, s)
	var parsed struct {
		Channels []struct {
			Name  *string          `json:"name"`
			Posts []map[string]any `json:"posts"`
		} `json:"channels"`
	}
	if err := json.Unmarshal([]byte(partial), &parsed); err != nil {
		t.Fatal(err)
	}
	if len(parsed.Channels) != 1 || parsed.Channels[0].Name != nil || len(parsed.Channels[0].Posts) != 1 {
		t.Errorf("dump of a post without its channel:\n%s", partial)
	}

	mustApply(t, s, create)
	other := openTest(t)
	mustApply(t, other, create, post)
	if got, want := dumpString(t, s), dumpString(t, other); got != want {
		t.Errorf("dumps differ\n%s\n%s", got, want)
	}
}
