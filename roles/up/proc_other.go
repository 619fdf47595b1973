//go:build !unix

package up

import (
	"os"
	"syscall"
)

// sysProcAttr leaves the child in the console's process group.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// terminate stops a child. Without SIGTERM the child cannot stop
// cleanly, so it is killed.
func terminate(p *os.Process) error {
	return p.Kill()
}
