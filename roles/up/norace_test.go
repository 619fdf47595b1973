//go:build !race

package up

// buildFlags are the extra flags of the msgsys binary's build.
var buildFlags []string
