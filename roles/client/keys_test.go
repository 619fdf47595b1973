package client

import (
	"slices"
	"testing"
)

func TestDecodeKeys(t *testing.T) {
	cases := []struct {
		in   string
		want []keyCode
	}{
		{"a\x1b[4~b", []keyCode{keyRune, keyEnd, keyRune}},
		{"\x1bOH\x1b[8~", []keyCode{keyHome, keyEnd}},
		{"\x1b[1~\x1b[7~\x1b[H\x1b[F", []keyCode{keyHome, keyHome, keyHome, keyEnd}},
		{"\x1b[3~", []keyCode{keyDelete}},
		{"\x1b[D\x1b[1;3D\x1b[1;5C\x1bb\x1bf", []keyCode{keyLeft, keyWordLeft, keyWordRight, keyWordLeft, keyWordRight}},
		{"\x1b[A\x1bOB\x10\x0e", []keyCode{keyUp, keyDown, keyUp, keyDown}},
		{"\x1b[200~x\x1b[201~", []keyCode{keyIgnored, keyRune, keyIgnored}},
		{"\r\n\t\x7f\x08", []keyCode{keyEnter, keyEnter, keyRune, keyBackspace, keyBackspace}},
		{"\x03\x04\x0b\x15\x17\x14\x0c", []keyCode{keyInterrupt, keyEndOfInput, keyKillToEnd, keyKillToStart, keyDeleteWord, keyTranspose, keyClearScreen}},
		{"\xff😀", []keyCode{keyIgnored, keyRune}},
		{"\x1b\x1b[C", []keyCode{keyIgnored, keyRight}},
	}
	for _, c := range cases {
		var got []keyCode
		b := []byte(c.in)
		for len(b) > 0 {
			k, n := decodeKey(b)
			if n == 0 {
				t.Fatalf("decodeKey(%q) needs more input, want a key", b)
			}
			got = append(got, k.code)
			b = b[n:]
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("keys of %q = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestDecodeTabAsSpace(t *testing.T) {
	k, n := decodeKey([]byte("\tx"))
	if k.code != keyRune || k.r != ' ' || n != 1 {
		t.Errorf("decodeKey of a tab = %v after %d bytes, want a space after 1", k, n)
	}
}

// TestDecodeKeysWaitsForRest checks that a key press cut between two
// reads is left for the next read instead of being dropped.
func TestDecodeKeysWaitsForRest(t *testing.T) {
	for _, partial := range []string{"\x1b", "\x1b[", "\x1b[1", "\x1b[1;", "\x1bO", "\xf0\x9f\x98"} {
		if k, n := decodeKey([]byte(partial)); n != 0 {
			t.Errorf("decodeKey(%q) = %v after %d bytes, want a request for more input", partial, k, n)
		}
	}
	k, n := decodeKey([]byte("\xf0\x9f\x98\x80!"))
	if k.code != keyRune || k.r != '😀' || n != 4 {
		t.Errorf("decodeKey of 😀 = %v after %d bytes, want the rune after 4", k, n)
	}
}
