// Package store is the durable storage of one msgsys server: the op log of
// every origin server and the view materialised from it (users, logins,
// channels, posts and direct messages), in one bbolt file, with a
// write-ahead log beside it that makes writes durable (wal.go) and a
// two-step path from one to the other (commit.go).
//
// Layout of the file (top-level buckets):
//
//	log       one bucket per origin: seq (8 bytes big-endian) -> log record (codec.go)
//	users     folded name -> name record of the lowest login op
//	channels  folded name -> name record of the lowest channel op
//	logins    one bucket per folded user: order key -> empty
//	posts     one bucket per folded channel: order key -> empty
//	directs   one bucket per conversation "a\x00b" (folded, sorted): order key -> empty
//	rids      one bucket per 10-second slice of op timestamps: SHA-256 of a
//	          request id, cut to 16 bytes, seq (8 bytes) and origin -> empty;
//	          the newest slices live in memory only (rids.go)
//	meta      schema version, counters, the last slice of rids written and
//	          the write-ahead log position the file holds up to
//
// Each message is stored once in full, in the log. The index buckets hold
// only order keys, and an order key names the origin and seq of its log
// record, so History costs one log lookup per message. A million messages
// of 40 to 120 bytes make a file of about 270 MB (TestMillionMessagesMemory),
// and trim.go explains how a server keeps little of it in resident memory.
// The write-ahead log keeps every op a second time, about 100 bytes each.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
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
	// ErrLocked is returned by Open when another process held the file
	// for longer than Options.Timeout.
	ErrLocked = errors.New("store: file locked by another process")
	// ErrDamaged is wrapped by the error of Open for a file that bbolt
	// cannot read as a database: a writable Open that the write-ahead log
	// cannot rebuild it from, or a read-only Open (damage.go).
	ErrDamaged = errors.New("store: file is damaged")
)

// DefaultTimeout is how long Open waits for the file lock when
// Options.Timeout is zero. Another process that holds the file open for
// writing holds that lock.
const DefaultTimeout = 5 * time.Second

// schemaVersion changes whenever the layout of the file changes.
const schemaVersion = 2

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

	metaRIDsFlushed = []byte("rids-flushed")
	metaWAL         = []byte("wal") // log position the file holds up to
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
	// NoSync skips syncing the write-ahead log, so a machine crash can
	// lose data. Tests only.
	NoSync bool
	// SyncEvery, when positive, syncs the write-ahead log in the
	// background every SyncEvery, and ApplyAsync starts no sync of its
	// own: a Durable's Wait then syncs at once. Zero syncs each batch as
	// it is logged.
	SyncEvery time.Duration
	// Log receives the write-ahead log's events, such as a sync that
	// stalled the server. Nil discards them.
	Log *slog.Logger
	// Resumed returns when the process last continued after a stop
	// (SIGCONT), zero if never. A sync that a stop lengthened then does
	// not count as stalled. Nil means stops are not known.
	Resumed func() time.Time
	// SegmentBytes is the size past which the write-ahead log starts a new
	// segment. Zero means 64 MiB. Tests set a few KiB to get many
	// segments.
	SegmentBytes int64
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
	path     string

	// logMu serialises logging: planning against the version vector and
	// appending to the write-ahead log. commitMu serialises bbolt commits.
	// A goroutine that holds both takes commitMu first.
	logMu    sync.Mutex
	commitMu sync.Mutex
	wal      *wal // nil when read-only

	failMu sync.Mutex
	failed error // set when the log could not be written; Apply refuses

	pending []*plan // logged, not yet materialised; under logMu
	// pendingRIDs counts the ops in pending that carry each request id, so
	// that a lookup of a fresh id, as nearly every write makes, skips the
	// scan of pending. Under logMu.
	pendingRIDs  map[string]int
	loggedOps    atomic.Int64 // ops logged by this process
	committedOps atomic.Int64 // of those, ops committed to the file

	recovered Recovery

	closeOnce sync.Once
	closeErr  error

	mu      sync.RWMutex      // guards version and counts
	version map[string]uint64 // highest contiguous seq stored per origin
	counts  Counts            // sizes of the view as of the last commit

	rids  *ridIndex        // request ids of recent ops; the rest are in the file
	names nameCache        // shown names read from the file
	now   func() time.Time // the local clock, which decides when rids go to the file

	lastTrim atomic.Int64 // Unix nanoseconds of the last trim of the memory map
	touched  atomic.Int64 // log records read or written since the last trim
	trimOff  atomic.Bool  // set when the platform cannot trim

	trimMu      sync.Mutex    // guards trimTimer and closed
	trimTimer   *time.Timer   // pending trim of an idle store, or nil
	settleTimer *time.Timer   // pending materialisation of logged ops, or nil
	settleAfter time.Duration // delay of settleTimer, shorter or longer in tests
	idleTimer   *time.Timer   // flushIdle once no commit came for idleAfter, or nil
	closed      bool          // Close has begun, so no timer may be armed
}

