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

// datasync syncs f with fsync, as fdatasync is Linux's.
func datasync(f *os.File) error {
	return f.Sync()
}
