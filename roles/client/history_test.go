package client

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/client/clienttest"
)

// TestOwnMessagesInOtherCase logs in as "ANA" when the server registered
// the name as "ana". The server writes the sender as registered, and the
// conversation must still show ana's message as sent by the person.
func TestOwnMessagesInOtherCase(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddUser("ana")
	srv.AddUser("bia")
	h := startClient(t, testConfig(t, srv, lang.EN))

	h.send("/login ANA", "/msg bia hi from ANA", "/history @bia")
	h.waitFor("Conversation with @bia:")
	h.finish()

	out := h.out.String()
	if !strings.Contains(out, "you → @bia: hi from ANA") {
		t.Errorf("own direct message not shown as sent by you; output:\n%s", out)
	}
	if strings.Contains(out, "@ana → you") {
		t.Errorf("own direct message shown as incoming; output:\n%s", out)
	}
}

// TestLoginShowsRegisteredSpelling logs in as ANA where ana is
// registered. The client must greet ana, the spelling the other users see.
func TestLoginShowsRegisteredSpelling(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddUser("ana")
	h := startClient(t, testConfig(t, srv, lang.EN))

	h.send("/login ANA")
	h.waitFor("Welcome, ana!")
	h.finish()

	if out := h.out.String(); strings.Contains(out, "Welcome, ANA!") {
		t.Errorf("greeted the typed spelling; output:\n%s", out)
	}
}

// TestSentShowsRegisteredSpelling sends direct messages to "Anab2" typed
// in another case, by /msg and by the menu. Each confirmation must name
// the recipient as registered, the spelling the other users see.
func TestSentShowsRegisteredSpelling(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddUser("ana")
	srv.AddUser("Anab2")
	h := startClient(t, testConfig(t, srv, lang.EN))

	h.send("/login ana", "/msg @ANAB2 hi by command")
	h.waitFor("Message sent to @Anab2.")
	h.send("6", "anab2", "hi by menu")
	h.waitCount("Message sent to @Anab2.", 2)
	h.finish()

	out := h.out.String()
	for _, typed := range []string{"@ANAB2.", "@anab2."} {
		if strings.Contains(out, "Message sent to "+typed) {
			t.Errorf("confirmation names the recipient as typed, %s; output:\n%s", typed, out)
		}
	}
	if directs := srv.Directs(); len(directs) != 2 {
		t.Errorf("server received %d direct messages, want 2", len(directs))
	}
}

// TestOlderPagesBackThroughChannel shows the newest page of a channel
// with /history, then each page before it with /older, until the oldest.
func TestOlderPagesBackThroughChannel(t *testing.T) {
	srv := clienttest.Start(t)
	for i := range 5 {
		srv.Post("geral", "bia", fmt.Sprintf("post %d", i))
	}
	cfg := testConfig(t, srv, lang.EN)
	cfg.HistoryLimit = 2
	h := startClient(t, cfg)

	h.send("/login ana", "/history geral")
	h.waitFor("post 4")
	h.send("/older")
	h.waitFor("post 2")
	h.send("/older")
	h.waitFor("post 0")
	h.send("/older")
	h.waitFor("(no older messages in #geral)")
	h.finish()

	hint := "(older messages exist: type /older to see them)"
	out := h.out.String()
	assertSequence(t, out,
		"History of #geral:", hint, "post 3", "post 4",
		"History of #geral:", hint, "post 1", "post 2",
		"History of #geral:", "post 0", "(no older messages in #geral)")
	if n := strings.Count(out, hint); n != 2 {
		t.Errorf("the hint shows %d times, want 2, above each page but the oldest; output:\n%s", n, out)
	}
	for i := range 5 {
		if n := strings.Count(out, fmt.Sprintf("post %d", i)); n != 1 {
			t.Errorf("post %d shows %d times, want once; output:\n%s", i, n, out)
		}
	}
}

