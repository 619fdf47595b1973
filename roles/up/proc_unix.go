//go:build unix && !linux

package up

import (
	"os"
	"syscall"
)

// sysProcAttr puts a child in its own process group, so that a Ctrl-C in
// the terminal reaches only msgsys up, which then stops the children in
// order.
//
// NOTE: outside Linux nothing stops the children if msgsys up itself is
// killed with SIGKILL.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// terminate sends SIGTERM, so the child stops cleanly.
func terminate(p *os.Process) error {
	return p.Signal(syscall.SIGTERM)
}
