package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The request id index finds the ops that carry a request id, so that a
// client's retry is materialised once (see indexRID).
//
// Retries come seconds after the first attempt, so the index only has to
// match ops whose timestamps are close. Two ops carrying the same id are
// attempts of one write when their slices, ridSlice wide, are at most
// ridHorizon slices apart. Attempts less than 30 s apart always match.
// Keying by time lets the index keep the recent ops, which every write
// consults, in memory, and write each slice to the file once it is old,
// in key order into a bucket of its own. A hash-keyed index in the file
// would put each write on a random page: measured on the 2-core machine,
// that index cost five times the rest of a write.
const (
	ridSlice   = int64(10 * time.Second)
	ridHorizon = 3 // slices either side that an op is matched against

	// ridFlushAfter is how many slices the index keeps in memory behind
	// the current one before it starts writing the oldest to the file.
	// Ops of live traffic then find every op they are matched against in
	// memory.
	ridFlushAfter = ridHorizon + 1

	// ridFlushChunk bounds the entries written per Apply, so writing a
	// slice spreads over several commits instead of stalling one.
	ridFlushChunk = 4096
)

// ridMemoryMax bounds the refs held in memory, about 30 MB. Past it the
// oldest slices go to the file early and their later refs straight to the
// file, which is slow: it takes over 20,000 writes a second sustained for
// the 40 to 50 seconds the index keeps.
const ridMemoryMax = 1 << 20

// ridHash is the first 8 bytes of a request id's SHA-256. Ids that share a
// hash only cost a log read, because ops are matched by their full ids.
type ridHash uint64

// ridRef names one op carrying a request id.
type ridRef struct {
	origin string
	seq    uint64
	slice  int64
}

// ridEntry is one ref as the file stores it.
type ridEntry struct {
	hash ridHash
	ref  ridRef
}

// ridSlot is a ref in memory, its origin an index into ridIndex.origins:
// 16 bytes, so a million refs fit in about 30 MB.
type ridSlot struct {
	origin uint32
	seq    uint64
}

// ridSliceMem holds the refs in memory of one slice.
type ridSliceMem struct {
	first map[ridHash]ridSlot   // the first ref of each hash
	more  map[ridHash][]ridSlot // further refs of a hash: retries, collisions
}

// sliceOf returns the slice of a timestamp in Unix nanoseconds.
func sliceOf(t int64) int64 {
	s := t / ridSlice
	if t%ridSlice < 0 {
		s--
	}
	return s
}

// within reports whether two slices are at most radius apart. Ops match
// when their slices are within ridHorizon.
func within(a, b, radius int64) bool {
	d := a - b
	return d >= -radius && d <= radius
}

// ridIndex holds the refs of the slices that are not yet in the file. Apply,
// the only writer, reads it without the lock; readers take mu.
type ridIndex struct {
	mu        sync.RWMutex
	mem       map[int64]*ridSliceMem // slices with refs in memory
	refs      int                    // refs in memory
	flushed   int64                  // every slice up to this one is wholly in the file
	fileTop   int64                  // no slice after this one has refs in the file
	forced    int64                  // slices up to here go to the file early, for memoryMax
	memoryMax int                    // ridMemoryMax, lower in tests

	origins   []string // interned origins of the refs in memory
	originIdx map[string]uint32

	// queue contains the sorted entries of slice queueSlice not yet
	// written, from queue[queueNext] on. It is nil when no slice is being
	// written.
	queue      []ridEntry
	queueNext  int
	queueSlice int64
}

func newRIDIndex(flushed, fileTop int64) *ridIndex {
	return &ridIndex{
		mem:       make(map[int64]*ridSliceMem),
		flushed:   flushed,
		fileTop:   fileTop,
		forced:    flushed,
		memoryMax: ridMemoryMax,
		originIdx: make(map[string]uint32),
	}
}