// TestOlderAfterJoin pages back from the history that /join showed.
func TestOlderAfterJoin(t *testing.T) {
	srv := clienttest.Start(t)
	for i := range 3 {
		srv.Post("geral", "bia", fmt.Sprintf("post %d", i))
	}
	cfg := testConfig(t, srv, lang.PT)
	cfg.HistoryLimit = 2
	h := startClient(t, cfg)

	h.send("/login ana", "/join geral")
	h.waitFor("vai para #geral")
	h.send("/older")
	h.waitFor("post 0")
	h.finish()

	assertOrder(t, h.out.String(), "(há mensagens mais antigas: digite /older para vê-las)", "post 1", "post 2", "vai para #geral", "post 0")
	if n := strings.Count(h.out.String(), "post 1"); n != 1 {
		t.Errorf("post 1 shows %d times, want once; output:\n%s", n, h.out.String())
	}
}

// TestOlderPagesBackThroughConversation pages back through a conversation,
// and /older before any history prints what to do first.
func TestOlderPagesBackThroughConversation(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddUser("bia")
	cfg := testConfig(t, srv, lang.EN)
	cfg.HistoryLimit = 1
	h := startClient(t, cfg)

	h.send("/login ana", "/older")
	h.waitFor("no history has been shown yet; use /history CHANNEL or /history @NAME")
	bia := NewSession(SessionConfig{Broker: srv.Broker()})
	t.Cleanup(bia.Close)
	ctx := context.Background()
	if _, err := bia.Login(ctx, "bia"); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"first", "second"} {
		if _, err := bia.Send(ctx, "ana", text); err != nil {
			t.Fatal(err)
		}
	}
	h.send("/history @bia", "/older", "/older", "/older x")
	h.waitFor("usage: /older, without arguments")
	h.finish()

	// The messages were also shown live, above the conversation.
	out := h.out.String()
	conversation := out[strings.Index(out, "Conversation with @bia:"):]
	assertSequence(t, conversation, "Conversation with @bia:", "@bia → you: second",
		"Conversation with @bia:", "@bia → you: first",
		"(no older messages in the conversation with @bia)")
}

// TestOlderListedInHelp checks that /help names /older in both languages.
func TestOlderListedInHelp(t *testing.T) {
	for l, want := range map[string]string{
		lang.PT: "/older               mostra a página de mensagens anterior",
		lang.EN: "/older               show the page of messages before",
	} {
		if !strings.Contains(textHelp.In(l), want) {
			t.Errorf("help in %s lacks %q", l, want)
		}
	}
}

// TestHistoryOfUnknownTargets requests the history of a user and of a
// channel that do not exist. Both must be reported as not existing,
// although a server returns an empty conversation with an unknown user.
func TestHistoryOfUnknownTargets(t *testing.T) {
	srv := clienttest.Start(t)
	h := startClient(t, testConfig(t, srv, lang.EN))

	h.send("/login ana", "/history @ghost", "/history nada")
	h.waitFor("user @ghost does not exist; /users lists the users")
	h.waitFor("channel #nada does not exist; create it with /create nada")
	h.finish()

	if strings.Contains(h.out.String(), "(no messages)") {
		t.Errorf("history of an unknown user shown as an empty conversation; output:\n%s", h.out.String())
	}
	if n := len(srv.Requests(proto.ServiceHistory)); n != 0 {
		t.Errorf("%d history requests for unknown targets, want none", n)
	}
}

// TestMenuDirectChecksUserFirst picks the menu's direct message with a
// user that does not exist. The menu must print that before it prompts
// for the text, as it does for a channel.
func TestMenuDirectChecksUserFirst(t *testing.T) {
	srv := clienttest.Start(t)
	h := startClient(t, testConfig(t, srv, lang.PT))

	h.send("1", "ana")
	h.waitFor("Bem-vindo(a), ana!")
	h.send("6", "ghost")
	h.waitFor("o usuário @ghost não existe; /users lista os usuários")
	h.send("0")
	h.waitExit()

	if strings.Contains(h.out.String(), "Mensagem:") {
		t.Errorf("the menu asked for a message to a user that does not exist:\n%s", h.out.String())
	}
	if n := len(srv.Requests(proto.ServiceMessage)); n != 0 {
		t.Errorf("%d message requests sent, want none", n)
	}
}

// assertSequence fails unless the items appear in out in this order, each
// found after the end of the one before it, so that an item may repeat.
func assertSequence(t *testing.T, out string, items ...string) {
	t.Helper()
	rest := out
	for _, item := range items {
		i := strings.Index(rest, item)
		if i < 0 {
			t.Fatalf("output lacks %q after the items before it; output:\n%s", item, out)
		}
		rest = rest[i+len(item):]
	}
}
