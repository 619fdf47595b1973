package client

import (
	"context"
	"errors"
	"io"
	"os"

	"golang.org/x/term"
)

// On a terminal in raw mode the client edits the line being typed itself,
// with lineEditor. A live message then appears above that line, and the
// prompt and what was typed so far are drawn again below it. In the
// terminal's own line mode, the typed text stayed in the kernel's buffer,
// out of sight after the first live message.

// readEdited reads one line with the editor each time next sends a
// prompt, so the editor shows the prompt the main loop chose. It closes
// lines at the end of input: Ctrl-D on an empty line or Ctrl-C, which
// in raw mode reach the editor as keys instead of as signals.
func (c *Client) readEdited(ctx context.Context, prompts <-chan string, lines chan<- string) {
	defer close(lines)
	for {
		var prompt string
		select {
		case prompt = <-prompts:
		case <-ctx.Done():
			return
		}
		c.editor.SetPrompt(prompt)
		line, err := c.editor.ReadLine()
		if err != nil {
			c.out.stopEditor()
			if !errors.Is(err, io.EOF) {
				c.log.Warn("input read failed", "err", err)
			}
			return
		}
		select {
		case lines <- line:
		case <-ctx.Done():
			return
		}
	}
}

// resize sets the editor's width to the terminal's new one.
func (c *Client) resize(width int) {
	if c.editor != nil && width > 0 {
		c.editor.SetSize(width)
	}
}

// rawTerminal puts the terminal in raw mode when stdin and stdout are both
// one, for the editor. It returns the function that restores the mode and
// the terminal's width, which followResize keeps up to date.
func rawTerminal() (restore func(), width int, ok bool) {
	in, out := int(os.Stdin.Fd()), int(os.Stdout.Fd())
	if !term.IsTerminal(in) || !term.IsTerminal(out) {
		return nil, 0, false
	}
	state, err := term.MakeRaw(in)
	if err != nil {
		return nil, 0, false
	}
	width, _, _ = term.GetSize(out)
	return func() { _ = term.Restore(in, state) }, width, true
}
