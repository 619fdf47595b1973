package store

import (
	"os"
	"strconv"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestZZStats(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	groupFillPercent, _ = strconv.ParseFloat(os.Getenv("ZZ"), 64)
	s := openTest(t)
	a, b := newOrigin("s1", 1), newOrigin("s2", 2)
	var ops []Op
	n := 0
	for i := 0; i < 2000; i++ {
		ops = ops[:0]
		for j := 0; j < 50; j++ {
			n++
			ch := "channel" + strconv.Itoa(n%10)
			if os.Getenv("ZZMODE") == "interleave" {
				ops = append(ops, a.post("ana", ch, "hello there"), b.post("bia", ch, "hello there"))
			} else {
				ops = append(ops, a.post("ana", ch, "hello there"))
			}
		}
		mustApply(t, s, ops...)
	}
	if os.Getenv("ZZMODE") == "late" {
		for i := 0; i < 2000; i++ {
			ops = ops[:0]
			for j := 0; j < 50; j++ {
				n++
				ops = append(ops, b.post("bia", "channel"+strconv.Itoa(n%10), "hello there"))
			}
			mustApply(t, s, ops...)
		}
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		st := tx.Bucket(bucketPosts).Stats()
		t.Logf("fill %.2f %s posts keys=%7d leafAlloc=%6dKB leafInuse=%6dKB (%.0f%%)", groupFillPercent, os.Getenv("ZZMODE"), st.KeyN, st.LeafAlloc>>10, st.LeafInuse>>10, 100*float64(st.LeafInuse)/float64(max(st.LeafAlloc, 1)))
		return nil
	})
}
