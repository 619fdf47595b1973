package client

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// The line editor moves and deletes by grapheme cluster (Unicode UAX #29),
// which is what a person reads as one character: "á" typed as "a" and a
// combining acute accent, a flag made of two regional indicators, or an
// emoji with a skin tone or joined by zero-width joiners. Its width in
// columns is uniseg's: 2 for East Asian wide and fullwidth characters and
// for emoji presented as emoji, 0 for combining marks and other
// zero-width characters, 1 for the rest, East Asian ambiguous included.
//
// NOTE: a terminal that gives each code point of an emoji sequence its
// own width, as wcwidth(3) does, draws a joined or skin-toned emoji wider
// than 2 columns, so on such a terminal the cursor lands off on a line
// that holds one. Single emoji, CJK and accented letters, composed or
// not, take the same columns under both rules.

// segment is one grapheme cluster of the edited line.
type segment struct {
	start, end int // rune indexes into the line
	width      int // columns
}

// segments splits line into grapheme clusters.
func segments(line []rune) []segment {
	var segs []segment
	rest := string(line)
	state, start := -1, 0
	for rest != "" {
		var cluster string
		var width int
		cluster, rest, width, state = uniseg.FirstGraphemeClusterInString(rest, state)
		end := start + utf8.RuneCountInString(cluster)
		segs = append(segs, segment{start: start, end: end, width: width})
		start = end
	}
	return segs
}

// clusterIndex returns the number of clusters that end at or before pos.
func clusterIndex(segs []segment, pos int) int {
	i := 0
	for i < len(segs) && segs[i].end <= pos {
		i++
	}
	return i
}

// boundaryBefore returns the start of the cluster before pos, or 0.
func boundaryBefore(segs []segment, pos int) int {
	before := 0
	for _, s := range segs {
		if s.start >= pos {
			break
		}
		before = s.start
	}
	return before
}

// boundaryAfter returns the end of the cluster that contains or starts at
// pos, or pos at the end of the line.
func boundaryAfter(segs []segment, pos int) int {
	for _, s := range segs {
		if s.end > pos {
			return s.end
		}
	}
	return pos
}

// isBlank reports whether cluster i is white space, which separates words.
func isBlank(line []rune, segs []segment, i int) bool {
	return unicode.IsSpace(line[segs[i].start])
}

// wordLeft returns the start of the word before pos, skipping blanks.
func wordLeft(line []rune, segs []segment, pos int) int {
	i := clusterIndex(segs, pos)
	for i > 0 && isBlank(line, segs, i-1) {
		i--
	}
	for i > 0 && !isBlank(line, segs, i-1) {
		i--
	}
	return clusterStart(line, segs, i)
}

// wordRight returns the start of the word after the one at pos.
func wordRight(line []rune, segs []segment, pos int) int {
	i := clusterIndex(segs, pos)
	for i < len(segs) && !isBlank(line, segs, i) {
		i++
	}
	for i < len(segs) && isBlank(line, segs, i) {
		i++
	}
	return clusterStart(line, segs, i)
}

// clusterStart returns where cluster i starts, or the end of the line
// when i is past its last cluster.
func clusterStart(line []rune, segs []segment, i int) int {
	if i >= len(segs) {
		return len(line)
	}
	return segs[i].start
}

// cell is a position on the screen, in rows below and columns right of
// the prompt's first character.
type cell struct {
	row, col int
}

// layout is the prompt and the line laid out on rows of the terminal's
// width, as the editor draws them.
type layout struct {
	text      string // the bytes to write, with "\r\n" ending each full row
	starts    []cell // the first cell of each cluster of the line
	end       cell   // the cursor position after text is written
	rowWidths []int  // columns used on each row
}

// cursorAt returns where the cursor is drawn when it is at pos, which is
// a cluster boundary.
func (l layout) cursorAt(segs []segment, pos int) cell {
	i := clusterIndex(segs, pos)
	if i == len(segs) {
		return l.end
	}
	return l.starts[i]
}

// layOut places prompt and then line on rows width columns wide.
//
// The editor breaks rows itself instead of leaving that to the terminal.
// A cluster that does not fit in what is left of a row starts the next
// one, as terminals do with a wide character in the last column. After a
// row is full the editor writes "\r\n", because a terminal leaves its
// cursor on the last column after writing there, and the next character
// written is what moves it to the next row.
func layOut(prompt string, line []rune, segs []segment, width int) layout {
	var b strings.Builder
	l := layout{rowWidths: []int{0}}
	row, col := 0, 0
	newRow := func() {
		b.WriteString("\r\n")
		row, col = row+1, 0
		l.rowWidths = append(l.rowWidths, 0)
	}
	place := func(cluster string, w int) cell {
		if col > 0 && col+w > width {
			newRow()
		}
		at := cell{row, col}
		b.WriteString(cluster)
		col += w
		l.rowWidths[row] = col
		if col >= width {
			newRow()
		}
		return at
	}

	rest, state := prompt, -1
	for rest != "" {
		var cluster string
		var w int
		cluster, rest, w, state = uniseg.FirstGraphemeClusterInString(rest, state)
		place(cluster, w)
	}
	l.starts = make([]cell, len(segs))
	for i, s := range segs {
		l.starts[i] = place(string(line[s.start:s.end]), s.width)
	}
	l.text = b.String()
	l.end = cell{row, col}
	return l
}

// appendMove appends the escape sequences that move the cursor from one
// cell to another: CUU, CUD, CUF and CUB.
func appendMove(buf []byte, from, to cell) []byte {
	buf = appendCSI(buf, from.row-to.row, 'A')
	buf = appendCSI(buf, to.row-from.row, 'B')
	buf = appendCSI(buf, to.col-from.col, 'C')
	return appendCSI(buf, from.col-to.col, 'D')
}

// appendCSI appends ESC [ n final when n > 0, leaving out n when it is 1.
func appendCSI(buf []byte, n int, final byte) []byte {
	if n <= 0 {
		return buf
	}
	buf = append(buf, "\x1b["...)
	if n > 1 {
		buf = strconv.AppendInt(buf, int64(n), 10)
	}
	return append(buf, final)
}
