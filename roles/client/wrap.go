package client

import (
	"strings"

	"github.com/rivo/uniseg"
)

// wrapWords breaks each line of s that is wider than width columns at
// spaces, so that a terminal width columns wide does not split its words.
// A row after the first is indented to where the line's description
// starts, after a label that ends with two or more spaces, as in
// "  /join CANAL        entra no canal", or else as far as the line's
// own indent. A word wider than a row is put on a row of its own, and
// the terminal splits it. A width of 0 or less leaves s as it is.
func wrapWords(s string, width int) string {
	if width <= 0 {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		lines[i] = wrapLine(line, width)
	}
	return strings.Join(lines, "\n")
}

// minWrapColumns is the least room for text beside a label that rows
// after the first are indented to.
const minWrapColumns = 16

// wrapLine breaks one line for wrapWords.
func wrapLine(line string, width int) string {
	if uniseg.StringWidth(line) <= width {
		return line
	}
	label, text := splitLabel(line)
	indent := uniseg.StringWidth(label)
	if indent+minWrapColumns > width {
		// Too little room would be left beside the label, so rows after
		// the first start at the line's own indent.
		indent = len(label) - len(strings.TrimLeft(label, " "))
	}

	var b strings.Builder
	b.WriteString(label)
	used := uniseg.StringWidth(label)
	empty := strings.TrimSpace(label) == "" // nothing but spaces on the row yet
	space := false                          // the next word on the row needs a space before it
	for _, word := range strings.Fields(text) {
		w := uniseg.StringWidth(word)
		gap := 0
		if space {
			gap = 1
		}
		switch {
		case empty:
		case used+gap+w <= width:
			b.WriteString(strings.Repeat(" ", gap))
			used += gap
		default:
			row := strings.TrimRight(b.String(), " ") // the label's trailing spaces
			b.Reset()
			b.WriteString(row)
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(" ", indent))
			used = indent
		}
		b.WriteString(word)
		used += w
		empty, space = false, true
	}
	return b.String()
}

// splitLabel splits a line into the label before its description,
// trailing spaces included, and the description. A line without two
// spaces in a row after its first word has only its indent as label.
func splitLabel(line string) (label, text string) {
	body := strings.TrimLeft(line, " ")
	lead := len(line) - len(body)
	if gap := strings.Index(body, "  "); gap > 0 {
		rest := strings.TrimLeft(body[gap:], " ")
		if rest != "" {
			end := len(line) - len(rest)
			return line[:end], rest
		}
	}
	return line[:lead], body
}
