package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A bbolt file can be damaged beyond what a crash does: its first pages
// overwritten, a checksum that fails, a file cut short, or a file of
// another kind at its path. bbolt then cannot open it, and a writable
// Open rebuilds it from the write-ahead log, which holds every op the
// store ever logged as long as it starts at its first segment. The
// damaged file is renamed, never deleted, so that its data stays at hand.

// minFileBytes is the length under which a file cannot be a bbolt
// database: bbolt reads two meta pages, of at least 4 KiB on the systems
// msgsys runs on. bbolt rejects such a file with an error that wraps no
// sentinel, so openFile checks the length itself.
const minFileBytes = 2 * 4096

// openFile opens the bbolt file at path and reads the store's state from
// it: the version vector, the counters and the recent request ids. A
// writable store creates the buckets of a new file. The error wraps
// ErrDamaged when bbolt cannot read the file as a database.
//
// bbolt panics on some damaged pages, such as a freelist page that is not
// one, and a read past the end of a file cut short faults in its memory
// map. Both become an error that wraps ErrDamaged.
//
// NOTE: a panic inside bolt.Open leaves the file descriptor, its lock and
// its memory map open until the process exits, because bbolt returns no
// DB to close. Open renames the damaged file, so the lock stays on the
// renamed file and does not block the new one.
func openFile(path string, opts Options) (s *Store, err error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}

	var db *bolt.DB
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		cause := recover()
		if cause == nil {
			return
		}
		if db != nil {
			_ = db.Close()
		}
		s, err = nil, fmt.Errorf("%w: bbolt failed reading it: %v", ErrDamaged, cause)
	}()

	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      timeout,
		ReadOnly:     opts.ReadOnly,
		NoSync:       !opts.ReadOnly, // the write-ahead log is synced instead
		NoGrowSync:   true,
		FreelistType: bolt.FreelistMapType,
	})
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return nil, fmt.Errorf("%w: %w", ErrLocked, err)
	case errors.Is(err, bolt.ErrInvalid), errors.Is(err, bolt.ErrChecksum), errors.Is(err, bolt.ErrVersionMismatch):
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	case err != nil:
		// bbolt checked the length only once it held the file's lock, so
		// no other process was writing the file then. An empty file is a
		// new store to a writer, but a reader cannot start one.
		if info, statErr := os.Stat(path); statErr == nil && info.Size() < minFileBytes && (info.Size() > 0 || opts.ReadOnly) {
			return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
		}
		return nil, err
	}
	s = &Store{db: db, readOnly: opts.ReadOnly, path: path, now: time.Now, settleAfter: settleAfter, pendingRIDs: make(map[string]int)}
	if !opts.ReadOnly {
		err = db.Update(initBuckets)
	}
	if err == nil {
		err = db.View(s.load)
	}
	if err != nil {
		_ = db.Close() // the open error is the one to report
		return nil, err
	}
	return s, nil
}

// setAside renames the damaged file at path, whose opening failed with
// damage, to path.damaged-TIME, so that Open can rebuild it from the log
// in walDir. It returns what it did, for Store.Recovery. When the log
// lacks segments it renames nothing and returns an error that names them.
func setAside(path, walDir string, damage error) (Recovery, error) {
	if err := checkLogComplete(walDir); err != nil {
		return Recovery{}, fmt.Errorf("%w, and the write-ahead log in %s cannot rebuild it: %w", damage, walDir, err)
	}
	aside, err := unusedName(path, time.Now())
	if err != nil {
		return Recovery{}, err
	}
	if err := os.Rename(path, aside); err != nil {
		return Recovery{}, err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return Recovery{}, err
	}
	return Recovery{DamagedFile: aside, FileDamage: damage.Error()}, nil
}

// IncompleteLogError is the error of CheckLog, and is wrapped by the error
// of a writable Open, for a write-ahead log that lacks segments and so
// cannot rebuild a damaged bbolt file.
type IncompleteLogError struct {
	// Missing lists the missing segment numbers as ascending ranges of
	// [first, last]. It is empty when the log has no segment at all.
	Missing [][2]uint64
}

func (e *IncompleteLogError) Error() string {
	switch {
	case len(e.Missing) == 0:
		return "no segment files found"
	case e.Single():
		return fmt.Sprintf("segment %d is missing", e.Missing[0][0])
	}
	return fmt.Sprintf("segments %s are missing", e.Ranges())
}

// Single reports whether exactly one segment is missing.
func (e *IncompleteLogError) Single() bool {
	return len(e.Missing) == 1 && e.Missing[0][0] == e.Missing[0][1]
}

// Ranges formats Missing as "1-3, 7".
func (e *IncompleteLogError) Ranges() string { return formatRanges(e.Missing) }

// CheckLog returns an error unless the write-ahead log of the store at
// path has every segment from the first to the last. A writable Open needs
// them all to rebuild a damaged bbolt file. The error is an
// *IncompleteLogError when segments are missing or the log has none.
// CheckLog only reads the log's directory.
func CheckLog(path string) error {
	return checkLogComplete(path + ".wal")
}

// checkLogComplete returns an error unless the log in dir has every
// segment from the first to the last, and so every op the store logged:
// msgsys never removes segments.
func checkLogComplete(dir string) error {
	segs, err := walSegments(dir)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(segs) == 0 {
		return &IncompleteLogError{}
	}
	if err != nil {
		return err
	}
	if missing := missingSegments(segs); len(missing) > 0 {
		return &IncompleteLogError{Missing: missing}
	}
	return nil
}

// missingSegments returns the numbers from 1 to the last of segs, sorted
// ascending, that segs lacks, as ranges of [first, last].
func missingSegments(segs []uint64) [][2]uint64 {
	var missing [][2]uint64
	next := uint64(1)
	for _, seg := range segs {
		if seg > next {
			missing = append(missing, [2]uint64{next, seg - 1})
		}
		next = seg + 1
	}
	return missing
}

// formatRanges writes ranges as "1-3, 7".
func formatRanges(ranges [][2]uint64) string {
	parts := make([]string, len(ranges))
	for i, r := range ranges {
		parts[i] = fmt.Sprint(r[0])
		if r[1] != r[0] {
			parts[i] += fmt.Sprintf("-%d", r[1])
		}
	}
	return strings.Join(parts, ", ")
}

// unusedName returns path.damaged-TIME, with the time now in UTC, or that
// name with a counter after it when a file already has it.
func unusedName(path string, now time.Time) (string, error) {
	base := path + ".damaged-" + now.UTC().Format("20060102T150405Z")
	name := base
	for i := 2; ; i++ {
		_, err := os.Lstat(name)
		if errors.Is(err, os.ErrNotExist) {
			return name, nil
		}
		if err != nil {
			return "", err
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}
