package client

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"sync"

	"msgsys/proto"
)

const (
	// defaultWidth is the width assumed for a terminal that did not
	// report its size.
	defaultWidth = 80
	// maxLineRunes bounds the edited line, so a runaway paste cannot grow
	// it without limit. Every text of at most proto.MaxTextBytes fits,
	// because a character takes at least one byte, and so does a command
	// such as "/msg NAME " before it. The client rejects a text over
	// proto.MaxTextBytes before sending it, and a line cut at this bound
	// too (see errLineCut).
	maxLineRunes = proto.MaxTextBytes + maxCommandRunes
	// maxCommandRunes is the room left in a line for a command and a
	// name before the text: "/post " and a 32-character channel name
	// take 38.
	maxCommandRunes = 64
	// historySize is the number of sent lines that Up and Down recall.
	historySize = 100
)

// errLineCut is returned by ReadLine, with the line that was kept, when
// characters typed past maxLineRunes were dropped from it.
var errLineCut = errors.New("client: line cut at the editor's limit")

// lineEditor reads lines from a terminal in raw mode and draws the prompt
// and the line being typed, wrapped at the terminal's width. Write prints
// output above that line and draws it again below. Columns are counted per
// grapheme cluster (see linelayout.go), so wide and zero-width characters
// keep the cursor where the terminal draws it.
type lineEditor struct {
	in      io.Reader // read only by ReadLine, outside mu
	readBuf []byte

	mu     sync.Mutex // guards the fields below and orders writes to out
	out    io.Writer
	outBuf []byte // output of the current step, written by flush
	width  int
	prompt string

	line    []rune
	pos     int  // the cursor, as an index into line
	reading bool // ReadLine runs, so the prompt and line are on screen
	stopped bool // Stop was called: ReadLine returns io.EOF and draws nothing

	// cursor is the terminal's cursor position, and rowWidths the
	// columns used on each row of the last drawing, both relative to the
	// prompt's first character.
	cursor    cell
	rowWidths []int

	history      []string // sent lines, oldest first
	historyIndex int      // the entry shown, counted back from the newest; -1 while none is
	pending      string   // the line being typed before Up showed history

	input   []byte // bytes read but not yet decoded
	readErr error  // the error of the last read, returned once input is used up
	skipLF  bool   // the last key was a CR, so a LF right after it is part of the same Enter
	// dropped is set when a typed character did not fit in the line, so
	// that the terminal's bell signals the loss after the read.
	dropped bool
	// overflowed is set while the characters typed since the line filled
	// up are dropped, so that a long paste rings the bell once and not
	// once per read.
	overflowed bool
	// cut is set when the line shown lost characters to the limit, so
	// that Enter returns errLineCut with it. pendingCut is the same for
	// pending.
	cut        bool
	pendingCut bool
}

// newEditor returns a line editor reading keys from in and drawing on out,
// width columns wide.
func newEditor(in io.Reader, out io.Writer, width int) *lineEditor {
	if width <= 0 {
		width = defaultWidth
	}
	return &lineEditor{
		in:           in,
		readBuf:      make([]byte, 256),
		out:          out,
		width:        width,
		historyIndex: -1,
	}
}

// SetPrompt sets the prompt of the next ReadLine.
func (e *lineEditor) SetPrompt(prompt string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.prompt = prompt
}

// ReadLine shows the prompt and returns the line typed up to Enter. It
// returns errLineCut with the line when characters typed past
// maxLineRunes were dropped from it, io.EOF for Ctrl-C, for Ctrl-D on an empty line and at the end
// of input, and the reader's error for a failed read. Text typed but not
// entered then stays on screen, with the cursor after it.
func (e *lineEditor) ReadLine() (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return "", io.EOF
	}
	e.reading = true
	defer func() { e.reading = false }()
	e.draw()
	e.flush()

	for {
		line, done, err := e.handleInput()
		e.flush()
		if done {
			return line, err
		}
		if e.readErr != nil {
			err, e.readErr = e.readErr, nil
			e.endLine(false)
			e.flush()
			return "", err
		}

		e.mu.Unlock()
		n, err := e.in.Read(e.readBuf)
		e.mu.Lock()
		if e.stopped {
			return "", io.EOF
		}
		e.input = append(e.input, e.readBuf[:n]...)
		e.readErr = err
	}
}

