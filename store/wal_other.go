//go:build !linux

package store

import (
	"errors"
	"os"
)

// allocate is implemented on Linux only. Appends then grow the file.
func allocate(*os.File, int64, int64) error {
	return errors.ErrUnsupported
}

// datasync syncs f with fsync, as fdatasync is Linux's. Every sync
// blocks, so pace is not used.
func datasync(f *os.File, _ *syncPace, _ bool) error {
	return f.Sync()
}
