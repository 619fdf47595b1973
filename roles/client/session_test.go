package client

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shamaton/msgpack/v2"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/client/clienttest"
)

func TestSessionRetriesSameFrame(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddChannel("geral")
	s := NewSession(SessionConfig{Broker: srv.Broker(), Timeout: 200 * time.Millisecond})
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Login(ctx, "ana"); err != nil {
		t.Fatal(err)
	}

	srv.DropReplies(1)
	receipt, err := s.Publish(ctx, "geral", "uma vez só")
	if err != nil {
		t.Fatalf("Publish after one lost reply: %v", err)
	}
	requests := srv.Requests(proto.ServicePublish)
	if len(requests) != 2 {
		t.Fatalf("%d publish requests, want 2", len(requests))
	}
	if !bytes.Equal(requests[0].Frame, requests[1].Frame) {
		t.Errorf("retry sent a different frame")
	}
	if !requests[1].Resent {
		t.Errorf("server did not see the retry as a resent frame")
	}
	if n := len(srv.Posts("geral")); n != 1 {
		t.Errorf("%d posts stored, want 1", n)
	}
	if receipt.Clock == 0 || receipt.ServerClock == 0 {
		t.Errorf("receipt = %+v, want both clocks set", receipt)
	}
}

// TestSessionRetriesOnBrokerRetry replies to a post as msgsys's broker
// does when the server holding it disconnected. The session sends the same
// frame once more and succeeds, and a second such reply is reported.
func TestSessionRetriesOnBrokerRetry(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddChannel("geral")
	s := NewSession(SessionConfig{Broker: srv.Broker(), Timeout: time.Second})
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Login(ctx, "ana"); err != nil {
		t.Fatal(err)
	}

	srv.FailRetryable(1)
	if _, err := s.Publish(ctx, "geral", "de novo"); err != nil {
		t.Fatalf("Publish after one retryable failure: %v", err)
	}
	requests := srv.Requests(proto.ServicePublish)
	if len(requests) != 2 || !requests[0].Failed || !bytes.Equal(requests[0].Frame, requests[1].Frame) {
		t.Fatalf("publish requests %+v, want a failed one and the same frame again", requests)
	}
	if n := len(srv.Posts("geral")); n != 1 {
		t.Errorf("%d posts stored, want 1", n)
	}

	srv.FailRetryable(2)
	if _, err := s.Publish(ctx, "geral", "duas falhas"); !errors.Is(err, ErrRejected) {
		t.Errorf("Publish after two retryable failures = %v, want the broker's rejection", err)
	}
}

func TestSessionTimeoutReported(t *testing.T) {
	for _, l := range []string{lang.PT, lang.EN} {
		t.Run(l, func(t *testing.T) {
			srv := clienttest.Start(t)
			s := NewSession(SessionConfig{Broker: srv.Broker(), Timeout: 100 * time.Millisecond, Lang: l})
			defer s.Close()
			srv.DropReplies(2)
			_, err := s.Users(context.Background())
			if !errors.Is(err, ErrUnavailable) || !errors.Is(err, proto.ErrTimeout) {
				t.Fatalf("err = %v, want ErrUnavailable wrapping proto.ErrTimeout", err)
			}
			want := lang.Text{PT: "servidor indisponível (sem resposta em 100ms), tente novamente", EN: "server unavailable (no reply within 100ms), try again"}.In(l)
			if err.Error() != want {
				t.Errorf("text = %q, want %q", err.Error(), want)
			}
			if n := len(srv.Requests(proto.ServiceUsers)); n != 2 {
				t.Errorf("%d requests, want 2 (one retry)", n)
			}
			if _, err := s.Users(context.Background()); err != nil {
				t.Errorf("request after the timeouts: %v", err)
			}
		})
	}
}

func TestSessionUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "tcp://" + ln.Addr().String()
	ln.Close()

	s := NewSession(SessionConfig{Broker: endpoint, Timeout: time.Second})
	defer s.Close()
	_, err = s.Login(context.Background(), "ana")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "broker indisponível") || !strings.Contains(err.Error(), endpoint) {
		t.Errorf("text = %q, want the Portuguese message naming %s", err.Error(), endpoint)
	}
	if s.User() != "" {
		t.Errorf("User() = %q after a failed login", s.User())
	}
}

// TestSessionSilentBroker connects to a listener that accepts the
// connection and then sends nothing, as a broker stopped by SIGSTOP does.
// The error text reports that the broker did not reply, not that the
// connection failed.
func TestSessionSilentBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- conn
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for conn := range accepted {
			conn.Close()
		}
	})
	endpoint := "tcp://" + ln.Addr().String()

	for _, l := range []string{lang.PT, lang.EN} {
		t.Run(l, func(t *testing.T) {
			s := NewSession(SessionConfig{Broker: endpoint, Timeout: 5 * time.Second, Lang: l})
			defer s.Close()
			s.req.SetDialTimeout(200 * time.Millisecond)
			_, err := s.Users(context.Background())
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			want := lang.Text{
				PT: "broker indisponível (" + endpoint + " aceitou a conexão, mas não respondeu em 200ms), tente novamente",
				EN: "broker unavailable (" + endpoint + " accepted the connection but did not reply within 200ms), try again",
			}.In(l)
			if err.Error() != want {
				t.Errorf("text = %q, want %q", err.Error(), want)
			}
		})
	}
}

func TestSessionCancelledContext(t *testing.T) {
	srv := clienttest.Start(t)
	s := NewSession(SessionConfig{Broker: srv.Broker(), Timeout: 5 * time.Second})
	defer s.Close()
	srv.DropReplies(1)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := s.Users(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("cancellation took %v", elapsed)
	}
}

func TestSessionValidatesLocally(t *testing.T) {
	srv := clienttest.Start(t)
	s := NewSession(SessionConfig{Broker: srv.Broker(), Lang: lang.EN})
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Publish(ctx, "geral", "oi"); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("Publish before login: %v, want ErrNotLoggedIn", err)
	}
	if _, err := s.Login(ctx, ""); !errors.Is(err, ErrInvalid) || !errors.Is(err, proto.ErrNameEmpty) {
		t.Errorf("empty name: %v", err)
	}
	if _, err := s.Login(ctx, "ana"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, "geral", ""); !errors.Is(err, proto.ErrTextEmpty) {
		t.Errorf("empty text: %v", err)
	}
	if _, err := s.Send(ctx, "bob", strings.Repeat("é", proto.MaxTextBytes/2+1)); !errors.Is(err, proto.ErrTextTooLong) {
		t.Errorf("long text: %v", err)
	}
	if n := len(srv.Requests("")); n != 1 {
		t.Errorf("%d requests reached the server, want only the login", n)
	}
}

func TestSessionNormalisesNames(t *testing.T) {
	srv := clienttest.Start(t)
	s := NewSession(SessionConfig{Broker: srv.Broker()})
	defer s.Close()
	ctx := context.Background()
	// "é" typed as e plus a combining accent is sent in NFC.
	user, err := s.Login(ctx, "Jose\u0301")
	if err != nil || user != "José" {
		t.Fatalf("Login = %q, %v; want José", user, err)
	}
	channel, err := s.CreateChannel(ctx, "#Geral")
	if err != nil || channel != "Geral" {
		t.Fatalf("CreateChannel = %q, %v; want Geral", channel, err)
	}
	found, ok, err := s.FindChannel(ctx, "geral")
	if err != nil || !ok || found != "Geral" {
		t.Fatalf("FindChannel = %q, %v, %v; want Geral", found, ok, err)
	}
	if _, err := s.CreateChannel(ctx, "GERAL"); !errors.Is(err, ErrRejected) {
		t.Errorf("second channel differing in case: %v, want ErrRejected", err)
	}
}