// Open opens the store at path, creating the file and its buckets when the
// store is writable and the file is new. A writable store keeps its
// write-ahead log in the directory path+".wal" (wal.go). After the process
// died, Open replays the ops the file missed. After the machine restarted,
// it rebuilds the file from the log. A file that bbolt cannot read as a
// database is renamed, never deleted, and rebuilt from the log when the
// log holds every op (damage.go).
//
// The freelist is the hashmap type, and every commit writes it. With
// NoFreelistSync each commit would be a little cheaper, but every Open
// would then read every page of the file to rebuild the freelist, and so
// map the whole file into the server's memory.
func Open(path string, opts Options) (*Store, error) {
	s, err := open(path, opts)
	if err != nil {
		return nil, fmt.Errorf("store: failed to open %s: %w", path, err)
	}
	return s, nil
}

func open(path string, opts Options) (*Store, error) {
	walDir := path + ".wal"
	var rebuild bool
	if !opts.ReadOnly {
		died, boot, err := readOpenMarker(walDir)
		if err != nil {
			return nil, err
		}
		// No process of an earlier boot can still hold the file, so it
		// can go. The log holds every op in it.
		if rebuild = died && (boot == "" || boot != bootID()); rebuild {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
	}

	s, err := openFile(path, opts)
	var damage Recovery
	if errors.Is(err, ErrDamaged) && !opts.ReadOnly {
		if damage, err = setAside(path, walDir, err); err == nil {
			rebuild = true
			s, err = openFile(path, opts)
		}
	}
	if err != nil {
		return nil, err
	}
	s.recovered = damage
	if !opts.ReadOnly {
		err = s.recover(walDir, rebuild, !opts.NoSync, opts)
	}
	if err != nil {
		if s.wal != nil {
			_ = s.wal.close()
		}
		_ = s.db.Close() // the open error is the one to report
		return nil, err
	}
	return s, nil
}

// Recovery is the work Open did to bring the file up to date with the log.
type Recovery struct {
	Unclean  bool // the last process that had the store open died without closing it
	Rebuilt  bool // the machine had restarted, so the file was rebuilt from the log
	Replayed int  // ops the file lacked and took from the log
	Seeded   int  // ops of a file without a log, copied into a new log
	Refilled int  // ops of the file that the log had lost, copied back
	// TailCut counts the bytes of a torn record that ended the log and was
	// cut off: the last append before a crash, left unfinished.
	TailCut int64
	// LogDamage lists the other bytes cut from the log because they were
	// not whole records, and the segments missing from it.
	LogDamage []LogDamage
	// DamagedFile is the new path of a file that bbolt could not read as
	// a database, which Open renamed before it rebuilt the file from the
	// log, or "".
	DamagedFile string
	// FileDamage is the error bbolt returned for that file.
	FileDamage string
}

// IsZero reports whether Open had nothing to recover.
func (r Recovery) IsZero() bool {
	return !r.Unclean && !r.Rebuilt && r.Replayed == 0 && r.Seeded == 0 && r.Refilled == 0 &&
		r.TailCut == 0 && len(r.LogDamage) == 0 && r.DamagedFile == "" && r.FileDamage == ""
}

// Unsynced returns how many bytes this process appended to the log that
// no sync has covered yet: with Options.SyncEvery, the writes a crash of
// the machine could still lose.
func (s *Store) Unsynced() int64 {
	if s.wal == nil {
		return 0
	}
	s.wal.mu.Lock()
	written := s.wal.written
	s.wal.mu.Unlock()
	return written - s.wal.synced.Load()
}

// Recovery returns what Open recovered.
func (s *Store) Recovery() Recovery { return s.recovered }

// recover opens the write-ahead log, brings the file up to date with it,
// and marks the store open.
func (s *Store) recover(dir string, rebuild bool, sync bool, opts Options) error {
	died, _, err := readOpenMarker(dir)
	if err != nil {
		return err
	}
	if s.wal, err = openLoggedWAL(dir, sync, opts, s.syncFailed(opts.Log)); err != nil {
		return err
	}
	s.recovered.Unclean, s.recovered.Rebuilt = died, rebuild
	s.recovered.TailCut = s.wal.cutBytes
	s.recovered.LogDamage = s.wal.damage

	var from walPos
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(metaWAL)
		if v == nil {
			return nil
		}
		from, err = decodeWALPos(v)
		return err
	})
	if err != nil {
		return err
	}
	// Without a machine crash the file is whole. The log then lacks ops
	// of the file when it lost records from its end, which no crash does,
	// or when Open cut damaged records from it or found segments missing.
	// A later rebuild from the log would lose those ops too.
	lost := !rebuild && (s.wal.end.before(from) || len(s.wal.damage) > 0)
	switch {
	case s.wal.end == (walPos{seg: 1}) && len(s.version) > 0:
		// A file whose log was removed: the log starts again from it.
		err = s.seedWAL()
	case lost:
		// A log that ends before from holds nothing the file lacks.
		if (died || from != s.wal.end) && !s.wal.end.before(from) {
			err = s.replayWAL(from)
		}
		if err == nil {
			err = s.refillWAL()
		}
	case died || rebuild || from != s.wal.end:
		err = s.replayWAL(from)
	}
	if err != nil {
		return err
	}
	return writeOpenMarker(dir)
}

