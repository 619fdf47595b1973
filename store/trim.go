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
// trim, whichever comes first. The count is low because a history page or
// a catch-up batch reads pages all over the file. A timer trims
// once more trimInterval after the last touch, so a store that goes idle
// does not keep its last pages.
const (
	trimInterval = 100 * time.Millisecond
	trimRecords  = 1000
)

// touch counts records read or written since the last trim, and arms the
// trim of an idle store.
func (s *Store) touch(records int) {
	if records <= 0 || s.trimOff.Load() {
		return
	}
	s.touched.Add(int64(records))

	s.trimMu.Lock()
	defer s.trimMu.Unlock()
	if s.closed || s.trimTimer != nil {
		return
	}
	s.trimTimer = time.AfterFunc(trimInterval, s.trimIdle)
}

// trimIdle runs on the timer that touch arms.
func (s *Store) trimIdle() {
	s.trimMu.Lock()
	s.trimTimer = nil
	closed := s.closed
	s.trimMu.Unlock()
	if closed || s.trimOff.Load() || s.touched.Load() == 0 {
		return
	}
	_ = s.db.View(func(tx *bolt.Tx) error { // a failed read only skips a trim
		s.trimNow(tx)
		return nil
	})
}

// stopTrims disarms the idle trim before the file closes.
func (s *Store) stopTrims() {
	s.trimMu.Lock()
	defer s.trimMu.Unlock()
	s.closed = true
	if s.trimTimer != nil {
		s.trimTimer.Stop()
		s.trimTimer = nil
	}
	if s.settleTimer != nil {
		s.settleTimer.Stop()
		s.settleTimer = nil
	}
	if s.idleTimer != nil {
		s.idleTimer.Stop()
		s.idleTimer = nil
	}
}

// trimDue reports whether a trim is due.
func (s *Store) trimDue() bool {
	if s.trimOff.Load() {
		return false
	}
	return s.touched.Load() >= trimRecords || time.Now().UnixNano()-s.lastTrim.Load() >= int64(trimInterval)
}

// trim unmaps the touched pages if a trim is due and no other caller claimed
// it. tx is a read transaction of the caller: a trim must not open its own
// while the caller holds one, because bbolt would deadlock if a commit
// waited between the two.
func (s *Store) trim(tx *bolt.Tx) {
	if !s.trimDue() {
		return
	}
	last := s.lastTrim.Load()
	if s.lastTrim.CompareAndSwap(last, time.Now().UnixNano()) {
		s.unmap(tx)
	}
}

// trimNow unmaps the touched pages whether or not a trim is due.
func (s *Store) trimNow(tx *bolt.Tx) {
	s.lastTrim.Store(time.Now().UnixNano())
	s.unmap(tx)
}

func (s *Store) unmap(tx *bolt.Tx) {
	s.touched.Store(0)
	if err := unmapTouchedPages(s.db, tx); err != nil {
		// Trimming only saves memory, so a platform without it runs on
		// without it.
		s.trimOff.Store(true)
	}
}

// trimAfterWrite trims after a commit if a trim is due, in a read
// transaction of its own.
func (s *Store) trimAfterWrite() {
	if !s.trimDue() {
		return
	}
	_ = s.db.View(func(tx *bolt.Tx) error { // a failed read only skips a trim
		s.trim(tx)
		return nil
	})
}