func TestSessionHistoryPages(t *testing.T) {
	srv := clienttest.Start(t)
	for _, text := range []string{"1", "2", "3", "4", "5"} {
		srv.Post("geral", "bob", text)
	}
	s := NewSession(SessionConfig{Broker: srv.Broker()})
	defer s.Close()
	ctx := context.Background()
	page, err := s.History(ctx, HistoryQuery{Channel: "#geral", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(page.Messages); got != "3 4 5" || page.Before == "" {
		t.Fatalf("first page = %q, before %q; want 3 4 5 and a cursor", got, page.Before)
	}
	page, err = s.History(ctx, HistoryQuery{Channel: "geral", Limit: 3, Before: page.Before})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(page.Messages); got != "1 2" || page.Before != "" {
		t.Fatalf("second page = %q, before %q; want 1 2 and no cursor", got, page.Before)
	}
	if _, err := s.History(ctx, HistoryQuery{Peer: "bob"}); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("conversation before login: %v, want ErrNotLoggedIn", err)
	}
}

func texts(messages []Message) string {
	var out []string
	for _, m := range messages {
		out = append(out, m.Text)
	}
	return strings.Join(out, " ")
}

// startScripted serves a ROUTER that replies to each service with the
// data map from script, encoded as {"service": service, "data": data}. A
// "_service" key in that map replaces the reply's service name.
func startScripted(t *testing.T, script map[string]map[string]any) string {
	t.Helper()
	ln, err := proto.Listen("tcp://127.0.0.1:0", proto.Router, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ln.Serve(ctx, func(conn *proto.Conn) {
			for {
				frames, err := conn.Recv()
				if err != nil {
					return
				}
				env, err := proto.Decode(frames[len(frames)-1])
				if err != nil {
					t.Errorf("scripted server: %v", err)
					return
				}
				service := env.Service
				data := script[service]
				if svc, ok := data["_service"].(string); ok {
					service = svc
				}
				reply, err := msgpack.Marshal(map[string]any{"service": service, "data": data})
				if err != nil {
					t.Errorf("scripted server: %v", err)
					return
				}
				if err := conn.Send([]byte{}, reply); err != nil {
					return
				}
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Endpoint()
}

func TestSessionReadsRepliesLeniently(t *testing.T) {
	endpoint := startScripted(t, map[string]map[string]any{
		proto.ServiceLogin:    {"status": "success", "clock": 1000},
		proto.ServiceUsers:    {"users": []any{"ana", 7, "bob"}},
		proto.ServiceChannels: {"users": []any{"geral", "estudos"}},
		proto.ServiceChannel:  {"_service": proto.ServiceError, "status": "erro", "description": "servidor em eleição"},
		proto.ServicePublish:  {"status": "erro", "message": "canal fechado"},
		proto.ServiceMessage:  {"status": "ok", "timestamp": 1733340824},
		proto.ServiceHistory: {"status": "OK", "messages": []any{
			map[string]any{"from": "bob", "dst": "ana", "message": "oi", "timestamp": int64(1733340824738), "clock": 5},
			map[string]any{"src": "ana", "message": "tchau", "timestamp": "2026-12-04T19:33:44"},
			map[string]any{"user": "bob"},
			"not a map",
		}},
	})
	s := NewSession(SessionConfig{Broker: endpoint})
	defer s.Close()
	ctx := context.Background()

	if _, err := s.Login(ctx, "ana"); err != nil {
		t.Fatalf("login answered with success: %v", err)
	}
	if v := s.Clocks().Lamport.Value(); v < 1000 {
		t.Errorf("Lamport clock %d after a reply with clock 1000", v)
	}
	if users, err := s.Users(ctx); err != nil || strings.Join(users, ",") != "ana,bob" {
		t.Errorf("Users = %v, %v; want ana,bob", users, err)
	}
	if channels, err := s.Channels(ctx); err != nil || strings.Join(channels, ",") != "geral,estudos" {
		t.Errorf("Channels under users = %v, %v", channels, err)
	}
	if _, err := s.CreateChannel(ctx, "x"); !errors.Is(err, ErrRejected) || err.Error() != "servidor em eleição" {
		t.Errorf("error service reply: %v", err)
	}
	if _, err := s.Publish(ctx, "geral", "oi"); !errors.Is(err, ErrRejected) || err.Error() != "canal fechado" {
		t.Errorf("publish error under message: %v", err)
	}
	if _, err := s.Send(ctx, "bob", "oi"); err != nil {
		t.Errorf("message answered with ok: %v", err)
	}

	page, err := s.History(ctx, HistoryQuery{Peer: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 2 || page.Skipped != 2 {
		t.Fatalf("history = %+v, want 2 messages and 2 skipped", page)
	}
	first := page.Messages[0]
	if !first.Direct() || first.From != "bob" || first.To != "ana" || first.Clock != 5 {
		t.Errorf("first = %+v, want bob → ana with clock 5", first)
	}
	if want := time.UnixMilli(1733340824738); !first.Time.Equal(want) {
		t.Errorf("time = %v, want %v", first.Time, want)
	}
	if second := page.Messages[1]; second.From != "ana" || second.Time.Year() != 2026 {
		t.Errorf("second = %+v, want from ana in 2026", second)
	}
}

func TestSessionRejectsBadClock(t *testing.T) {
	endpoint := startScripted(t, map[string]map[string]any{
		proto.ServiceUsers: {"users": []any{"ana"}, "clock": -3},
	})
	s := NewSession(SessionConfig{Broker: endpoint, Lang: lang.EN})
	defer s.Close()
	_, err := s.Users(context.Background())
	if !errors.Is(err, ErrBadReply) || err.Error() != "invalid reply from the server" {
		t.Fatalf("err = %v, want ErrBadReply", err)
	}
}

func TestParseMessage(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name  string
		topic string
		data  proto.Data
		want  Message
	}{
		{"post", "geral", proto.Data{"user": "ana", "channel": "geral", "message": "oi", "clock": uint8(3)},
			Message{Channel: "geral", From: "ana", Text: "oi", Clock: 3, Time: now}},
		{"post without channel", "geral", proto.Data{"user": "ana", "message": "oi"},
			Message{Channel: "geral", From: "ana", Text: "oi", Time: now}},
		{"direct with from only", "ana", proto.Data{"from": "bob", "message": "oi"},
			Message{From: "bob", To: "ana", Text: "oi", Time: now}},
		{"direct with src", "ana", proto.Data{"src": "bob", "from": "x", "dst": "ana", "message": "oi", "timestamp": 1.5},
			Message{From: "bob", To: "ana", Text: "oi", Time: time.Unix(1, 5e8).UTC()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMessage(tc.topic, tc.data, now)
			if err != nil {
				t.Fatal(err)
			}
			got.Key = MessageKey{}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}

	for _, bad := range []proto.Data{
		{"user": "ana"},
		{"user": "ana", "message": "oi", "clock": -1},
		{"message": "oi"},
		{"user": "ana", "message": []byte("oi")},
	} {
		if _, err := ParseMessage("", bad, now); err == nil {
			t.Errorf("ParseMessage(%v) succeeded", bad)
		}
	}
}

func TestMessageKeyIgnoresTimestampSpelling(t *testing.T) {
	now := time.Now()
	a, errA := ParseMessage("geral", proto.Data{"user": "ana", "message": "oi", "clock": 7, "timestamp": "2026-12-04T19:33:44.738Z"}, now)
	b, errB := ParseMessage("geral", proto.Data{"user": "ana", "message": "oi", "clock": uint16(7), "timestamp": int64(1796412824738)}, now)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a.Key != b.Key {
		t.Errorf("keys differ: %+v and %+v", a.Key, b.Key)
	}
	c, _ := ParseMessage("geral", proto.Data{"user": "ana", "message": "oi", "clock": 8, "timestamp": "2026-12-04T19:33:44.738Z"}, now)
	if a.Key == c.Key {
		t.Errorf("posts with different clocks share a key")
	}
}
