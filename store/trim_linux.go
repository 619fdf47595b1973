//go:build linux

package store

import (
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// unmapTouchedPages drops the process's page table entries for the used
// part of bbolt's memory map, with madvise(MADV_DONTNEED). On a shared file
// mapping that discards no data: the pages stay in the kernel's page cache,
// and the next read of a page maps it again with a minor fault. The caller's
// read transaction keeps bbolt from remapping the file meanwhile.
func unmapTouchedPages(db *bolt.DB, tx *bolt.Tx) error {
	size := tx.Size()
	if size <= 0 {
		return nil
	}
	_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, db.Info().Data, uintptr(size), syscall.MADV_DONTNEED)
	if errno != 0 {
		return errno
	}
	return nil
}