// lookup appends the refs in memory of hash whose slice is at most radius
// slices from slice.
func (x *ridIndex) lookup(refs []ridRef, hash ridHash, slice, radius int64) []ridRef {
	for s, m := range x.mem {
		if !within(s, slice, radius) {
			continue
		}
		first, ok := m.first[hash]
		if !ok {
			continue
		}
		refs = append(refs, x.ref(first, s))
		for _, slot := range m.more[hash] {
			refs = append(refs, x.ref(slot, s))
		}
	}
	return refs
}

func (x *ridIndex) ref(slot ridSlot, slice int64) ridRef {
	return ridRef{origin: x.origins[slot.origin], seq: slot.seq, slice: slice}
}

func (x *ridIndex) slot(ref ridRef) ridSlot {
	idx, ok := x.originIdx[ref.origin]
	if !ok {
		idx = uint32(len(x.origins))
		x.origins = append(x.origins, ref.origin)
		x.originIdx[ref.origin] = idx
	}
	return ridSlot{origin: idx, seq: ref.seq}
}

// add records a ref in memory. Callers hold mu or own the index alone.
func (x *ridIndex) add(hash ridHash, ref ridRef) {
	m := x.mem[ref.slice]
	if m == nil {
		m = &ridSliceMem{first: make(map[ridHash]ridSlot), more: make(map[ridHash][]ridSlot)}
		x.mem[ref.slice] = m
	}
	slot := x.slot(ref)
	x.refs++
	if _, ok := m.first[hash]; !ok {
		m.first[hash] = slot
		return
	}
	m.more[hash] = append(m.more[hash], slot)
}

// remove drops a ref from memory once it is in the file.
func (x *ridIndex) remove(hash ridHash, ref ridRef) {
	m := x.mem[ref.slice]
	if m == nil {
		return
	}
	slot := x.slot(ref)
	rest := m.more[hash]
	if first, ok := m.first[hash]; ok && first == slot {
		if len(rest) == 0 {
			delete(m.first, hash)
		} else {
			m.first[hash] = rest[0]
			rest = rest[1:]
		}
	} else {
		rest = slices.DeleteFunc(rest, func(r ridSlot) bool { return r == slot })
	}
	if len(rest) == 0 {
		delete(m.more, hash)
	} else {
		m.more[hash] = rest
	}
	x.refs--
	if len(m.first) == 0 {
		delete(x.mem, ref.slice)
	}
}

// oldest returns the oldest slice in memory; ok is false when there is none.
func (x *ridIndex) oldest() (slice int64, ok bool) {
	slice = math.MaxInt64
	for s := range x.mem {
		slice, ok = min(slice, s), true
	}
	return slice, ok
}

// takeSlice returns the sorted entries in memory of the oldest slice up to
// target, and that slice; ok is false when memory holds none.
func (x *ridIndex) takeSlice(target int64) (entries []ridEntry, slice int64, ok bool) {
	slice, ok = x.oldest()
	if !ok || slice > target {
		return nil, 0, false
	}
	m := x.mem[slice]
	for hash, first := range m.first {
		entries = append(entries, ridEntry{hash, x.ref(first, slice)})
		for _, slot := range m.more[hash] {
			entries = append(entries, ridEntry{hash, x.ref(slot, slice)})
		}
	}
	slices.SortFunc(entries, func(a, b ridEntry) int {
		return bytes.Compare(ridFileKey(a.hash, a.ref), ridFileKey(b.hash, b.ref))
	})
	return entries, slice, true
}

// ridTx is the request id index within one commit transaction: memory,
// the refs this transaction added, and the file.
type ridTx struct {
	x      *ridIndex
	bucket *bolt.Bucket
	target int64 // slices up to here go to the file

	staged  []ridEntry // added to memory after the commit
	pending map[ridHash][]ridRef
	fileTop int64 // x.fileTop with this transaction's writes
	written int   // entries of x.queue written by this transaction
	done    bool  // every slice up to target is now in the file
}

