package client

import (
	"bytes"
	"io"
)

// keyAliases maps the Home and End sequences of terminals that x/term does
// not read to the ones it does (ESC [ H and ESC [ F). Terminals in
// application cursor mode send ESC O H and ESC O F. The Linux console,
// screen and tmux send ESC [ 1 ~ and ESC [ 4 ~, and rxvt ESC [ 7 ~ and
// ESC [ 8 ~. x/term would otherwise drop them, so Home and End did nothing.
var keyAliases = []struct{ from, to []byte }{
	{[]byte("\x1bOH"), []byte("\x1b[H")},
	{[]byte("\x1bOF"), []byte("\x1b[F")},
	{[]byte("\x1b[1~"), []byte("\x1b[H")},
	{[]byte("\x1b[7~"), []byte("\x1b[H")},
	{[]byte("\x1b[4~"), []byte("\x1b[F")},
	{[]byte("\x1b[8~"), []byte("\x1b[F")},
}

// keyReader rewrites keyAliases in what a terminal sends. A sequence split
// between two reads is left as it is, so that key press does nothing.
type keyReader struct {
	in io.Reader
}

// Read rewrites in place, which fits because no alias is shorter than its
// replacement.
func (r keyReader) Read(p []byte) (int, error) {
	n, err := r.in.Read(p)
	if bytes.IndexByte(p[:n], 0x1b) >= 0 {
		n = copy(p, rewriteKeys(p[:n]))
	}
	return n, err
}

// rewriteKeys returns a copy of b with every alias replaced.
func rewriteKeys(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		replaced := false
		if b[i] == 0x1b {
			for _, alias := range keyAliases {
				if bytes.HasPrefix(b[i:], alias.from) {
					out = append(out, alias.to...)
					i += len(alias.from)
					replaced = true
					break
				}
			}
		}
		if !replaced {
			out = append(out, b[i])
			i++
		}
	}
	return out
}
