//go:build !linux

package bench

import (
	"errors"
	"syscall"
)

// sysProcAttr leaves the child in the bench's process group.
//
// NOTE: outside Linux nothing stops the children if the bench itself is
// killed with SIGKILL.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// residentBytes needs /proc, which only Linux has.
func residentBytes(pid int) (int64, error) {
	return 0, errors.New("bench: resident memory is read from /proc, which needs Linux")
}
