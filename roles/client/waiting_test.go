package client

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"msgsys/lang"
	"msgsys/roles/client/clienttest"
)

// startSlowCreate starts a terminal client, logged in as ana and joined to
// #geral, against a server that holds each channel creation until the
// returned release is called. The wait notice shows after 50 ms.
func startSlowCreate(t *testing.T, editor bool) (*clienttest.Server, *harness, func()) {
	srv := clienttest.Start(t)
	srv.AddChannel("geral")
	released := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(released) }) }
	// Registered after the server's Stop, so it runs before it.
	t.Cleanup(release)
	srv.OnCreate(func(string) { <-released })

	cfg := testConfig(t, srv, lang.EN)
	cfg.Timeout = waitTimeout // the held request must not time out
	cfg.Terminal, cfg.WaitNotice = true, 50*time.Millisecond
	if editor {
		cfg.Editor, cfg.Width = true, 80
	}
	h := startClient(t, cfg)
	if editor {
		h.type_("/login ana\r/join geral\r")
	} else {
		h.send("/login ana", "/join geral")
	}
	h.waitFor("#geral> ")
	return srv, h, release
}

// holdCreate sends /create sala, lets a live post arrive while the reply
// is held, then releases the reply, and returns the output.
func holdCreate(t *testing.T, srv *clienttest.Server, h *harness, release func(), enter string) string {
	t.Helper()
	notice := textWaiting.In(lang.EN)
	h.type_("/create sala" + enter)
	h.waitFor(notice)
	srv.Post("geral", "bob", "meanwhile")
	h.waitFor("bob: meanwhile")
	release()
	h.waitFor("Channel #sala created.")
	if !eventually(func() bool {
		_, after, _ := strings.Cut(h.out.String(), "Channel #sala created.")
		return strings.Contains(after, "#geral> ")
	}) {
		t.Fatalf("no prompt after the reply; output:\n%q", h.out.String())
	}
	return h.out.String()
}

func TestTerminalShowsWaitNotice(t *testing.T) {
	srv, h, release := startSlowCreate(t, false)
	out := holdCreate(t, srv, h, release, "\n")
	h.finish()

	notice := regexp.QuoteMeta(textWaiting.In(lang.EN))
	live := regexp.MustCompile(`\r\x1b\[K\[\d\d:\d\d:\d\d\] #geral bob: meanwhile\n` + notice)
	if !live.MatchString(out) {
		t.Errorf("live post not printed above the wait notice; output:\n%q", out)
	}
	if !strings.Contains(out, "\r\x1b[KChannel #sala created.\n") {
		t.Errorf("the reply does not erase the wait notice; output:\n%q", out)
	}

	// A terminal in its own line mode returns the carriage at a line feed.
	screen, err := replay(strings.ReplaceAll(out, "\n", "\r\n"), 80)
	if err != nil {
		t.Fatal(err)
	}
	assertNoticeGone(t, screen.lines())
}

func TestEditorShowsWaitNotice(t *testing.T) {
	srv, h, release := startSlowCreate(t, true)
	out := holdCreate(t, srv, h, release, "\r")

	screen, err := replay(out, 80)
	if err != nil {
		t.Fatal(err)
	}
	assertNoticeGone(t, screen.lines())
}

// assertNoticeGone checks the last rows of a terminal after the held
// reply: the live post, the reply and the prompt, with no wait notice
// left anywhere.
func assertNoticeGone(t *testing.T, lines []string) {
	t.Helper()
	text := strings.Join(lines, "\n")
	if strings.Contains(text, textWaiting.In(lang.EN)) {
		t.Errorf("wait notice left on the screen:\n%s", text)
	}
	last := slices.DeleteFunc(slices.Clone(lines), func(s string) bool { return s == "" })
	if len(last) < 3 {
		t.Fatalf("screen has %d rows, want at least 3:\n%s", len(last), text)
	}
	tail := last[len(last)-3:]
	if !strings.HasSuffix(tail[0], "#geral bob: meanwhile") || tail[1] != "Channel #sala created." || tail[2] != "#geral>" {
		t.Errorf("last rows %q, want the live post, the reply and the prompt", tail)
	}
}
