package client

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"msgsys/proto"
	"msgsys/roles/client/clienttest"
)

// waitScreen waits until the screen drawn by the client's output, on a
// terminal width columns wide and resized at the offsets in resizes, ends
// with the rows want and has its cursor at cursor, counted from the first
// of them.
func (h *harness) waitScreen(width int, resizes []resizeAt, want []string, cursor cell) []string {
	h.t.Helper()
	var lines []string
	var got cell
	var err error
	ok := eventually(func() bool {
		var s *screen
		s, err = replay(h.out.String(), width, resizes...)
		if err != nil {
			return false
		}
		lines = s.lines()
		if len(lines) < len(want) {
			return false
		}
		first := len(lines) - len(want)
		got = cell{s.row - first, s.col}
		return slices.Equal(lines[first:], want) && got == cursor
	})
	if !ok {
		h.t.Fatalf("screen ends with %s with the cursor at %+v, want %s with it at %+v (error %v)",
			quoteRows(lines[max(0, len(lines)-len(want)-2):]), got, quoteRows(want), cursor, err)
	}
	return lines
}

func quoteRows(rows []string) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "\n\t%q", r)
	}
	return b.String()
}

// waitPosts waits until #geral holds exactly the posts want, in order.
func waitPosts(t *testing.T, srv *clienttest.Server, want ...string) {
	t.Helper()
	var got []string
	ok := eventually(func() bool {
		got = got[:0]
		for _, p := range srv.Posts("geral") {
			got = append(got, p.Message)
		}
		return slices.Equal(got, want)
	})
	if !ok {
		t.Fatalf("posts in #geral = %q, want %q", got, want)
	}
}

const (
	keyLeftSeq  = "\x1b[D"
	keyRightSeq = "\x1b[C"
	keyUpSeq    = "\x1b[A"
	keyDownSeq  = "\x1b[B"
)

// TestEditorCursorAfterWideCharacters types a line with an accent written
// as a combining mark and an emoji, moves over the emoji, inserts a letter
// and deletes the emoji. The cursor must stay on the column where the
// terminal draws each character.
func TestEditorCursorAfterWideCharacters(t *testing.T) {
	srv, h := startEditorInGeral(t, 80)

	h.type_("ola\u0301 😀 mundo")
	h.waitScreen(80, nil, []string{"#geral> ola\u0301 😀 mundo"}, cell{0, 20})

	h.type_(strings.Repeat(keyLeftSeq, 7))
	h.waitScreen(80, nil, []string{"#geral> ola\u0301 😀 mundo"}, cell{0, 12})

	h.type_("x")
	h.waitScreen(80, nil, []string{"#geral> ola\u0301 x😀 mundo"}, cell{0, 13})

	h.type_(keyRightSeq)
	h.waitScreen(80, nil, []string{"#geral> ola\u0301 x😀 mundo"}, cell{0, 15})

	h.type_("\x7f")
	h.waitScreen(80, nil, []string{"#geral> ola\u0301 x mundo"}, cell{0, 13})

	h.type_("\r")
	waitPosts(t, srv, "ola\u0301 x mundo")
}

// TestEditorWrapsWideCharacter types a line whose emoji does not fit in
// the last column of a 12-column terminal, so it starts the next row.
// The line is then drawn again for a wider and a narrower terminal.
func TestEditorWrapsWideCharacter(t *testing.T) {
	srv, h := startEditorInGeral(t, 12)

	h.type_("abc😀d")
	h.waitScreen(12, nil, []string{"#geral> abc", "😀d"}, cell{1, 3})

	// "e" fills the first row exactly, and the cursor after it is at the
	// start of the second.
	h.type_(keyLeftSeq + keyLeftSeq + "e")
	h.waitScreen(12, nil, []string{"#geral> abce", "😀d"}, cell{1, 0})

	wider := resizeAt{at: len(h.out.String()), width: 40}
	h.client.resize(40)
	h.waitScreen(12, []resizeAt{wider}, []string{"#geral> abce😀d"}, cell{0, 12})

	narrower := resizeAt{at: len(h.out.String()), width: 10, rewrap: true}
	h.client.resize(10)
	h.waitScreen(12, []resizeAt{wider, narrower}, []string{"#geral> ab", "ce😀d"}, cell{1, 2})

	h.type_("\r")
	waitPosts(t, srv, "abce😀d")
}

