package up

import (
	"os"
	"syscall"
)

// sysProcAttr puts a child in its own process group, so that a Ctrl-C in
// the terminal reaches only msgsys up, which then stops the children in
// order. Pdeathsig sends the child SIGTERM if msgsys up dies without
// stopping it, even by SIGKILL.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// terminate sends SIGTERM, so the child stops cleanly.
func terminate(p *os.Process) error {
	return p.Signal(syscall.SIGTERM)
}
