package client

import (
	"strings"
	"unicode/utf8"
)

// keyCode is the editing action of a key press.
type keyCode int

const (
	keyIgnored     keyCode = iota // an unknown or unused key, or a byte that is not UTF-8
	keyRune                       // a printable character, in key.r
	keyEnter                      // Enter: CR or LF
	keyBackspace                  // Backspace or Ctrl-H
	keyDelete                     // Delete
	keyLeft                       // Left or Ctrl-B
	keyRight                      // Right or Ctrl-F
	keyWordLeft                   // Alt-Left, Ctrl-Left or Alt-B
	keyWordRight                  // Alt-Right, Ctrl-Right or Alt-F
	keyHome                       // Home or Ctrl-A
	keyEnd                        // End or Ctrl-E
	keyUp                         // Up or Ctrl-P: the previous history entry
	keyDown                       // Down or Ctrl-N: the next history entry
	keyKillToEnd                  // Ctrl-K
	keyKillToStart                // Ctrl-U
	keyDeleteWord                 // Ctrl-W or Alt-Backspace
	keyTranspose                  // Ctrl-T
	keyClearScreen                // Ctrl-L
	keyInterrupt                  // Ctrl-C
	keyEndOfInput                 // Ctrl-D
)

// key is one key press read from a terminal in raw mode.
type key struct {
	code keyCode
	r    rune // the character typed, for keyRune
}

// controlKeys maps the control bytes the editor reads to their keys. The
// other control bytes are ignored, and decodeKey turns a tab into a space.
var controlKeys = map[byte]keyCode{
	0x01: keyHome,
	0x02: keyLeft,
	0x03: keyInterrupt,
	0x04: keyEndOfInput,
	0x05: keyEnd,
	0x06: keyRight,
	0x08: keyBackspace,
	0x0a: keyEnter,
	0x0b: keyKillToEnd,
	0x0c: keyClearScreen,
	0x0d: keyEnter,
	0x0e: keyDown,
	0x10: keyUp,
	0x14: keyTranspose,
	0x15: keyKillToStart,
	0x17: keyDeleteWord,
	0x7f: keyBackspace,
}

// decodeKey decodes the key press at the start of b and returns it with
// the number of bytes it took. It returns n == 0 when b holds only the
// start of a key press, so the caller reads more input first.
func decodeKey(b []byte) (k key, n int) {
	if len(b) == 0 {
		return key{}, 0
	}
	switch c := b[0]; {
	case c == 0x1b:
		return decodeEscape(b)
	case c == '\t':
		// A typed or pasted tab separates words like a space. The editor
		// measures every character's width on screen, and a tab's width
		// depends on its column, so it inserts a space in its place.
		return key{code: keyRune, r: ' '}, 1
	case c < 0x20 || c == 0x7f:
		return key{code: controlKeys[c]}, 1
	}
	if !utf8.FullRune(b) {
		return key{}, 0
	}
	r, size := utf8.DecodeRune(b)
	if (r == utf8.RuneError && size == 1) || (r >= 0x80 && r <= 0x9f) {
		// Invalid UTF-8 and C1 control characters are dropped.
		return key{}, size
	}
	return key{code: keyRune, r: r}, size
}

// decodeEscape decodes a key press that starts with ESC: a CSI sequence
// (ESC [), an SS3 sequence (ESC O) or Alt with a key (ESC and the key).
func decodeEscape(b []byte) (key, int) {
	if len(b) < 2 {
		return key{}, 0
	}
	switch b[1] {
	case '[':
		return decodeCSI(b)
	case 'O':
		// Terminals in application cursor mode send ESC O and a letter
		// for the arrows, Home and End.
		if len(b) < 3 {
			return key{}, 0
		}
		return key{code: csiKey(b[2], "")}, 3
	case 'b':
		return key{code: keyWordLeft}, 2
	case 'f':
		return key{code: keyWordRight}, 2
	case 0x7f:
		return key{code: keyDeleteWord}, 2
	case 0x1b:
		// Escape pressed twice: drop the first and decode the second.
		return key{}, 1
	}
	if b[1] < 0x80 {
		return key{}, 2 // Alt with a key the editor does not use
	}
	return key{}, 1
}

// decodeCSI decodes ESC [, parameter bytes, intermediate bytes and a final
// byte (ECMA-48). A sequence cut by a byte that cannot be part of it is
// dropped up to that byte.
func decodeCSI(b []byte) (key, int) {
	i := 2
	for i < len(b) && b[i] >= 0x30 && b[i] <= 0x3f {
		i++
	}
	params := string(b[2:i])
	for i < len(b) && b[i] >= 0x20 && b[i] <= 0x2f {
		i++
	}
	if i == len(b) {
		return key{}, 0
	}
	final := b[i]
	if final < 0x40 || final > 0x7e {
		return key{}, i
	}
	return key{code: csiKey(final, params)}, i + 1
}

// csiKey returns the key of a CSI or SS3 sequence with this final byte
// and these parameters. Home and End come in four forms. xterm sends
// ESC [ H and ESC [ F, and application cursor mode ESC O H and ESC O F. The
// Linux console, screen and tmux send ESC [ 1 ~ and ESC [ 4 ~, and rxvt
// ESC [ 7 ~ and ESC [ 8 ~. Modifier 3 (Alt) or 5 (Ctrl) on Left or Right
// moves by words.
func csiKey(final byte, params string) keyCode {
	if final == '~' {
		switch params {
		case "1", "7":
			return keyHome
		case "4", "8":
			return keyEnd
		case "3":
			return keyDelete
		}
		return keyIgnored // Insert, Page Up and Down, function keys, paste markers
	}
	modifier := ""
	if rest, ok := strings.CutPrefix(params, "1;"); ok {
		modifier = rest
	} else if params != "" {
		return keyIgnored
	}
	wordMove := modifier == "3" || modifier == "5"
	switch final {
	case 'A':
		return keyUp
	case 'B':
		return keyDown
	case 'C':
		if wordMove {
			return keyWordRight
		}
		return keyRight
	case 'D':
		if wordMove {
			return keyWordLeft
		}
		return keyLeft
	case 'H':
		return keyHome
	case 'F':
		return keyEnd
	}
	return keyIgnored
}
