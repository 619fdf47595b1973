package up

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
)

// maxLineBytes bounds a buffered partial line. A child that writes more
// without a newline has the text printed as a line of its own.
const maxLineBytes = 64 << 10

// ANSI colours of the tags, one per process in turn.
var tagColors = []string{"36", "33", "32", "35", "34", "31", "96", "93", "92", "95", "94", "91"}

// output merges the lines of every process into one writer, each line
// preceded by its process's tag, such as "server-1  | ".
type output struct {
	mu    sync.Mutex // serialises writes to w, so lines never interleave
	w     io.Writer
	width int  // width the tags are padded to
	color bool // colour the tags with ANSI escapes
}

func newOutput(w io.Writer, width int, color bool) *output {
	return &output{w: w, width: width, color: color}
}

// prefix renders the tag of process name, coloured with the index'th
// colour when colours are on.
func (o *output) prefix(name string, index int) []byte {
	tag := fmt.Sprintf("%-*s | ", o.width, name)
	if o.color {
		tag = "\x1b[" + tagColors[index%len(tagColors)] + "m" + tag + "\x1b[0m"
	}
	return []byte(tag)
}

// writeLine writes one line, which ends in a newline, after prefix.
func (o *output) writeLine(prefix, line []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	// A failed write to the terminal or pipe cannot be reported anywhere
	// else, so it is dropped.
	_, _ = o.w.Write(append(prefix[:len(prefix):len(prefix)], line...))
}

// writeText writes text without a tag, such as the instructions printed
// once the cluster is ready.
func (o *output) writeText(text string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = io.WriteString(o.w, text)
}

// lineWriter is the io.Writer of one stream of one process: it buffers a
// partial line until its newline arrives, then writes it tagged.
type lineWriter struct {
	out    *output
	prefix []byte

	mu   sync.Mutex // guards buf and last, because a logger may write from several goroutines
	buf  []byte
	last string // the last line written, without its newline
}

func (o *output) writer(name string, index int) *lineWriter {
	return &lineWriter{out: o, prefix: o.prefix(name, index)}
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	start := 0
	for {
		i := bytes.IndexByte(l.buf[start:], '\n')
		if i < 0 {
			break
		}
		l.out.writeLine(l.prefix, l.buf[start:start+i+1])
		l.last = string(l.buf[start : start+i])
		start += i + 1
	}
	rest := l.buf[start:]
	if len(rest) >= maxLineBytes {
		l.out.writeLine(l.prefix, append(rest, '\n'))
		rest = rest[:0]
	}
	l.buf = append(l.buf[:0], rest...)
	return len(p), nil
}

// Flush writes a last line that lacks its newline.
func (l *lineWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.out.writeLine(l.prefix, append(l.buf, '\n'))
		l.last = string(l.buf)
		l.buf = l.buf[:0]
	}
}

// LastLine returns the last whole line written, without its newline, or
// "" before the first. A line ends at a newline or at Flush.
func (l *lineWriter) LastLine() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// tagWidth is the width that fits every name.
func tagWidth(names []string) int {
	width := 0
	for _, name := range names {
		width = max(width, len(name))
	}
	return width
}

// indent prefixes every line of text with spaces, for the commands in the
// instructions.
func indent(lines ...string) string {
	var b strings.Builder
	for _, line := range lines {
		b.WriteString("    ")
		b.WriteString(line)
		b.WriteString("\n")
	}
	return b.String()
}
