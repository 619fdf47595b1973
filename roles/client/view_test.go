package client

import (
	"strings"
	"testing"

	"msgsys/lang"
)

func post(clock uint64, text string) Message {
	return Message{Channel: "geral", From: "bia", Text: text, Clock: clock, Key: MessageKey{Clock: clock, From: "bia", Text: text}}
}

// TestRefillShowsOnlyPostsAfterJoin joins without showing history, as
// --history 0 does, and refills after the live connection comes up: only
// posts newer than those the join saw are shown.
func TestRefillShowsOnlyPostsAfterJoin(t *testing.T) {
	var out strings.Builder
	v := newView(lang.EN, newPrinter(&out, false))
	v.Begin("geral")
	v.Finish("geral", []Message{post(5, "newest at join")}, false)
	v.Refill("geral", []Message{post(3, "older"), post(5, "newest at join"), post(7, "after join")})

	got := out.String()
	for _, hidden := range []string{"older", "newest at join"} {
		if strings.Contains(got, hidden) {
			t.Errorf("refill shows %q, from before the join:\n%s", hidden, got)
		}
	}
	if !strings.Contains(got, "after join") {
		t.Errorf("refill lacks the post after the join:\n%s", got)
	}
}
