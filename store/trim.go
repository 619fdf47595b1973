package store

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// Limits between two trims of bbolt's memory map.
//
// bbolt reads the file through a memory map, and every page a transaction
// reads stays mapped, and counted in the server's resident memory, until
// bbolt remaps the file. Copy-on-write commits move pages around the file,
// so a busy server would end up with most of a large file mapped. Apply and
// the long reads therefore unmap the touched pages once trimInterval has
// passed or trimRecords log records were read or written since the last
// trim, whichever comes first.
const (
	trimInterval = 100 * time.Millisecond
	trimRecords  = 10_000
)

// touch counts records read or written since the last trim.
func (s *Store) touch(records int) {
	s.touched.Add(int64(records))
}

// trimDue reports whether a trim is due.
func (s *Store) trimDue() bool {
	if s.trimOff.Load() {
		return false
	}
	return s.touched.Load() >= trimRecords || time.Now().UnixNano()-s.lastTrim.Load() >= int64(trimInterval)
}

// claimTrim reports whether a trim is due and, if so, claims it, so only
// one of several concurrent callers trims.
func (s *Store) claimTrim() bool {
	if !s.trimDue() {
		return false
	}
	last := s.lastTrim.Load()
	if !s.lastTrim.CompareAndSwap(last, time.Now().UnixNano()) {
		return false
	}
	s.touched.Store(0)
	return true
}

// trim unmaps the touched pages if a trim is due. tx is a read transaction
// of the caller: a trim must not open its own while the caller holds one,
// because bbolt would deadlock if a commit waited between the two.
func (s *Store) trim(tx *bolt.Tx) {
	if !s.claimTrim() {
		return
	}
	if err := unmapTouchedPages(s.db, tx); err != nil {
		// Trimming only saves memory, so a platform without it runs on
		// without it.
		s.trimOff.Store(true)
	}
}

// trimAfterWrite trims after a commit, in a read transaction of its own.
func (s *Store) trimAfterWrite() {
	if !s.trimDue() {
		return
	}
	_ = s.db.View(func(tx *bolt.Tx) error { // a failed read here only skips a trim
		s.trim(tx)
		return nil
	})
}
