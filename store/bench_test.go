package store

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixtureOps is the size of the log that the read benchmarks share.
const fixtureOps = 100_000

var (
	fixtureOnce  sync.Once
	fixtureStore *Store
	fixtureDir   string
	fixtureErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureStore != nil {
		_ = fixtureStore.Close()
	}
	if fixtureDir != "" {
		_ = os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// sampleText returns a post text of 40 to 120 bytes.
func sampleText(rng *rand.Rand, i int) string {
	const words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua "
	n := 40 + rng.IntN(80)
	start := rng.IntN(len(words) - n)
	return fmt.Sprintf("%06d %s", i, words[start:start+n-7])
}

// fillStore applies n ops from origin s1: 10 users log in, 10 channels are
// created, then posts over the channels with one direct message in ten.
// Every op carries a request id, as client writes do.
func fillStore(s *Store, n int, batch int) error {
	return fillFrom(s, "s1", n, batch, true)
}

func fillFrom(s *Store, origin string, n int, batch int, rids bool) error {
	o := newOrigin(origin, 1)
	rng := rand.New(rand.NewPCG(7, 7))
	ops := make([]Op, 0, batch)
	flush := func() error {
		if _, err := s.Apply(ops); err != nil {
			return err
		}
		ops = ops[:0]
		return nil
	}
	for i := range n {
		var op Op
		switch user, channel := fmt.Sprintf("user%d", i%10), fmt.Sprintf("channel%d", i%10); {
		case i < 10:
			op = Op{Kind: KindLogin, User: user}
		case i < 20:
			op = Op{Kind: KindChannel, Channel: channel}
		case i%10 == 0:
			op = Op{Kind: KindDirect, User: user, Peer: fmt.Sprintf("user%d", rng.IntN(10)), Text: sampleText(rng, i)}
		default:
			op = Op{Kind: KindPost, User: user, Channel: fmt.Sprintf("channel%d", rng.IntN(10)), Text: sampleText(rng, i)}
		}
		if rids {
			op.RID = fmt.Sprintf("%016x%06x", rng.Uint64(), i)
		}
		ops = append(ops, o.next(op))
		if len(ops) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// fixture returns a store holding fixtureOps ops, built once per test binary.
func fixture(b *testing.B) *Store {
	b.Helper()
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "store-bench-")
		if fixtureErr != nil {
			return
		}
		fixtureStore, fixtureErr = Open(filepath.Join(fixtureDir, "store.db"), Options{NoSync: true})
		if fixtureErr != nil {
			return
		}
		fixtureErr = fillStore(fixtureStore, fixtureOps, 1000)
	})
	if fixtureErr != nil {
		b.Fatalf("fixture: %v", fixtureErr)
	}
	return fixtureStore
}

// benchmarkApply applies batches of size ops with fsync on every commit, as
// a server does with the writes of live traffic.
func benchmarkApply(b *testing.B, size int) {
	s, err := Open(filepath.Join(b.TempDir(), "store.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	o := newOrigin("s1", 1)
	rng := rand.New(rand.NewPCG(1, 1))
	if _, err := s.Apply([]Op{o.login("ana"), o.channel("geral")}); err != nil {
		b.Fatal(err)
	}
	batch := make([]Op, size)
	b.ResetTimer()
	for i := range b.N {
		for j := range batch {
			batch[j] = o.next(Op{Kind: KindPost, User: "ana", Channel: "geral", Text: sampleText(rng, i), RID: fmt.Sprintf("%x", rng.Uint64())})
			batch[j].Time = time.Now().UnixNano() // live traffic, as a server stamps it
		}
		if _, err := s.Apply(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkApplyBatch1(b *testing.B)    { benchmarkApply(b, 1) }
func BenchmarkApplyBatch100(b *testing.B)  { benchmarkApply(b, 100) }
func BenchmarkApplyBatch1000(b *testing.B) { benchmarkApply(b, 1000) }

// BenchmarkHistory50 reads pages of 50 posts from random places in the
// history of one of ten channels of a 100,000-op store.
func BenchmarkHistory50(b *testing.B) {
	s := fixture(b)
	page, _, err := s.History("channel3", "", MaxLimit)
	if err != nil || len(page) < MaxLimit {
		b.Fatalf("fixture history: %d messages, %v", len(page), err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	b.ResetTimer()
	for range b.N {
		messages, _, err := s.History("channel3", page[rng.IntN(len(page))].Cursor(), 50)
		if err != nil {
			b.Fatal(err)
		}
		if len(messages) != 50 {
			b.Fatalf("page of %d messages", len(messages))
		}
	}
}

// BenchmarkOpsAfter1000 reads 1000 consecutive ops from a random place in
// the log of a 100,000-op store.
func BenchmarkOpsAfter1000(b *testing.B) {
	s := fixture(b)
	rng := rand.New(rand.NewPCG(4, 4))
	b.ResetTimer()
	for range b.N {
		ops, err := s.OpsAfter("s1", rng.Uint64N(fixtureOps-1000), 1000, 0)
		if err != nil {
			b.Fatal(err)
		}
		if len(ops) != 1000 {
			b.Fatalf("read %d ops", len(ops))
		}
	}
}

// BenchmarkCatchUp100k reads the whole 100,000-op log in batches of 1000,
// as a peer catching up from nothing does.
func BenchmarkCatchUp100k(b *testing.B) {
	s := fixture(b)
	b.ResetTimer()
	for range b.N {
		after := uint64(0)
		for {
			ops, err := s.OpsAfter("s1", after, 1000, 1<<20)
			if err != nil {
				b.Fatal(err)
			}
			if len(ops) == 0 {
				break
			}
			after = ops[len(ops)-1].Seq
		}
		if after != fixtureOps {
			b.Fatalf("caught up to %d", after)
		}
	}
}

// BenchmarkWALSync appends one op and syncs it, in a segment file that
// grows with each append and in one allocated ahead (wal.reserve).
func BenchmarkWALSync(b *testing.B) {
	for _, mode := range []string{"grow", "reserved"} {
		b.Run(mode, func(b *testing.B) {
			w, err := openWAL(b.TempDir(), true)
			if err != nil {
				b.Fatal(err)
			}
			defer w.close()
			w.noReserve = mode == "grow"
			o := newOrigin("s1", 1)
			op := o.post("ana", "geral", strings.Repeat("x", 64))
			for b.Loop() {
				op.Seq++
				if err := w.append([]Op{op}); err != nil {
					b.Fatal(err)
				}
				if err := w.flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
