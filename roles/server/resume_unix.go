//go:build unix

package server

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyResume relays to ch the signal a process gets when it continues
// after a stop (SIGSTOP, docker pause).
func notifyResume(ch chan<- os.Signal) { signal.Notify(ch, syscall.SIGCONT) }
