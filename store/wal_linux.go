package store

import (
	"errors"
	"os"
	"syscall"
)

// allocate reserves n bytes of f from off on, growing the file. The new
// bytes read as zeros.
func allocate(f *os.File, off, n int64) error {
	return ignoringEINTR(func() error { return syscall.Fallocate(int(f.Fd()), 0, off, n) })
}

// datasync writes f's data, and the metadata needed to read it back, to
// the disk. It skips the modification time, which fsync would journal too.
func datasync(f *os.File) error {
	return ignoringEINTR(func() error { return syscall.Fdatasync(int(f.Fd())) })
}

func ignoringEINTR(call func() error) error {
	for {
		if err := call(); !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
