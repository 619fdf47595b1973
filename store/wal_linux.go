package store

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// allocate reserves n bytes of f from off on, growing the file. The new
// bytes read as zeros.
func allocate(f *os.File, off, n int64) error {
	return ignoringEINTR(func() error { return syscall.Fallocate(int(f.Fd()), 0, off, n) })
}

// datasync writes f's data, and the metadata needed to read it back, to
// the disk. It skips the modification time, which fsync would journal too.
// While mayKeep is set and pace allows it, the call keeps the goroutine's
// processor, because RawSyscall does not tell the scheduler that it
// blocks.
func datasync(f *os.File, pace *syncPace, mayKeep bool) error {
	fd := f.Fd()
	return ignoringEINTR(func() error {
		start := time.Now()
		sync, keepsProcessor := blockingSync, false
		if pace.keep(start) && mayKeep {
			sync, keepsProcessor = keptSync, true
		}
		err := sync(fd)
		pace.observe(start, time.Since(start), keepsProcessor)
		return err
	})
}

// keptSync and blockingSync are datasync's two calls, variables so that
// tests can slow them down.
var (
	keptSync = func(fd uintptr) error {
		if _, _, errno := syscall.RawSyscall(syscall.SYS_FDATASYNC, fd, 0, 0); errno != 0 {
			return errno
		}
		return nil
	}
	blockingSync = func(fd uintptr) error { return syscall.Fdatasync(int(fd)) }
)

func ignoringEINTR(call func() error) error {
	for {
		if err := call(); !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
