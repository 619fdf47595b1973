package client

import (
	"slices"
	"strings"
	"testing"

	"github.com/rivo/uniseg"

	"msgsys/lang"
	"msgsys/roles/client/clienttest"
)

// TestWrapWordsKeepsWords wraps help-like lines at several widths: no
// row is wider than the width unless it is one word, rows after the
// first start at the description's column, and the words are those of
// the input in the same order.
func TestWrapWordsKeepsWords(t *testing.T) {
	in := "Comandos:\n  /login NOME          entra, ou troca de usuário\nDepois de /join, o texto digitado sem / vai para o canal atual."
	for _, width := range []int{20, 30, 40, 80} {
		out := wrapWords(in, width)
		if got, want := strings.Fields(out), strings.Fields(in); !slices.Equal(got, want) {
			t.Errorf("width %d: words %q, want %q", width, got, want)
		}
		for _, row := range strings.Split(out, "\n") {
			if uniseg.StringWidth(row) > width && len(strings.Fields(row)) > 1 {
				t.Errorf("width %d: row %q is wider than the width", width, row)
			}
		}
	}

	got := wrapWords("  /login NOME          entra, ou troca de usuário", 40)
	want := "  /login NOME          entra, ou troca\n                       de usuário"
	if got != want {
		t.Errorf("wrapped at 40:\n%s\nwant:\n%s", got, want)
	}
	if got := wrapWords(in, 0); got != in {
		t.Errorf("width 0 changed the text to %q", got)
	}
}

// TestHelpWrapsAtWordsOnNarrowTerminal shows /help on a terminal 40
// columns wide: the screen holds every word of the help whole, in order,
// as a terminal that wraps rows at 40 columns shows it.
func TestHelpWrapsAtWordsOnNarrowTerminal(t *testing.T) {
	for _, l := range []string{lang.PT, lang.EN} {
		t.Run(l, func(t *testing.T) {
			srv := clienttest.Start(t)
			cfg := testConfig(t, srv, l)
			cfg.Terminal, cfg.Editor, cfg.Width = true, true, 40
			h := startClient(t, cfg)
			help := textHelp.In(l)
			last := help[strings.LastIndex(help, "\n")+1:]
			lastWord := last[strings.LastIndex(last, " ")+1:]

			h.type_("/help\r")
			h.waitFor(lastWord)
			s, err := replay(h.out.String(), 40)
			if err != nil {
				t.Fatal(err)
			}
			var words []string
			for _, row := range s.lines() {
				words = append(words, strings.Fields(row)...)
			}
			want := strings.Fields(help)
			first := slices.Index(words, want[0])
			if first < 0 || first+len(want) > len(words) {
				t.Fatalf("screen %q lacks the help", s.lines())
			}
			if got := words[first : first+len(want)]; !slices.Equal(got, want) {
				t.Errorf("help words on screen %q, want %q", got, want)
			}
		})
	}
}
