package client

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"msgsys/lang"
	"msgsys/roles/client/clienttest"
)

func TestJoinShowsHistoryThenLiveOnce(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddUser("ana")
	srv.Post("geral", "bob", "um")
	srv.Post("geral", "bob", "dois")

	// While the client waits for the history reply, publish one post that
	// the reply also lists and one that only goes out live. The client
	// must show both after the older history, and the first only once.
	var once sync.Once
	srv.OnHistory(func(channel string) {
		if channel != "geral" {
			return
		}
		once.Do(func() {
			if !eventually(func() bool { return srv.Subscribed("geral") }) {
				t.Error("client did not subscribe to geral before asking for its history")
				return
			}
			srv.Post("geral", "bob", "durante")
			srv.PublishOnly("geral", "bob", "só ao vivo")
		})
	})

	h := startClient(t, testConfig(t, srv, lang.PT))
	h.send("/login ana", "/join #geral")
	h.waitFor("Agora o que você digitar vai para #geral")
	srv.Post("geral", "bob", "depois")
	h.waitFor("#geral bob: depois")
	h.send("oi de ana")
	h.waitFor("#geral ana: oi de ana")
	h.finish()

	out := h.out.String()
	assertOrder(t, out, "Histórico de #geral:", "bob: um", "bob: dois", "bob: durante", "bob: depois", "ana: oi de ana")
	assertOrder(t, out, "bob: dois", "bob: só ao vivo", "bob: depois")
	for _, text := range []string{"bob: um", "bob: durante", "bob: só ao vivo", "bob: depois"} {
		if n := strings.Count(out, text); n != 1 {
			t.Errorf("%q shown %d times, want 1; output:\n%s", text, n, out)
		}
	}
	if strings.Contains(out, "Mensagem publicada") {
		t.Errorf("plain text in a channel printed a confirmation besides its publication")
	}
	if posts := srv.Posts("geral"); posts[len(posts)-1].Message != "oi de ana" || posts[len(posts)-1].User != "ana" {
		t.Errorf("last post = %+v, want ana's plain text", posts[len(posts)-1])
	}
}

// TestJoinRefillShowsMissedPost stores a post right after the join's
// history reply without publishing it, as a post the proxy sent before it
// applied the client's subscription. The refill after the join shows it.
func TestJoinRefillShowsMissedPost(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddUser("ana")
	srv.Post("geral", "bob", "antes")

	h := startClient(t, testConfig(t, srv, lang.PT))
	h.send("/login ana", "/join #geral")
	h.waitFor("Agora o que você digitar vai para #geral")
	srv.StoreOnly("geral", "bob", "perdida ao vivo")
	srv.Post("geral", "bob", "depois")
	h.waitFor("#geral bob: depois")
	h.waitFor("#geral bob: perdida ao vivo")
	h.finish()

	out := h.out.String()
	for _, text := range []string{"bob: antes", "bob: perdida ao vivo", "bob: depois"} {
		if n := strings.Count(out, text); n != 1 {
			t.Errorf("%q shown %d times, want 1; output:\n%s", text, n, out)
		}
	}
}

func TestJoinFindsChannelRegardlessOfCase(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddChannel("Geral")
	h := startClient(t, testConfig(t, srv, lang.PT))
	h.send("/login ana", "/join GERAL")
	h.waitFor("vai para #Geral")
	if !eventually(func() bool { return srv.Subscribed("Geral") }) {
		t.Fatal("client did not subscribe to the channel's name as first written")
	}
	srv.Post("Geral", "bob", "olá")
	h.waitFor("#Geral bob: olá")
	h.finish()
}

