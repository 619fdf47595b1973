package client

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// screen is a small terminal emulator for the editor tests. It applies
// what the client writes to a grid of cells as a VT100 terminal with
// autowrap does, on a screen with no bottom, and reports the escape
// sequences it does not know. Its character widths come from screenWidth, not from the editor's
// code, so a test compares the editor's column counting with another one.
type screen struct {
	width       int
	rows        [][]string // each cell holds a character with its combining marks
	row, col    int        // the cursor
	pendingWrap bool       // a character was written in the last column
}

// wideTail fills the cell right of a wide character.
const wideTail = "\x00"

// screenWidth returns the columns the screen gives r: 0 for combining
// marks, the zero-width joiner and variation selectors, 2 for CJK
// ideographs and emoji from U+1F300 to U+1FAFF, 1 for the rest.
func screenWidth(r rune) int {
	switch {
	case unicode.Is(unicode.Mn, r), r == 0x200d:
		return 0
	case unicode.Is(unicode.Han, r), r >= 0x1f300 && r <= 0x1faff:
		return 2
	}
	return 1
}

// apply writes out to the screen.
func (s *screen) apply(out string) error {
	for i := 0; i < len(out); {
		switch c := out[i]; {
		case c == '\r':
			s.col, s.pendingWrap = 0, false
			i++
		case c == '\n':
			s.row++
			s.pendingWrap = false
			i++
		case c == 0x1b:
			n, err := s.escape(out[i:])
			if err != nil {
				return err
			}
			i += n
		case c < 0x20:
			return fmt.Errorf("screen: control byte %#x at %d", c, i)
		default:
			r, n := utf8.DecodeRuneInString(out[i:])
			s.put(r)
			i += n
		}
	}
	return nil
}

// escape applies the CSI sequence at the start of out and returns its
// length: cursor moves (CUU, CUD, CUF, CUB, CUP) and erasing (ED, EL).
func (s *screen) escape(out string) (int, error) {
	if len(out) < 3 || out[1] != '[' {
		return 0, fmt.Errorf("screen: unknown escape %q", out[:min(len(out), 8)])
	}
	end := 2
	for end < len(out) && (out[end] >= '0' && out[end] <= '9' || out[end] == ';') {
		end++
	}
	if end == len(out) {
		return 0, fmt.Errorf("screen: unterminated escape %q", out)
	}
	params, final := out[2:end], out[end]
	n := 1
	if params != "" && !strings.Contains(params, ";") {
		n, _ = strconv.Atoi(params)
	}
	s.pendingWrap = false
	switch {
	case final == 'A':
		s.row = max(s.row-n, 0)
	case final == 'B':
		s.row += n
	case final == 'C':
		s.col = min(s.col+n, s.width-1)
	case final == 'D':
		s.col = max(s.col-n, 0)
	case final == 'H' && params == "":
		s.row, s.col = 0, 0
	case final == 'J' && params == "":
		s.rows = s.rows[:min(len(s.rows), s.row+1)]
		s.eraseRight()
	case final == 'J' && params == "2":
		s.rows = nil
	case final == 'K' && params == "":
		s.eraseRight()
	default:
		return 0, fmt.Errorf("screen: unknown escape %q", out[:end+1])
	}
	return end + 1, nil
}

// eraseRight erases the cursor's row from the cursor on.
func (s *screen) eraseRight() {
	if s.row < len(s.rows) && s.col < len(s.rows[s.row]) {
		s.rows[s.row] = s.rows[s.row][:s.col]
	}
}

// put writes r at the cursor. A wide character that does not fit in the
// last column goes to the next row, and a zero-width one joins the
// character before it.
func (s *screen) put(r rune) {
	w := screenWidth(r)
	if w == 0 {
		row, col := s.row, s.col
		if !s.pendingWrap {
			col--
		}
		for col > 0 && s.cell(row, col) == wideTail {
			col--
		}
		s.set(row, max(col, 0), s.cell(row, max(col, 0))+string(r))
		return
	}
	if s.pendingWrap || (w == 2 && s.col == s.width-1) {
		s.row, s.col, s.pendingWrap = s.row+1, 0, false
	}
	s.set(s.row, s.col, string(r))
	if w == 2 {
		s.set(s.row, s.col+1, wideTail)
	}
	s.col += w
	if s.col >= s.width {
		s.col, s.pendingWrap = s.width-1, true
	}
}

func (s *screen) cell(row, col int) string {
	if row < len(s.rows) && col < len(s.rows[row]) {
		return s.rows[row][col]
	}
	return ""
}

func (s *screen) set(row, col int, v string) {
	for len(s.rows) <= row {
		s.rows = append(s.rows, nil)
	}
	for len(s.rows[row]) <= col {
		s.rows[row] = append(s.rows[row], " ")
	}
	s.rows[row][col] = v
}

// resize sets a new width. With rewrap it splits each row wider than that
// into rows of the new width and moves the cursor with its cell, as
// terminals that rewrap their content do. Without, rows stay as they are.
// A wide character that crosses the new width is split in two, so tests
// choose widths where none does.
func (s *screen) resize(width int, rewrap bool) {
	s.width = width
	s.pendingWrap = false
	if !rewrap {
		return
	}
	var rows [][]string
	cursorRow, cursorCol := s.row, s.col
	for i, r := range s.rows {
		pieces := max(1, (len(r)+width-1)/width)
		if i == s.row {
			piece := min(s.col/width, pieces-1)
			cursorRow, cursorCol = len(rows)+piece, min(s.col-piece*width, width-1)
		}
		for p := range pieces {
			rows = append(rows, r[min(p*width, len(r)):min((p+1)*width, len(r))])
		}
	}
	if s.row >= len(s.rows) {
		cursorRow = len(rows) + s.row - len(s.rows)
	}
	s.rows, s.row, s.col = rows, cursorRow, cursorCol
}

// lines returns the screen's rows as text, through the cursor's row, with
// trailing blanks removed.
func (s *screen) lines() []string {
	lines := make([]string, max(len(s.rows), s.row+1))
	for i := range s.rows {
		lines[i] = strings.TrimRight(strings.ReplaceAll(strings.Join(s.rows[i], ""), wideTail, ""), " ")
	}
	return lines
}

// resizeAt is a resize of the screen after the first at bytes of output.
type resizeAt struct {
	at     int
	width  int
	rewrap bool
}

// replay applies the output to a screen width columns wide, resizing it
// at the offsets in resizes.
func replay(out string, width int, resizes ...resizeAt) (*screen, error) {
	s := &screen{width: width}
	done := 0
	for _, r := range resizes {
		if err := s.apply(out[done:r.at]); err != nil {
			return s, err
		}
		s.resize(r.width, r.rewrap)
		done = r.at
	}
	return s, s.apply(out[done:])
}