// TestEditorLiveMessageAboveWideLine lets a live post arrive while a
// line with wide characters, wrapped over two rows, is being typed with
// the cursor in its first row. The post must appear above the line, the
// line must be drawn again whole below it, and editing goes on from the
// same cursor position.
func TestEditorLiveMessageAboveWideLine(t *testing.T) {
	srv, h := startEditorInGeral(t, 20)

	h.type_("日本 😀 olá mundo")
	h.waitScreen(20, nil, []string{"#geral> 日本 😀 olá", "mundo"}, cell{1, 5})
	h.type_("\x01" + strings.Repeat(keyRightSeq, 3)) // Ctrl-A is Home
	h.waitScreen(20, nil, []string{"#geral> 日本 😀 olá", "mundo"}, cell{0, 13})

	srv.Post("geral", "bob", "ao vivo")
	h.waitFor("#geral bob: ao vivo")
	lines := h.waitScreen(20, nil, []string{"#geral> 日本 😀 olá", "mundo"}, cell{0, 13})
	if message := strings.Join(lines[len(lines)-4:len(lines)-2], ""); !strings.HasSuffix(message, "#geral bob: ao vivo") {
		t.Errorf("the two rows above the line are %q, want the live post", message)
	}
	if n := strings.Count(strings.Join(lines, "\n"), "日本"); n != 1 {
		t.Errorf("the typed line is on screen %d times, want once; rows:%s", n, quoteRows(lines))
	}

	h.type_("x")
	h.waitScreen(20, nil, []string{"#geral> 日本 x😀 olá", " mundo"}, cell{0, 14})

	// Enter with the cursor in the first row leaves both rows in place,
	// and ana's own post, published back, appears below them.
	h.type_("\r")
	waitPosts(t, srv, "ao vivo", "日本 x😀 olá mundo")
	h.waitFor("#geral ana: ")
	lines = h.waitScreen(20, nil, []string{"#geral>"}, cell{0, 8})
	typed := slices.Index(lines, "#geral> 日本 x😀 olá")
	if typed < 0 || typed+2 >= len(lines) || lines[typed+1] != " mundo" || !strings.HasPrefix(lines[typed+2], "[") {
		t.Errorf("the sent line is not followed by its second row and ana's post; rows:%s", quoteRows(lines))
	}
}

// TestEditorMovesByCharacter edits lines whose characters are made of
// several code points. Left, Backspace, Delete and Ctrl-T must take each
// such character whole, as it is drawn.
func TestEditorMovesByCharacter(t *testing.T) {
	srv, h := startEditorInGeral(t, 80)

	h.type_("🇧🇷" + keyLeftSeq + "x\r")        // a flag: two regional indicators
	h.type_("ok👍🏽" + "\x7f" + "!\r")          // an emoji with a skin tone
	h.type_("a\u0301" + keyLeftSeq + "x\r")   // a letter and a combining accent
	h.type_("a😀" + "\x14\r")                  // Ctrl-T swaps the last two
	h.type_("😀b" + "\x01" + "\x1b[3~" + "\r") // Home, then Delete
	h.type_("um dois" + "\x1bb" + "x\r")      // Alt-B moves back a word
	waitPosts(t, srv, "x🇧🇷", "ok!", "xa\u0301", "😀a", "b", "um xdois")

	// A combining accent that arrives in a later read than its letter
	// joins it, and the cursor stays after both.
	h.type_("e")
	h.waitFor("#geral> e")
	h.type_("\u0301")
	h.waitFor("#geral> e\u0301")
	h.type_(keyLeftSeq + "x\r")
	waitPosts(t, srv, "x🇧🇷", "ok!", "xa\u0301", "😀a", "b", "um xdois", "xe\u0301")
}

// TestEditorHomeSplitAcrossReads sends the Home key of the Linux console
// in two reads, as a slow link can deliver it.
func TestEditorHomeSplitAcrossReads(t *testing.T) {
	srv, h := startEditorInGeral(t, 80)

	h.type_("mundo")
	h.waitFor("mundo")
	h.type_("\x1b[")
	h.type_("1~")
	h.type_("ola \x1b[F!\r")
	waitPosts(t, srv, "ola mundo!")
}

