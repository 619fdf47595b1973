package client

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"

	"msgsys/lang"
	"msgsys/proto"
)

// Terminal control: return to the line's start and erase it.
const clearLine = "\r\x1b[K"

// printer serialises everything written to the output. The main loop
// prints replies with Line while no prompt is pending; live messages come
// through Async at any time. With an editor, the editor moves the prompt
// and the typed text below the message. On a terminal without one, Async
// erases the pending prompt, prints the message and prints the prompt
// again, and what the person had typed is no longer shown. On a
// pipe, prompts are lines of their own and no escape codes are written.
type printer struct {
	mu       sync.Mutex // guards the fields below and orders writes to out
	out      io.Writer
	terminal bool
	prompt   string // the prompt awaiting input, "" when none

	// editor, when set, draws the prompt and the typed line, and every
	// write goes through it so that it can move them out of the way.
	// raw means the editor has stopped but the terminal is still in raw
	// mode, which does not return the carriage at a line feed.
	editor *lineEditor
	raw    bool

	// closed means Close has printed the last line, and every later
	// output is dropped.
	closed bool

	// The notice shown while the main loop waits for a reply (see
	// waiting.go). waitText is "" when the printer shows none.
	waitText       string
	waitAfter      time.Duration
	waitTimer      *time.Timer // shows the notice; nil while stopped
	waitGeneration uint64      // counts the timer's stops, so that a stale firing shows nothing
	waitShown      bool        // the notice is on the last line of the output
}

func newPrinter(out io.Writer, terminal bool) *printer {
	return &printer{out: out, terminal: terminal}
}

// Line prints one line of the main loop's output.
func (p *printer) Line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.eraseWaitNotice()
	p.write(s + "\n")
	p.busy()
}

// Prompt shows prompt and remembers it until Answered.
func (p *printer) Prompt(prompt string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle()
	p.prompt = prompt
	switch {
	case p.editor != nil:
		// The editor shows the prompt when it reads the line.
	case p.terminal:
		p.write(prompt)
	default:
		p.write(strings.TrimRight(prompt, " ") + "\n")
	}
}

// Answered records that the pending prompt got its line.
func (p *printer) Answered() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prompt = ""
	p.busy()
}

// Async prints a line that did not come from the main loop, keeping the
// prompt, or the notice of a wait for a reply, visible on a terminal.
func (p *printer) Async(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitShown {
		p.write(clearLine + s + "\n" + p.waitText)
		return
	}
	if p.editor == nil && p.terminal && p.prompt != "" {
		p.write(clearLine + s + "\n" + p.prompt)
		return
	}
	p.write(s + "\n")
}

// write sends s to the output. A failed write has nowhere to be reported:
// the output is where reports go.
func (p *printer) write(s string) {
	switch {
	case p.closed:
	case p.editor != nil:
		_, _ = p.editor.Write([]byte(s))
	case p.raw:
		_, _ = io.WriteString(p.out, strings.ReplaceAll(s, "\n", "\r\n"))
	default:
		_, _ = io.WriteString(p.out, s)
	}
}

// stopEditor writes the rest of the output without the editor, below the
// line it last drew. The editor would draw its prompt and any text typed
// but not sent again after every later line, the farewell included.
func (p *printer) stopEditor() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.editor == nil {
		return
	}
	p.editor, p.raw = nil, true
	p.write("\n")
}

// Close prints last, the farewell, as the final line of the output. It
// stops the editor first, so that the prompt is not drawn again below
// last, as it would be after a signal stops the client while the editor
// waits for a line. Output after Close, such as a live message that
// arrives meanwhile, is dropped.
func (p *printer) Close(last string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.idle()
	if p.editor != nil {
		drawn := p.editor.Stop()
		p.editor, p.raw = nil, true
		if drawn {
			p.write("\n")
		}
	}
	p.write(last + "\n")
	p.closed = true
}

// formatMessage renders a message as a person reads it, in local time:
// "[15:04:05] #geral ana: texto" for a post, "[15:04:05] @bob → você:
// texto" for a direct message to self, "[15:04:05] você → @bob: texto" for
// one from self. Names are compared as proto.FoldName keys, because a user
// may log in as "ANA" while the server writes the name as first
// registered, such as "ana".
func formatMessage(l, self string, m Message) string {
	stamp := m.Time.Local().Format("15:04:05")
	// Continuation lines are indented, so a message with line breaks
	// cannot pass one of its lines off as another person's message.
	text := strings.ReplaceAll(printable(m.Text), "\n", "\n"+continuationIndent)
	switch {
	case !m.Direct():
		return fmt.Sprintf("[%s] #%s %s: %s", stamp, printable(m.Channel), printable(m.From), text)
	case self != "" && proto.FoldName(m.From) == proto.FoldName(self):
		return fmt.Sprintf("[%s] %s → @%s: %s", stamp, textYou.In(l), printable(m.To), text)
	default:
		return fmt.Sprintf("[%s] @%s → %s: %s", stamp, printable(m.From), textYou.In(l), text)
	}
}

// continuationIndent starts each further line of a multi-line message.
const continuationIndent = "           | "

// printable replaces control characters other than newline and tab, so a
// message cannot send escape sequences to the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return unicode.ReplacementChar
		}
		return r
	}, s)
}

// say returns text t in language l, formatted with args.
func say(l string, t lang.Text, args ...any) string {
	if len(args) == 0 {
		return t.In(l)
	}
	return fmt.Sprintf(t.In(l), args...)
}