// handleInput applies the keys in e.input and returns done when one of
// them ended the line. A key press cut short stays in e.input until more
// is read, unless the input has ended.
func (e *lineEditor) handleInput() (line string, done bool, err error) {
	changed := false
	for len(e.input) > 0 {
		if e.skipLF && e.input[0] == '\n' {
			e.input = e.input[1:]
			e.skipLF = false
			continue
		}
		k, n := decodeKey(e.input)
		if n == 0 {
			if e.readErr == nil {
				break
			}
			n = len(e.input)
			k = key{}
		}
		e.skipLF = e.input[0] == '\r'
		e.input = e.input[n:]

		switch k.code {
		case keyEnter:
			if changed {
				e.redraw()
			}
			line = string(e.line)
			cut := e.cut
			e.addHistory(line)
			e.endLine(true)
			if cut {
				return line, true, errLineCut
			}
			return line, true, nil
		case keyInterrupt, keyEndOfInput:
			if k.code == keyInterrupt || len(e.line) == 0 {
				if changed {
					e.redraw()
				}
				e.endLine(false)
				return "", true, io.EOF
			}
		}
		if e.edit(k) {
			changed = true
		}
		if len(e.line) == 0 {
			e.cut = false // nothing is left of the line that lost characters
		}
	}
	if changed {
		e.redraw()
	} else {
		e.moveCursor(e.layout().cursorAt(segments(e.line), e.pos))
	}
	if e.dropped {
		e.outBuf = append(e.outBuf, '\a')
		e.dropped = false
	}
	return "", false, nil
}

// edit applies one key that does not end the line to e.line and e.pos.
// It returns true when the line must be drawn again, and false when at
// most the cursor moved.
func (e *lineEditor) edit(k key) bool {
	if k.code == keyRune && len(e.line) >= maxLineRunes {
		e.dropped = e.dropped || !e.overflowed
		e.overflowed = true
		e.cut = true
		return false
	}
	e.overflowed = false

	if k.code == keyRune {
		// Typing leaves the line unsegmented, which a long paste would
		// otherwise do once per character. draw moves a cursor left
		// inside a cluster to the cluster's end.
		e.line = slices.Insert(e.line, e.pos, k.r)
		e.pos++
		return true
	}

	// Keys that need no clusters come first, so that a key the editor
	// ignores, such as a held Tab, costs nothing on a long line.
	switch k.code {
	case keyHome:
		e.pos = 0
		return false
	case keyEnd:
		e.pos = len(e.line)
		return false
	case keyKillToEnd:
		e.line = e.line[:e.pos]
		return true
	case keyKillToStart:
		e.deleteRange(0, e.pos)
		return true
	case keyUp:
		e.recallOlder()
		return true
	case keyDown:
		e.recallNewer()
		return true
	case keyClearScreen:
		e.outBuf = append(e.outBuf, "\x1b[2J\x1b[H"...)
		e.cursor = cell{}
		e.rowWidths = nil
		return true
	case keyBackspace, keyDelete, keyEndOfInput, keyLeft, keyRight, keyWordLeft, keyWordRight, keyDeleteWord, keyTranspose:
	default:
		return false
	}

	segs := segments(e.line)
	switch k.code {
	case keyBackspace:
		e.deleteRange(boundaryBefore(segs, e.pos), e.pos)
	case keyDelete, keyEndOfInput:
		e.deleteRange(e.pos, boundaryAfter(segs, e.pos))
	case keyLeft:
		e.pos = boundaryBefore(segs, e.pos)
		return false
	case keyRight:
		e.pos = boundaryAfter(segs, e.pos)
		return false
	case keyWordLeft:
		e.pos = wordLeft(e.line, segs, e.pos)
		return false
	case keyWordRight:
		e.pos = wordRight(e.line, segs, e.pos)
		return false
	case keyDeleteWord:
		e.deleteRange(wordLeft(e.line, segs, e.pos), e.pos)
	case keyTranspose:
		e.transpose(segs)
	}
	return true
}

// deleteRange removes line[from:to] and leaves the cursor at from.
func (e *lineEditor) deleteRange(from, to int) {
	e.line = slices.Delete(e.line, from, to)
	e.pos = from
}

// transpose swaps the two clusters around the cursor, or the last two at
// the end of the line, and moves the cursor after them.
func (e *lineEditor) transpose(segs []segment) {
	i := clusterIndex(segs, e.pos)
	if len(segs) < 2 || i == 0 {
		return
	}
	if i == len(segs) {
		i--
	}
	first, second := segs[i-1], segs[i]
	swapped := slices.Concat(e.line[second.start:second.end], e.line[first.start:first.end])
	copy(e.line[first.start:], swapped)
	e.pos = second.end
}

// addHistory stores a sent line for Up and Down. Empty lines are not
// stored.
func (e *lineEditor) addHistory(line string) {
	e.historyIndex = -1
	if line == "" {
		return
	}
	if len(e.history) == historySize {
		e.history = slices.Delete(e.history, 0, 1)
	}
	e.history = append(e.history, line)
}

// recallOlder shows the history entry before the one shown, keeping the
// line being typed for recallNewer.
func (e *lineEditor) recallOlder() {
	if e.historyIndex+1 >= len(e.history) {
		return
	}
	if e.historyIndex == -1 {
		e.pending, e.pendingCut = string(e.line), e.cut
	}
	e.historyIndex++
	e.showHistory(e.history[len(e.history)-1-e.historyIndex])
}

// recallNewer shows the history entry after the one shown, and after the
// newest the line that was being typed.
func (e *lineEditor) recallNewer() {
	switch e.historyIndex {
	case -1:
		return
	case 0:
		e.historyIndex = -1
		e.showHistory(e.pending)
		e.cut = e.pendingCut
	default:
		e.historyIndex--
		e.showHistory(e.history[len(e.history)-1-e.historyIndex])
	}
}

