//go:build unix

package client

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// followResize passes the terminal's width on to c at every SIGWINCH
// until ctx is done, so that the editor wraps a long typed line where the
// resized window does.
func followResize(ctx context.Context, c *Client) {
	resized := make(chan os.Signal, 1)
	signal.Notify(resized, syscall.SIGWINCH)
	defer signal.Stop(resized)
	for {
		select {
		case <-ctx.Done():
			return
		case <-resized:
			if width, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
				c.resize(width)
			}
		}
	}
}
