//go:build !unix

package server

import "os"

// notifyResume does nothing: without Unix signals a stop and a slow disk
// look the same.
func notifyResume(chan<- os.Signal) {}