func (e *lineEditor) showHistory(entry string) {
	e.line = []rune(entry)
	e.pos = len(e.line)
	e.cut = false
}

// endLine moves the cursor after the drawn line and empties the line. With
// newline it also starts a new row for the output that follows. Without
// it, that output is expected to start with one.
func (e *lineEditor) endLine(newline bool) {
	l := e.layout()
	e.moveCursor(l.end)
	if newline && (l.end.col > 0 || l.end.row == 0) {
		e.outBuf = append(e.outBuf, "\r\n"...)
	}
	e.line, e.pos = nil, 0
	e.cursor, e.rowWidths = cell{}, nil
	if e.dropped {
		e.outBuf = append(e.outBuf, '\a')
		e.dropped = false
	}
	e.overflowed, e.cut = false, false
}

// Stop ends editing for good. The prompt and any text typed stay on
// screen with the cursor after them, as after Ctrl-C, and a ReadLine
// waiting for keys returns io.EOF without drawing again. Stop reports
// whether a line was on screen, in which case the output that follows
// must start with a line break.
func (e *lineEditor) Stop() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return false
	}
	e.stopped = true
	if !e.reading {
		return false
	}
	e.endLine(false)
	_ = e.flush() // a failed write has nowhere to be reported
	return true
}

// Write prints p above the prompt and the line being typed, which are
// drawn again below it. Outside ReadLine it prints p as it is. Each "\n"
// in p is written as "\r\n", because a terminal in raw mode does not
// return the carriage at a line feed.
func (e *lineEditor) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.reading {
		e.clear()
	}
	e.outBuf = append(e.outBuf, bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))...)
	if e.reading {
		if len(p) > 0 && p[len(p)-1] != '\n' {
			e.outBuf = append(e.outBuf, "\r\n"...)
		}
		e.draw()
	}
	if err := e.flush(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// SetSize sets the terminal's width and draws the line again for it.
//
// NOTE: the cursor's row after the terminal narrows is a guess. The
// editor assumes that the terminal split each row wider than the new
// width into several, as terminals that rewrap their content do (tmux
// 3.3a, checked by hand). A terminal that cuts rows instead is left with
// the line drawn some rows too high, over the output above it.
func (e *lineEditor) SetSize(width int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if width <= 0 {
		width = defaultWidth
	}
	old := e.width
	e.width = width
	if !e.reading || width == old {
		return
	}
	if width < old && e.cursor.row < len(e.rowWidths) {
		row := 0
		for _, w := range e.rowWidths[:e.cursor.row] {
			row += rowsAfterRewrap(w, width)
		}
		last := rowsAfterRewrap(e.rowWidths[e.cursor.row], width) - 1
		e.cursor = cell{row + min(e.cursor.col/width, last), min(e.cursor.col%width, width-1)}
	}
	e.redraw()
	e.flush()
}

// Width returns the terminal's width in columns.
func (e *lineEditor) Width() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.width
}

// rowsAfterRewrap returns the rows that a row of used columns takes once
// a terminal rewraps it at width.
func rowsAfterRewrap(used, width int) int {
	return max(1, (used+width-1)/width)
}

// layout lays out the prompt and the line at the current width.
func (e *lineEditor) layout() layout {
	return layOut(e.prompt, e.line, segments(e.line), e.width)
}

// redraw clears the prompt and the line and draws them again.
func (e *lineEditor) redraw() {
	e.clear()
	e.draw()
}

// clear moves the cursor to the prompt's first character and erases from
// there to the end of the screen (ED 0).
func (e *lineEditor) clear() {
	e.outBuf = appendCSI(e.outBuf, e.cursor.row, 'A')
	e.outBuf = append(e.outBuf, "\r\x1b[J"...)
	e.cursor, e.rowWidths = cell{}, nil
}

// draw writes the prompt and the line from the cursor, which is at the
// start of a row, and moves the cursor to e.pos. A cursor left inside a
// cluster by typing a combining character moves to the cluster's end.
func (e *lineEditor) draw() {
	segs := segments(e.line)
	if e.pos > 0 {
		e.pos = boundaryAfter(segs, e.pos-1)
	}
	l := layOut(e.prompt, e.line, segs, e.width)
	e.outBuf = append(e.outBuf, l.text...)
	e.cursor, e.rowWidths = l.end, l.rowWidths
	e.moveCursor(l.cursorAt(segs, e.pos))
}

// moveCursor moves the terminal's cursor to c.
func (e *lineEditor) moveCursor(c cell) {
	e.outBuf = appendMove(e.outBuf, e.cursor, c)
	e.cursor = c
}

// flush writes the output queued by the current step.
func (e *lineEditor) flush() error {
	if len(e.outBuf) == 0 {
		return nil
	}
	_, err := e.out.Write(e.outBuf)
	e.outBuf = e.outBuf[:0]
	return err
}