func newRIDTx(x *ridIndex, bucket *bolt.Bucket, now int64) *ridTx {
	return &ridTx{
		x:       x,
		bucket:  bucket,
		target:  max(sliceOf(now)-ridFlushAfter, x.forced),
		pending: make(map[ridHash][]ridRef),
		fileTop: x.fileTop,
	}
}

// find returns the refs of hash at most radius slices from slice,
// wherever they are.
func (t *ridTx) find(hash ridHash, slice, radius int64) ([]ridRef, error) {
	refs := t.x.lookup(nil, hash, slice, radius)
	for _, ref := range t.pending[hash] {
		if within(ref.slice, slice, radius) {
			refs = append(refs, ref)
		}
	}
	if slice-radius > t.fileTop {
		return refs, nil // live traffic: nothing that close is in the file
	}
	return findInFile(refs, t.bucket, hash, slice, radius)
}

// put records that the op at ref carries hash: in memory for a recent
// slice, straight into the file for an old one.
func (t *ridTx) put(hash ridHash, ref ridRef) error {
	if ref.slice <= t.target || ref.slice <= t.x.flushed {
		b, err := subBucket(t.bucket, sliceKey(ref.slice))
		if err != nil {
			return err
		}
		t.fileTop = max(t.fileTop, ref.slice)
		return b.Put(ridFileKey(hash, ref), nil)
	}
	t.staged = append(t.staged, ridEntry{hash, ref})
	t.pending[hash] = append(t.pending[hash], ref)
	return nil
}

// flush writes the next chunk of old refs to the file: the sorted entries
// of the oldest slice in memory, appended in key order to its bucket.
func (t *ridTx) flush(meta *bolt.Bucket) error {
	x := t.x
	if oldest, ok := x.oldest(); ok && x.refs > x.memoryMax && oldest > t.target {
		// Later commits send this slice's new refs straight to the file.
		x.forced = oldest
		t.target = oldest
	}
	if x.queue == nil {
		entries, slice, ok := x.takeSlice(t.target)
		staged := slices.ContainsFunc(t.staged, func(e ridEntry) bool { return e.ref.slice <= t.target })
		if !ok && !staged {
			if t.target > x.flushed {
				t.done = true
				return meta.Put(metaRIDsFlushed, encodeSlice(t.target))
			}
			return nil
		}
		if !ok {
			return nil // this commit's refs of those slices are written next time
		}
		x.queue, x.queueNext, x.queueSlice = entries, 0, slice
	}

	b, err := subBucket(t.bucket, sliceKey(x.queueSlice))
	if err != nil {
		return err
	}
	b.FillPercent = 1.0
	t.fileTop = max(t.fileTop, x.queueSlice)
	end := min(len(x.queue), x.queueNext+ridFlushChunk)
	for _, e := range x.queue[x.queueNext:end] {
		if err := b.Put(ridFileKey(e.hash, e.ref), nil); err != nil {
			return err
		}
	}
	t.written = end - x.queueNext
	return nil
}

// commit moves what the committed transaction wrote out of memory and what
// it added into memory.
func (t *ridTx) commit() {
	x := t.x
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, e := range t.staged {
		x.add(e.hash, e.ref)
	}
	if t.done {
		x.flushed = t.target
	}
	x.fileTop = t.fileTop
	if x.queue == nil {
		return
	}
	for _, e := range x.queue[x.queueNext : x.queueNext+t.written] {
		x.remove(e.hash, e.ref)
	}
	x.queueNext += t.written
	if x.queueNext == len(x.queue) {
		x.queue = nil
	}
}

// rollback drops a queue that a failed transaction may have half written.
// The entries stay in memory and are taken again.
func (t *ridTx) rollback() {
	t.x.queue = nil
}

