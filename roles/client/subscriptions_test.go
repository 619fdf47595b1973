package client

import (
	"context"
	"strings"
	"testing"

	"msgsys/lang"
	"msgsys/roles/client/clienttest"
)

// A user and a channel of the same name share a pub/sub topic. These tests
// check that the client keeps the topic while either needs it, and shows
// on it only what is for the person: posts of joined channels and direct
// messages to the logged-in user.

// syncSubscriptions joins the channel marker and waits until the server
// has it. Subscriptions travel in order on one connection, so every
// earlier subscribe or unsubscribe has reached the server by then.
func syncSubscriptions(t *testing.T, srv *clienttest.Server, h *harness, marker string) {
	t.Helper()
	srv.AddChannel(marker)
	h.send("/join " + marker)
	if !eventually(func() bool { return srv.Subscribed(marker) }) {
		t.Fatalf("client did not subscribe to %s", marker)
	}
}

// bobSession returns a session logged in as bob.
func bobSession(t *testing.T, srv *clienttest.Server) *Session {
	t.Helper()
	bob := NewSession(SessionConfig{Broker: srv.Broker()})
	t.Cleanup(bob.Close)
	if _, err := bob.Login(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	return bob
}

func TestLoginAwayFromChannelNameKeepsChannel(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddChannel("chX")
	h := startClient(t, testConfig(t, srv, lang.EN))
	h.send("/login ana", "/join chX", "/login chX")
	h.waitFor("Welcome, chX!")
	h.send("/login ana")
	h.waitCount("Welcome, ana!", 2)
	syncSubscriptions(t, srv, h, "marker")
	if !srv.Subscribed("chX") {
		t.Fatal("client unsubscribed from joined #chX when it logged out of the user chX")
	}

	// The topic still carries direct messages to chX, which are no longer
	// for this person.
	bob := bobSession(t, srv)
	ctx := context.Background()
	if _, err := bob.Send(ctx, "chX", "for chX only"); err != nil {
		t.Fatal(err)
	}
	srv.Post("chX", "bob", "still joined")
	h.waitFor("#chX bob: still joined")
	if _, err := bob.Send(ctx, "ana", "end"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("@bob → you: end")
	h.finish()
	if strings.Contains(h.out.String(), "for chX only") {
		t.Errorf("direct message to the previous user chX shown after logging in as ana")
	}
}

func TestFailedLoginKeepsChannel(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddChannel("chX")
	h := startClient(t, testConfig(t, srv, lang.EN))
	h.send("/login ana", "/join chX")
	h.waitFor("What you type now goes to #chX")
	srv.DropReplies(2) // the request and its retry
	h.send("/login chX")
	h.waitFor("server unavailable")
	syncSubscriptions(t, srv, h, "marker")
	if !srv.Subscribed("chX") {
		t.Fatal("client unsubscribed from joined #chX after a failed login as chX")
	}
	srv.Post("chX", "bob", "still joined")
	h.waitFor("#chX bob: still joined")
	h.finish()
}

func TestLeaveChannelOfOwnNameKeepsDirectMessages(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddChannel("samX")
	h := startClient(t, testConfig(t, srv, lang.EN))
	h.send("/login samX", "/join samX", "/leave samX")
	h.waitFor("You left #samX.")
	syncSubscriptions(t, srv, h, "marker")
	if !srv.Subscribed("samX") {
		t.Fatal("client unsubscribed from its own name when it left #samX")
	}

	// Posts and direct messages on one topic arrive in the order they
	// were published, so the post has been received when the message is
	// shown.
	srv.Post("samX", "bob", "post after leaving")
	bob := bobSession(t, srv)
	if _, err := bob.Send(context.Background(), "samX", "hi samX"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("@bob → you: hi samX")
	h.finish()
	if strings.Contains(h.out.String(), "post after leaving") {
		t.Errorf("post of #samX shown after /leave samX")
	}
}

func TestJoinedUserNameHidesDirectMessages(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddChannel("bia")
	srv.AddUser("bia")
	h := startClient(t, testConfig(t, srv, lang.EN))
	h.send("/login ana", "/join bia")
	h.waitFor("What you type now goes to #bia")
	if !eventually(func() bool { return srv.Subscribed("bia") }) {
		t.Fatal("client did not subscribe to #bia")
	}

	bob := bobSession(t, srv)
	ctx := context.Background()
	if _, err := bob.Send(ctx, "bia", "for bia only"); err != nil {
		t.Fatal(err)
	}
	srv.Post("bia", "bob", "post in bia")
	h.waitFor("#bia bob: post in bia")
	h.finish()
	if strings.Contains(h.out.String(), "for bia only") {
		t.Errorf("direct message to the user bia shown to ana, who joined the channel bia")
	}
}
