package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"

	"golang.org/x/term"

	"msgsys/proto"
)

// On a terminal in raw mode the client edits the line being typed itself,
// with lineEditor. A live message then appears above that line, and the
// prompt and what was typed so far are drawn again below it. In the
// terminal's own line mode, the typed text stayed in the kernel's buffer,
// out of sight after the first live message.

// readEdited reads one line with the editor each time next sends a
// prompt, so the editor shows the prompt the main loop chose. It closes
// lines at the end of input: Ctrl-D on an empty line or Ctrl-C, which
// in raw mode reach the editor as keys instead of as signals. Keys typed
// while no line is edited, as while a request waits for its reply, are
// kept for the next line, but Ctrl-C among them calls interrupt at once.
// A line cut at the editor's limit is not passed on: a message explains why
// and the same prompt reads another line.
func (c *Client) readEdited(ctx context.Context, interrupt func(), prompts <-chan string, lines chan<- string) {
	defer close(lines)
	chunks := c.keys.chunks
	for {
		var prompt string
		select {
		case prompt = <-prompts:
		case chunk, ok := <-chunks:
			if !ok {
				chunks = nil // the next ReadLine returns the end of input
				continue
			}
			c.keys.keep(chunk)
			if chunk.interrupts() {
				interrupt()
			}
			continue
		case <-ctx.Done():
			return
		}
		c.editor.SetPrompt(prompt)
		line, err := c.editor.ReadLine()
		for errors.Is(err, errLineCut) {
			// The line lost text, so sending what is left would post
			// part of a message as if it were whole.
			c.out.Async(say(c.lang, textLineCut, proto.MaxTextBytes))
			line, err = c.editor.ReadLine()
		}
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

// keyChunk is the result of one read from the terminal.
type keyChunk struct {
	data []byte
	err  error
}

// interrupts reports whether the chunk contains Ctrl-C, the byte 0x03.
// Neither a multi-byte UTF-8 character nor a terminal's escape sequence
// contains that byte, so it needs no decoding of the keys around it.
func (k keyChunk) interrupts() bool {
	return bytes.IndexByte(k.data, 0x03) >= 0
}

// keySource reads the terminal in a goroutine of its own, so that keys
// arrive while no line is edited. It is the editor's reader, and only
// the goroutine running readEdited may call Read and keep.
type keySource struct {
	in     io.Reader
	chunks chan keyChunk

	rest []byte // read but not yet returned by Read
	err  error  // the read error, returned once rest is used up
}

func newKeySource(in io.Reader) *keySource {
	return &keySource{in: in, chunks: make(chan keyChunk)}
}

// Run reads in until it fails or ctx is done, then closes chunks.
//
// NOTE: a read from a terminal cannot be interrupted, so after ctx is
// done Run stays in its read until the next key or the end of input.
func (s *keySource) Run(ctx context.Context) {
	defer close(s.chunks)
	buf := make([]byte, 256)
	for {
		n, err := s.in.Read(buf)
		chunk := keyChunk{data: bytes.Clone(buf[:n]), err: err}
		select {
		case s.chunks <- chunk:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// keep stores a chunk for the next Read.
func (s *keySource) keep(chunk keyChunk) {
	s.rest = append(s.rest, chunk.data...)
	if chunk.err != nil {
		s.err = chunk.err
	}
}

// Read returns the keys kept, or waits for the next chunk. It returns
// io.EOF once Run has ended.
func (s *keySource) Read(p []byte) (int, error) {
	if len(s.rest) == 0 && s.err == nil {
		chunk, ok := <-s.chunks
		if !ok {
			chunk.err = io.EOF
		}
		s.keep(chunk)
	}
	n := copy(p, s.rest)
	s.rest = s.rest[n:]
	if len(s.rest) == 0 && s.err != nil {
		return n, s.err
	}
	return n, nil
}

// width returns the terminal's width in columns for text that the client
// wraps itself, or 0 when it is unknown because no editor runs.
func (c *Client) width() int {
	if c.editor == nil {
		return 0
	}
	return c.editor.Width()
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