// TestEditorHistory recalls sent lines with Up and Down, and Down after
// the newest entry brings back the line that was being typed.
func TestEditorHistory(t *testing.T) {
	srv, h := startEditorInGeral(t, 80)

	h.type_("primeira\r")
	h.type_("segunda 😀\r")
	waitPosts(t, srv, "primeira", "segunda 😀")

	h.type_("rascun" + keyUpSeq)
	h.waitScreen(80, nil, []string{"#geral> segunda 😀"}, cell{0, 18})
	h.type_(keyUpSeq + keyDownSeq + keyDownSeq)
	h.waitScreen(80, nil, []string{"#geral> rascun"}, cell{0, 14})
	h.type_("ho\r")
	h.type_(strings.Repeat(keyUpSeq, 3) + "\r")
	waitPosts(t, srv, "primeira", "segunda 😀", "rascunho", "primeira")
}

// TestEditorSendsMaxLengthText pastes lines of the protocol's maximum
// text, 8192 bytes, in one-byte and two-byte characters: each is posted
// whole. A line of 8193 bytes is rejected with its size.
func TestEditorSendsMaxLengthText(t *testing.T) {
	srv, h := startEditorInGeral(t, 80)

	ascii := strings.Repeat("x", proto.MaxTextBytes)
	accented := strings.Repeat("é", proto.MaxTextBytes/2)
	h.type_(ascii + "\r")
	h.type_(accented + "\r")
	waitPosts(t, srv, ascii, accented)

	h.type_(ascii + "!\r")
	h.waitFor("a mensagem tem 8193 bytes e o máximo é 8192; nada foi enviado")
	h.type_("curta\r")
	waitPosts(t, srv, ascii, accented, "curta")
}

// TestEditorRejectsCutLine pastes more characters than the line holds:
// the bell rings, and Enter sends nothing and prints why. Up brings back
// what the line kept, which the length check then rejects.
func TestEditorRejectsCutLine(t *testing.T) {
	srv, h := startEditorInGeral(t, 80)

	h.type_(strings.Repeat("x", maxLineRunes+10))
	h.waitFor("\a")
	h.type_("\r")
	h.waitFor("nada foi enviado: a linha ficou longa demais e o excesso foi descartado; uma mensagem tem no máximo 8192 bytes")
	h.type_(keyUpSeq + "\r")
	h.waitFor("a mensagem tem 8256 bytes e o máximo é 8192; nada foi enviado")
	h.type_("curta\r")
	waitPosts(t, srv, "curta")
}

// TestEditorCutLineClearedByEmptying fills the line past its limit, then
// deletes all of it: the next line typed is sent, because none of the
// cut line is left in it.
func TestEditorCutLineClearedByEmptying(t *testing.T) {
	srv, h := startEditorInGeral(t, 80)

	h.type_(strings.Repeat("x", maxLineRunes+1))
	h.waitFor("\a")
	h.type_("\x15nova\r") // Ctrl-U deletes the line before the cursor
	waitPosts(t, srv, "nova")
}

// TestEditorBellsOncePerOverflow pastes far more than the line holds,
// which the editor reads in many parts: the bell rings once for the
// paste, and again for the next line that overflows. Neither is sent.
func TestEditorBellsOncePerOverflow(t *testing.T) {
	srv, h := startEditorInGeral(t, 80)

	h.type_(strings.Repeat("y", maxLineRunes+5000) + "\r")
	h.waitFor("nada foi enviado")
	if bells := strings.Count(h.out.String(), "\a"); bells != 1 {
		t.Errorf("%d bells for one overflowing paste, want 1", bells)
	}

	h.type_(strings.Repeat("z", maxLineRunes+1) + "\r")
	if !eventually(func() bool { return strings.Count(h.out.String(), "nada foi enviado") == 2 }) {
		t.Fatalf("no notice for the second overflowing line")
	}
	if bells := strings.Count(h.out.String(), "\a"); bells != 2 {
		t.Errorf("%d bells after a second overflowing line, want 2", bells)
	}
	h.type_("fim\r")
	waitPosts(t, srv, "fim")
}