// replayWAL applies the ops logged from pos on that the file lacks.
func (s *Store) replayWAL(from walPos) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	err := s.wal.replay(from, 1000, func(ops []Op) error {
		p := s.plan(ops)
		if len(p.logged) == 0 {
			return nil
		}
		s.recovered.Replayed += len(p.logged)
		s.mu.Lock()
		s.version = maps.Clone(p.version)
		s.mu.Unlock()
		return s.commit([]*plan{p}, nil)
	})
	if err != nil {
		return err
	}
	end := s.wal.end
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaWAL, end.encode())
	})
}

// seedWAL copies every op of the file into an empty log.
func (s *Store) seedWAL() error {
	var err error
	s.recovered.Seeded, err = s.copyToLog(nil)
	return err
}

// copyToLog appends to the log, per origin, the ops of the file after the
// seq that after gives, records the log's end in the file and returns how
// many ops it appended.
func (s *Store) copyToLog(after map[string]uint64) (int, error) {
	copied := 0
	for origin := range s.VersionVector() {
		for seq := after[origin]; ; {
			ops, err := s.OpsAfter(origin, seq, 1000, 0)
			if err != nil {
				return copied, err
			}
			if len(ops) == 0 {
				break
			}
			if err := s.wal.append(ops); err != nil {
				return copied, err
			}
			copied += len(ops)
			seq = ops[len(ops)-1].Seq
		}
	}
	return copied, s.recordLogEnd()
}

// recordLogEnd syncs the log and records its end in the file as the
// position the file holds up to.
func (s *Store) recordLogEnd() error {
	if err := s.wal.flush(); err != nil {
		return err
	}
	end := s.wal.end
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaWAL, end.encode())
	})
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
	rids, err := loadRIDs(tx)
	if err != nil {
		return err
	}
	s.version = version
	s.counts = counts
	s.rids = rids
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
// A writable store syncs the file, which commits left to the page cache,
// and the log. It then removes the open marker, so the next Open finds the
// store closed cleanly.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Store) close() error {
	s.stopTrims()
	var err error
	if s.wal != nil {
		err = s.materialise(s.loggedOps.Load())
		s.commitMu.Lock()
		defer s.commitMu.Unlock()
		s.logMu.Lock()
		defer s.logMu.Unlock()
		if syncErr := s.db.Sync(); err == nil {
			err = syncErr
		}
		if walErr := s.wal.close(); err == nil {
			err = walErr
		}
		if err == nil && s.failure() == nil {
			err = removeOpenMarker(s.wal.dir)
		}
	}
	if closeErr := s.db.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("store: failed to close %s: %w", s.path, err)
	}
	return nil
}

// Backup writes a consistent copy of the store to path while the store stays
// open and writable. The copy goes to a temporary file in the same directory,
// is synced, and is then renamed to path, so path never holds a partial copy.
func (s *Store) Backup(path string) error {
	s.settle()
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
	s.settle()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.counts
}
