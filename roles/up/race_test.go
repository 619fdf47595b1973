//go:build race

package up

// buildFlags build the msgsys binary with the race detector when the tests
// run with it, so that msgsys up and its children are checked too.
var buildFlags = []string{"-race"}
