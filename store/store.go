// Package store is the durable storage of one msgsys server: the op log of
// every origin server and the view materialised from it (users, logins,
// channels, posts and direct messages), in one bbolt file.
//
// Layout of the file (top-level buckets):
//
//	log       one bucket per origin: seq (8 bytes big-endian) -> log record (codec.go)
//	users     folded name -> name record of the lowest login op
//	channels  folded name -> name record of the lowest channel op
//	logins    one bucket per folded user: order key -> empty
//	posts     one bucket per folded channel: order key -> empty
//	directs   one bucket per conversation "a\x00b" (folded, sorted): order key -> empty
//	rids      SHA-256 of a request id, cut to 16 bytes -> seq (8 bytes) and origin
//	          of the lowest op carrying it
//	meta      schema version and counters
//
// Each message is stored once in full, in the log. The index buckets hold
// only order keys, and an order key names the origin and seq of its log
// record, so History costs one log lookup per message. A million messages
// of 40 to 120 bytes make a file of about 270 MB (TestMillionMessagesMemory),
// and trim.go explains how a server keeps little of it in resident memory.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Errors of the store package.
var (
	// ErrReadOnly is returned by Apply on a store opened with ReadOnly.
	ErrReadOnly = errors.New("store: store is read-only")
	// ErrInvalidOp is wrapped by the OpResult.Reason of an op that was not
	// stored or not materialised.
	ErrInvalidOp = errors.New("store: invalid op")
	// ErrRetry is wrapped by the OpResult.Reason of an op that repeats the
	// request id of an op lower in the total order: a client's retry. It is
	// logged but not materialised.
	ErrRetry = errors.New("store: retry of an applied request")
	// ErrBadCursor is returned for a history cursor that Cursor did not make.
	ErrBadCursor = errors.New("store: invalid history cursor")
	// ErrCorrupt is returned when stored bytes cannot be decoded.
	ErrCorrupt = errors.New("store: corrupt data")
	// ErrNotStore is returned by Open for a bbolt file of another program or
	// of an unknown schema version.
	ErrNotStore = errors.New("store: file is not a msgsys store of a known version")
)

// DefaultTimeout is how long Open waits for the file lock when
// Options.Timeout is zero. Another process that holds the file open for
// writing holds that lock.
const DefaultTimeout = 5 * time.Second

// schemaVersion changes whenever the layout of the file changes.
const schemaVersion = 1

// Fill percentages of pages that bbolt splits at commit. Log keys are
// sequence numbers appended in order, so full pages waste nothing. Index
// keys of one group (a channel, a conversation, a user's logins) mostly come
// after every key already committed, and then full pages waste nothing
// either. Ops that arrive late, as when a server catches up on another
// origin's history, land between committed keys. Full pages would then split
// into a full page and a tiny one again and again, so a group that takes
// such a key in a commit splits at half. Measured with 100,000 posts in
// ten channels, then 100,000 posts of a second origin between them: pages
// end 97% used after the appends and 66% after the inserts. With 1.0 for
// every commit the inserts leave 18%, and with bbolt's default of 0.5 for
// every commit the appends leave 50%.
const (
	logFillPercent    = 1.0
	appendFillPercent = 1.0
	insertFillPercent = 0.5
)

var (
	bucketLog      = []byte("log")
	bucketUsers    = []byte("users")
	bucketChannels = []byte("channels")
	bucketLogins   = []byte("logins")
	bucketPosts    = []byte("posts")
	bucketDirects  = []byte("directs")
	bucketRIDs     = []byte("rids")
	bucketMeta     = []byte("meta")

	allBuckets = [][]byte{bucketLog, bucketUsers, bucketChannels, bucketLogins,
		bucketPosts, bucketDirects, bucketRIDs, bucketMeta}

	metaSchema = []byte("schema")
	metaCounts = []byte("counts")
)

// Options configure Open.
type Options struct {
	// ReadOnly opens the file with a shared lock and rejects Apply. Use it
	// on a copy made by Backup, because a running server holds an exclusive
	// lock on its own file.
	ReadOnly bool
	// Timeout is how long Open waits for the file lock. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// NoSync skips fsync after each commit, so a crash can lose or corrupt
	// data. Tests only.
	NoSync bool
}

// Counts are the sizes of the materialised view.
type Counts struct {
	Users    int
	Channels int
	Posts    int
	Directs  int
	Logins   int
}

// Store is the durable storage of one server. Apply serialises its callers,
// and every read method is safe to call concurrently with it.
type Store struct {
	db       *bolt.DB
	readOnly bool

	applyMu sync.Mutex // serialises Apply, so version and counts change only under it

	mu      sync.RWMutex      // guards version and counts
	version map[string]uint64 // highest contiguous seq stored per origin
	counts  Counts            // sizes of the view as of the last commit

	lastTrim atomic.Int64 // Unix nanoseconds of the last trim of the memory map
	touched  atomic.Int64 // log records read or written since the last trim
	trimOff  atomic.Bool  // set when the platform cannot trim

	trimMu    sync.Mutex  // guards trimTimer and closed
	trimTimer *time.Timer // pending trim of an idle store, or nil
	closed    bool        // Close has begun, so no timer may be armed
}

