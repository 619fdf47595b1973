//go:build !unix

package client

import "context"

// followResize does nothing where there is no SIGWINCH.
func followResize(ctx context.Context, c *Client) {}