func TestLeaveStopsLivePosts(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddChannel("geral")
	h := startClient(t, testConfig(t, srv, lang.PT))
	h.send("/login ana", "/join geral", "/leave")
	h.waitFor("Você saiu de #geral.")
	if !eventually(func() bool { return !srv.Subscribed("geral") }) {
		t.Fatal("client still subscribed after /leave")
	}
	srv.Post("geral", "bob", "ninguém lê")
	bob := NewSession(SessionConfig{Broker: srv.Broker()})
	defer bob.Close()
	ctx := context.Background()
	if _, err := bob.Login(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Send(ctx, "ana", "marcador"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("@bob → você: marcador")
	h.finish()
	if strings.Contains(h.out.String(), "ninguém lê") {
		t.Errorf("post shown after /leave")
	}
}

func TestDirectMessagesPrinted(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddUser("anabela")
	h := startClient(t, testConfig(t, srv, lang.EN))
	h.send("/login ana")
	h.waitFor("Welcome, ana!")
	if !eventually(func() bool { return srv.Subscribed("ana") }) {
		t.Fatal("client did not subscribe to its own name")
	}

	bob := NewSession(SessionConfig{Broker: srv.Broker()})
	defer bob.Close()
	ctx := context.Background()
	if _, err := bob.Login(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Send(ctx, "anabela", "not for ana"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Send(ctx, "ana", "hi ana"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("@bob → you: hi ana")
	h.send("/msg bob hello bob", "/history @bob")
	h.waitFor("you → @bob: hello bob")
	h.finish()

	out := h.out.String()
	if !regexp.MustCompile(`\[\d\d:\d\d:\d\d\] @bob → you: hi ana`).MatchString(out) {
		t.Errorf("direct message not shown as [HH:MM:SS] @bob → you: text; output:\n%s", out)
	}
	if strings.Contains(out, "not for ana") {
		t.Errorf("message to anabela shown to ana, whose name is its prefix")
	}
	conversation := out[strings.Index(out, "Conversation with @bob:"):]
	assertOrder(t, conversation, "@bob → you: hi ana", "you → @bob: hello bob")
}

// TestSubscribesBeforeLoginReply checks that the client subscribes to its
// name before the server replies to the login. A subscription sent after
// the reply could miss a direct message sent right after it.
func TestSubscribesBeforeLoginReply(t *testing.T) {
	srv := clienttest.Start(t)
	subscribed := make(chan bool, 2)
	srv.OnLogin(func(user string) {
		subscribed <- eventually(func() bool { return srv.Subscribed(user) })
	})
	h := startClient(t, testConfig(t, srv, lang.EN))
	h.send("/login ana")
	h.waitFor("Welcome, ana!")
	if !<-subscribed {
		t.Error("login reply sent before the client subscribed to its name")
	}

	h.send("/login bia")
	h.waitFor("Welcome, bia!")
	if !<-subscribed {
		t.Error("second login reply sent before the client subscribed to its name")
	}
	if !eventually(func() bool { return !srv.Subscribed("ana") }) {
		t.Error("client still subscribed to the previous user's name")
	}
	h.finish()
}

func TestTerminalRedrawsPrompt(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddChannel("geral")
	cfg := testConfig(t, srv, lang.PT)
	cfg.Terminal = true
	h := startClient(t, cfg)
	h.send("/login ana", "/join geral")
	h.waitFor("#geral> ")
	srv.Post("geral", "bob", "ao vivo")
	h.waitFor("ao vivo")
	h.finish()

	redraw := regexp.MustCompile(`\r\x1b\[K\[\d\d:\d\d:\d\d\] #geral bob: ao vivo\n#geral> `)
	if !redraw.MatchString(h.out.String()) {
		t.Errorf("live post not printed as clear line, message, prompt; output:\n%q", h.out.String())
	}
}

func TestClientSurvivesBrokerRestart(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddChannel("geral")
	cfg := testConfig(t, srv, lang.PT)
	cfg.Timeout = 300 * time.Millisecond
	h := startClient(t, cfg)
	h.send("/login ana", "/join geral")
	h.waitFor("vai para #geral")
	// The live connection must be up for its loss to be reported.
	if !eventually(func() bool { return srv.Subscribed("geral") }) {
		t.Fatal("client never subscribed to geral")
	}

	srv.Stop()
	h.waitFor("(conexão das mensagens ao vivo perdida, reconectando…)")
	h.send("/users")
	h.waitFor("indisponível")
	h.waitFor("tente novamente")
	// Stored while the deployment is down, so no one receives it live; the
	// client must find it in history once it reconnects.
	srv.Post("geral", "bob", "perdida")

	srv.Restart(t)
	h.send("/users")
	h.waitFor("Usuários (2): ana, bob")
	h.waitFor("(mensagens ao vivo reconectadas)")
	h.waitFor("#geral bob: perdida")
	if !eventually(func() bool { return srv.Subscribed("geral") }) {
		t.Fatal("client did not subscribe again after the restart")
	}
	srv.Post("geral", "bob", "de volta")
	h.waitFor("#geral bob: de volta")
	h.send("mais uma")
	h.waitFor("#geral ana: mais uma")
	h.finish()
	if n := strings.Count(h.out.String(), "bob: perdida"); n != 1 {
		t.Errorf("missed post shown %d times, want 1", n)
	}
}

// startEditorInGeral starts a client that edits its terminal line itself,
// on a terminal width columns wide, logged in as ana and joined to #geral.
func startEditorInGeral(t *testing.T, width int) (*clienttest.Server, *harness) {
	srv := clienttest.Start(t)
	srv.AddChannel("geral")
	cfg := testConfig(t, srv, lang.PT)
	cfg.Terminal, cfg.Editor, cfg.Width = true, true, width
	h := startClient(t, cfg)
	h.type_("/login ana\r/join geral\r")
	h.waitFor("#geral> ")
	return srv, h
}

// TestEditorKeepsTypedText types half a post on an edited terminal line
// and lets a live post arrive. The live post must appear above the line,
// with the prompt and the typed half drawn again below it, and the rest
// of the typing must complete the same post.
func TestEditorKeepsTypedText(t *testing.T) {
	srv, h := startEditorInGeral(t, 80)

	h.type_("meio escr")
	h.waitFor("meio escr")
	srv.Post("geral", "bob", "ao vivo")
	h.waitFor("ao vivo")
	h.type_("ito\r")
	if !eventually(func() bool {
		posts := srv.Posts("geral")
		return len(posts) == 2 && posts[1].Message == "meio escrito"
	}) {
		t.Fatalf("posts %+v, want bob's and then ana's \"meio escrito\"", srv.Posts("geral"))
	}

	out := h.out.String()
	redraw := regexp.MustCompile(`\[\d\d:\d\d:\d\d\] #geral bob: ao vivo\r\n#geral> meio escr`)
	if !redraw.MatchString(out) {
		t.Errorf("live post not followed by the prompt and the typed text; output:\n%q", out)
	}
	if strings.Contains(out, clearLine+"[") {
		t.Errorf("the printer's own redraw ran beside the editor's; output:\n%q", out)
	}
	// Ctrl-C quits even with text typed. The text that was not sent must
	// not be drawn again after the farewell.
	h.type_("rascunho")
	h.waitFor("rascunho")
	h.type_("\x03")
	h.waitExit()
	out = h.out.String()
	bye := textBye.In(lang.PT)
	if strings.Count(out, "rascunho") != 1 || !strings.HasSuffix(out, "rascunho\r\n"+bye+"\r\n") {
		t.Errorf("the unsent text is not left above the farewell; output ends:\n%q", out[max(0, len(out)-120):])
	}
}

// TestEditorSignalDrawsNothingAfterFarewell stops the client as SIGINT
// or SIGTERM does, by cancelling its context, while the editor waits for
// the rest of a typed line. The typed text must stay above the farewell,
// and the prompt must not be drawn again below it, where the shell's
// prompt goes next.
func TestEditorSignalDrawsNothingAfterFarewell(t *testing.T) {
	_, h := startEditorInGeral(t, 80)
	h.type_("rascunho")
	h.waitFor("rascunho")
	h.cancel()
	h.waitExit()

	out := h.out.String()
	bye := textBye.In(lang.PT)
	if !strings.HasSuffix(out, "rascunho\r\n"+bye+"\r\n") {
		t.Errorf("output does not end with the typed text and the farewell; it ends:\n%q", out[max(0, len(out)-120):])
	}
}

// TestEditorSignalAtEmptyPrompt stops the client by cancelling its
// context while the editor shows the menu's prompt with nothing typed.
func TestEditorSignalAtEmptyPrompt(t *testing.T) {
	srv := clienttest.Start(t)
	cfg := testConfig(t, srv, lang.EN)
	cfg.Terminal, cfg.Editor, cfg.Width = true, true, 80
	h := startClient(t, cfg)
	h.waitFor(textPromptOption.In(lang.EN))
	h.cancel()
	h.waitExit()

	out := h.out.String()
	if !strings.HasSuffix(out, "Option: \r\nBye!\r\n") {
		t.Errorf("output does not end with the prompt, then the farewell on a line of its own; it ends:\n%q", out[max(0, len(out)-120):])
	}
}

// TestPrinterDropsOutputAfterClose prints a live message after the
// farewell, as one that arrives while the client stops would be. It must
// not appear after the farewell, where the shell's prompt goes next.
func TestPrinterDropsOutputAfterClose(t *testing.T) {
	var out strings.Builder
	p := newPrinter(&out, true)
	p.Close("Bye!")
	p.Async("[12:00:00] #geral bob: too late")
	p.Line("one more reply")
	if got := out.String(); got != "Bye!\n" {
		t.Errorf("output = %q, want the farewell alone", got)
	}
}

// TestEditorHomeAndEndKeys sends Home and End as the Linux console and
// application cursor mode send them.
func TestEditorHomeAndEndKeys(t *testing.T) {
	srv, h := startEditorInGeral(t, 80)

	h.type_("mundo")
	h.waitFor("mundo")
	h.type_("\x1b[1~") // Home, Linux console
	h.type_("ola ")
	h.type_("\x1bOF") // End, application cursor mode
	h.type_("!\r")
	if !eventually(func() bool {
		posts := srv.Posts("geral")
		return len(posts) == 1 && posts[0].Message == "ola mundo!"
	}) {
		t.Fatalf("posts %+v, want one \"ola mundo!\"", srv.Posts("geral"))
	}
}

// TestEditorCtrlCCancelsPendingRequest presses Ctrl-C while a request
// waits for a reply that never comes. The client must stop waiting and
// quit at once, as Ctrl-C does at the prompt, long before the request
// would time out.
func TestEditorCtrlCCancelsPendingRequest(t *testing.T) {
	srv := clienttest.Start(t)
	cfg := testConfig(t, srv, lang.PT)
	cfg.Terminal, cfg.Editor, cfg.Width = true, true, 80
	cfg.Timeout = time.Minute
	h := startClient(t, cfg)
	h.waitFor(textPromptOption.In(lang.PT))

	srv.DropReplies(1)
	h.type_("/users\r")
	if !eventually(func() bool { return len(srv.Requests("users")) == 1 }) {
		t.Fatal("the users request did not reach the server")
	}
	h.type_("\x03")
	h.waitExit()
	if !strings.HasSuffix(h.out.String(), textBye.In(lang.PT)+"\r\n") {
		t.Errorf("the client did not say goodbye; output:\n%q", h.out.String())
	}
}

// TestEditorKeepsKeysTypedDuringRequest types a command while another
// waits for its reply. The keys must not be lost: the command runs once
// the first has finished.
func TestEditorKeepsKeysTypedDuringRequest(t *testing.T) {
	srv, h := startEditorInGeral(t, 80)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	srv.OnHistory(func(string) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
	})

	h.type_("/history #geral\r")
	select {
	case <-entered:
	case <-time.After(waitTimeout):
		close(release)
		t.Fatal("the history request did not reach the server")
	}
	h.type_("/users\r")
	close(release)
	h.waitFor("Usuários (1): ana")
	assertOrder(t, h.out.String(), "Histórico de #geral:", "Usuários (1): ana")
}
