//go:build !unix

package server

import "os"

// notifyResume does nothing: without Unix signals a stop cannot be told
// apart from a slow disk.
func notifyResume(chan<- os.Signal) {}