// Open opens the store at path, creating the file and its buckets when the
// store is writable and the file is new.
//
// The freelist is the hashmap type, and every commit writes it. With
// NoFreelistSync each commit would be a little cheaper, but every Open
// would then read every page of the file to rebuild the freelist, and so
// map the whole file into the server's memory.
func Open(path string, opts Options) (*Store, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      timeout,
		ReadOnly:     opts.ReadOnly,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("store: failed to open %s: %w", path, err)
	}
	s := &Store{db: db, readOnly: opts.ReadOnly}
	if !opts.ReadOnly {
		err = db.Update(initBuckets)
	}
	if err == nil {
		err = db.View(s.load)
	}
	if err != nil {
		_ = db.Close() // the open error is the one to report
		return nil, fmt.Errorf("store: failed to open %s: %w", path, err)
	}
	return s, nil
}

// initBuckets creates the buckets of a new file and checks the schema
// version of an existing one.
func initBuckets(tx *bolt.Tx) error {
	if tx.Bucket(bucketMeta) == nil {
		empty := true
		err := tx.ForEach(func([]byte, *bolt.Bucket) error {
			empty = false
			return nil
		})
		if err != nil {
			return err
		}
		if !empty {
			return ErrNotStore
		}
		for _, name := range allBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaSchema, binary.BigEndian.AppendUint64(nil, schemaVersion))
	}
	return checkSchema(tx)
}

func checkSchema(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return ErrNotStore
	}
	v := meta.Get(metaSchema)
	if len(v) != 8 || binary.BigEndian.Uint64(v) != schemaVersion {
		return ErrNotStore
	}
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("%w: bucket %s is missing", ErrNotStore, name)
		}
	}
	return nil
}

// load reads the version vector from the last key of each origin's log and
// the counters from meta.
func (s *Store) load(tx *bolt.Tx) error {
	if err := checkSchema(tx); err != nil {
		return err
	}
	version := make(map[string]uint64)
	err := tx.Bucket(bucketLog).ForEachBucket(func(origin []byte) error {
		k, _ := tx.Bucket(bucketLog).Bucket(origin).Cursor().Last()
		if k == nil {
			return nil
		}
		if len(k) != 8 {
			return fmt.Errorf("%w: log key of %d bytes in origin %q", ErrCorrupt, len(k), origin)
		}
		version[string(origin)] = binary.BigEndian.Uint64(k)
		return nil
	})
	if err != nil {
		return err
	}
	counts, err := decodeCounts(tx.Bucket(bucketMeta).Get(metaCounts))
	if err != nil {
		return err
	}
	s.version = version
	s.counts = counts
	return nil
}

func encodeCounts(c Counts) []byte {
	buf := make([]byte, 0, 5*8)
	for _, n := range [...]int{c.Users, c.Channels, c.Posts, c.Directs, c.Logins} {
		buf = binary.BigEndian.AppendUint64(buf, uint64(n))
	}
	return buf
}

// decodeCounts reads counters written by encodeCounts. A nil value is a new
// file.
func decodeCounts(v []byte) (Counts, error) {
	if v == nil {
		return Counts{}, nil
	}
	if len(v) != 5*8 {
		return Counts{}, fmt.Errorf("%w: counters of %d bytes", ErrCorrupt, len(v))
	}
	n := func(i int) int { return int(binary.BigEndian.Uint64(v[i*8:])) }
	return Counts{Users: n(0), Channels: n(1), Posts: n(2), Directs: n(3), Logins: n(4)}, nil
}

// Close closes the file. It waits for read transactions in progress.
func (s *Store) Close() error {
	s.stopTrims()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: failed to close %s: %w", s.db.Path(), err)
	}
	return nil
}

// Backup writes a consistent copy of the store to path while the store stays
// open and writable. The copy goes to a temporary file in the same directory,
// is synced, and is then renamed to path, so path never holds a partial copy.
func (s *Store) Backup(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("store: failed to back up to %s: %w", path, err)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(tmp)
		return err
	})
	if err == nil {
		err = tmp.Sync()
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name()) // the copy failed, so the partial file is useless
		return fmt.Errorf("store: failed to back up to %s: %w", path, err)
	}
	return nil
}

// VersionVector returns a copy of the highest contiguous seq stored per origin.
func (s *Store) VersionVector() map[string]uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.version)
}

// Counts returns the sizes of the view as of the last commit, without
// reading the file.
func (s *Store) Counts() Counts {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.counts
}