// findInFile appends the refs of hash at most radius slices from slice
// that the file holds.
func findInFile(refs []ridRef, bucket *bolt.Bucket, hash ridHash, slice, radius int64) ([]ridRef, error) {
	for s := slice - radius; s <= slice+radius; s++ {
		b := bucket.Bucket(sliceKey(s))
		if b == nil {
			continue
		}
		prefix := binary.BigEndian.AppendUint64(nil, uint64(hash))
		c := b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			ref, err := decodeRIDFileKey(k, s)
			if err != nil {
				return nil, err
			}
			refs = append(refs, ref)
		}
	}
	return refs, nil
}

// ridFileKey is the key of a ref in its slice's bucket: the hash, then the
// seq in 8 bytes big-endian, then the origin. The value is empty.
func ridFileKey(hash ridHash, ref ridRef) []byte {
	key := make([]byte, 0, ridKeyBytes+8+len(ref.origin))
	key = binary.BigEndian.AppendUint64(key, uint64(hash))
	key = binary.BigEndian.AppendUint64(key, ref.seq)
	return append(key, ref.origin...)
}

func decodeRIDFileKey(key []byte, slice int64) (ridRef, error) {
	if len(key) <= ridKeyBytes+8 {
		return ridRef{}, fmt.Errorf("%w: request id key of %d bytes", ErrCorrupt, len(key))
	}
	return ridRef{
		seq:    binary.BigEndian.Uint64(key[ridKeyBytes:]),
		origin: string(key[ridKeyBytes+8:]),
		slice:  slice,
	}, nil
}

// sliceKey names a slice's bucket so that bytes.Compare sorts slices in
// time order, negative ones included.
func sliceKey(slice int64) []byte {
	return encodeSlice(slice)
}

func encodeSlice(slice int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(slice)^(1<<63))
}

func decodeSlice(v []byte) (int64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: slice of %d bytes", ErrCorrupt, len(v))
	}
	return int64(binary.BigEndian.Uint64(v) ^ (1 << 63)), nil
}

// loadRIDs rebuilds the part of the index that lives in memory: the refs of
// ops in slices after the last one wholly written, that the file does not
// hold yet. Each origin stamps its ops in seq order (replica.Write keeps
// their times from going back), so those ops sit at the end of its log,
// and the scan walks back one horizon further for safety.
func loadRIDs(tx *bolt.Tx) (*ridIndex, error) {
	rids := tx.Bucket(bucketRIDs)
	flushed, stop := int64(math.MinInt64/ridSlice), int64(math.MinInt64) // a new file: nothing written yet
	if v := tx.Bucket(bucketMeta).Get(metaRIDsFlushed); v != nil {
		var err error
		if flushed, err = decodeSlice(v); err != nil {
			return nil, err
		}
		if flushed > math.MinInt64/ridSlice+ridHorizon {
			stop = (flushed - ridHorizon) * ridSlice
		}
	}
	fileTop := flushed
	if k, _ := rids.Cursor().Last(); k != nil {
		top, err := decodeSlice(k)
		if err != nil {
			return nil, err
		}
		fileTop = max(fileTop, top)
	}
	x := newRIDIndex(flushed, fileTop)
	logs := tx.Bucket(bucketLog)
	err := logs.ForEachBucket(func(origin []byte) error {
		c := logs.Bucket(origin).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if len(k) != 8 {
				return fmt.Errorf("%w: log key of %d bytes in origin %q", ErrCorrupt, len(k), origin)
			}
			op, err := decodeRecord(string(origin), binary.BigEndian.Uint64(k), v)
			if err != nil {
				return err
			}
			if op.Time < stop {
				return nil
			}
			slice := sliceOf(op.Time)
			if op.RID == "" || slice <= flushed {
				continue
			}
			hash := hashRID(op.RID)
			ref := ridRef{origin: op.Origin, seq: op.Seq, slice: slice}
			if b := rids.Bucket(sliceKey(slice)); b != nil && b.Get(ridFileKey(hash, ref)) != nil {
				continue
			}
			x.add(hash, ref)
		}
		return nil
	})
	return x, err
}
