package server

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"msgsys/proto"
	"msgsys/store"
)

func TestClientServicesEndToEnd(t *testing.T) {
	c := startCluster(t, 3)
	cl := c.client()

	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "bob"})
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "Ana"}) // a second login of the same name

	users := proto.AsStrings(cl.call(proto.ServiceUsers, &proto.EmptyRequest{}).Data["users"])
	if strings.Join(users, ",") != "ana,bob" {
		t.Fatalf("users = %v", users)
	}

	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})
	dup := cl.call(proto.ServiceChannel, &proto.ChannelRequest{Channel: "GERAL"})
	if status(dup) != proto.StatusError {
		t.Fatalf("duplicate channel: %v", dup.Data)
	}
	// The description names the channel as stored, which /join takes.
	if description, _ := dup.Data["description"].(string); !strings.HasSuffix(description, ": geral") {
		t.Errorf("duplicate channel described as %q, want it to name geral as stored", description)
	}
	channels := cl.call(proto.ServiceChannels, &proto.EmptyRequest{})
	if got := proto.AsStrings(channels.Data["channels"]); strings.Join(got, ",") != "geral" {
		t.Fatalf("channels = %v", got)
	}
	if got := proto.AsStrings(channels.Data["users"]); strings.Join(got, ",") != "geral" {
		t.Fatalf("channels under users = %v", got)
	}

	sub := proto.NewSubscriber(c.xpub, testLogger(t))
	sub.Subscribe("geral")
	sub.Subscribe("bob")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sub.Run(ctx)
	<-sub.Connected()

	// Publications sent before the subscription reaches the proxy are
	// lost, as pub/sub is lossy; post until one arrives.
	var post proto.Data
	waitFor(t, 5*time.Second, "a post delivered on topic geral", func() bool {
		cl.mustSucceed(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: "olá, pessoal"})
		select {
		case d := <-sub.Deliveries():
			if d.Topic != "geral" {
				t.Fatalf("topic %q", d.Topic)
			}
			data, err := proto.DecodeData(d.Payload)
			if err != nil {
				t.Fatal(err)
			}
			post = data
			return true
		case <-time.After(200 * time.Millisecond):
			return false
		}
	})
	if post["user"] != "ana" || post["channel"] != "geral" || post["message"] != "olá, pessoal" {
		t.Fatalf("post = %v", post)
	}
	if clock, err := post.Clock(); err != nil || clock == 0 {
		t.Fatalf("post clock %v, %v", clock, err)
	}

	cl.mustSucceed(proto.ServiceMessage, &proto.DirectRequest{Src: "ana", Dst: "bob", Message: "oi, bob"})
	waitFor(t, 5*time.Second, "a direct message on topic bob", func() bool {
		select {
		case d := <-sub.Deliveries():
			data, _ := proto.DecodeData(d.Payload)
			return d.Topic == "bob" && data["src"] == "ana" && data["from"] == "ana" && data["dst"] == "bob" && data["message"] == "oi, bob"
		case <-time.After(time.Second):
			return false
		}
	})

	history := cl.mustSucceed(proto.ServiceHistory, &proto.HistoryRequest{Channel: "geral"})
	messages, _ := history.Data["messages"].([]any)
	if len(messages) == 0 {
		t.Fatalf("history empty: %v", history.Data)
	}
	conversation := cl.mustSucceed(proto.ServiceHistory, &proto.HistoryRequest{User: "bob", Peer: "ana"})
	if got, _ := conversation.Data["messages"].([]any); len(got) != 1 {
		t.Fatalf("conversation = %v", conversation.Data)
	}
}

func TestBadInputGetsErrorReplies(t *testing.T) {
	c := startCluster(t, 1)
	cl := c.client()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})

	cases := []struct {
		name    string
		frame   []byte
		service string
	}{
		{"malformed msgpack", []byte{0xc1, 0x00, 0xff}, proto.ServiceError},
		{"not a map", []byte{0x92, 0x01, 0x02}, proto.ServiceError},
		{"unknown service", encodeMap(t, map[string]any{"service": "teleport", "data": map[string]any{}}), proto.ServiceError},
		{"user not a string", encodeMap(t, map[string]any{"service": "login", "data": map[string]any{"user": 42}}), proto.ServiceLogin},
		{"user as bin", encodeMap(t, map[string]any{"service": "login", "data": map[string]any{"user": []byte("ana")}}), proto.ServiceLogin},
		{"missing user", encodeMap(t, map[string]any{"service": "login", "data": map[string]any{}}), proto.ServiceLogin},
		{"invalid name", encodeMap(t, map[string]any{"service": "login", "data": map[string]any{"user": "ana maria"}}), proto.ServiceLogin},
		{"reserved name", encodeMap(t, map[string]any{"service": "channel", "data": map[string]any{"channel": "servers"}}), proto.ServiceChannel},
		{"name too long", encodeMap(t, map[string]any{"service": "login", "data": map[string]any{"user": strings.Repeat("a", 33)}}), proto.ServiceLogin},
		{"negative clock", encodeMap(t, map[string]any{"service": "users", "data": map[string]any{"clock": -1}}), proto.ServiceUsers},
		{"timestamp of the wrong type", encodeMap(t, map[string]any{"service": "publish", "data": map[string]any{"user": "ana", "channel": "geral", "message": "oi", "timestamp": true}}), proto.ServicePublish},
		{"timestamp in no known form", encodeMap(t, map[string]any{"service": "publish", "data": map[string]any{"user": "ana", "channel": "geral", "message": "oi", "timestamp": "ontem"}}), proto.ServicePublish},
		{"oversized text", encodeMap(t, map[string]any{"service": "publish", "data": map[string]any{"user": "ana", "channel": "geral", "message": strings.Repeat("é", 5000)}}), proto.ServicePublish},
		{"unknown channel", encodeMap(t, map[string]any{"service": "publish", "data": map[string]any{"user": "ana", "channel": "nada", "message": "oi"}}), proto.ServicePublish},
		{"unknown recipient", encodeMap(t, map[string]any{"service": "message", "data": map[string]any{"src": "ana", "dst": "ninguem", "message": "oi"}}), proto.ServiceMessage},
		// The broker refuses it as too large, under its service.
		{"huge frame", encodeMap(t, map[string]any{"service": "publish", "data": map[string]any{"message": strings.Repeat("x", 3<<20)}}), proto.ServicePublish},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := cl.raw(tc.frame)
			if env.Service != tc.service {
				t.Errorf("service = %q, want %q", env.Service, tc.service)
			}
			if status(env) != proto.StatusError {
				t.Errorf("status = %q in %v", status(env), env.Data)
			}
			description, _, _ := env.Data.OptString("description")
			message, _, _ := env.Data.OptString("message")
			if description == "" && message == "" {
				t.Errorf("no reason in %v", env.Data)
			}
		})
	}

	// A bad timestamp gets a reason that names the accepted forms, in the
	// language the request names, under the key of its service.
	const (
		badStampPT = "timestamp inválido: use ISO 8601 (2026-12-05T13:07:04.328Z) ou segundos Unix"
		badStampEN = "invalid timestamp: use ISO 8601 (2026-12-05T13:07:04.328Z) or Unix seconds"
	)
	stampCases := []struct {
		service string
		data    map[string]any
		key     string
		want    string
	}{
		{proto.ServicePublish, map[string]any{"user": "ana", "channel": "geral", "message": "oi", "timestamp": "ontem"}, "message", badStampPT},
		{proto.ServicePublish, map[string]any{"user": "ana", "channel": "geral", "message": "oi", "timestamp": true, "lang": "en"}, "message", badStampEN},
		{proto.ServiceMessage, map[string]any{"src": "ana", "dst": "ana", "message": "oi", "timestamp": "2026-13-45"}, "message", badStampPT},
		{proto.ServiceHistory, map[string]any{"channel": "geral", "timestamp": "2026-12-05T13:07:04Zjunk", "lang": "en"}, "message", badStampEN},
		{proto.ServiceLogin, map[string]any{"user": "ana", "timestamp": ""}, "description", badStampPT},
		{proto.ServiceUsers, map[string]any{"timestamp": []any{1}, "lang": "en"}, "description", badStampEN},
	}
	for _, tc := range stampCases {
		t.Run(fmt.Sprintf("%s timestamp %v", tc.service, tc.data["timestamp"]), func(t *testing.T) {
			env := cl.raw(encodeMap(t, map[string]any{"service": tc.service, "data": tc.data}))
			if env.Service != tc.service || status(env) != proto.StatusError {
				t.Fatalf("reply %q %v, want an error reply to %q", env.Service, env.Data, tc.service)
			}
			if got, _, _ := env.Data.OptString(tc.key); got != tc.want {
				t.Errorf("%s = %q, want %q", tc.key, got, tc.want)
			}
		})
	}

	// The server is still serving.
	cl.mustSucceed(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: "ainda aqui"})
}

// TestTimestampVariantsAccepted sends a post with each timestamp form the
// protocol lets other implementations send.
func TestTimestampVariantsAccepted(t *testing.T) {
	c := startCluster(t, 1)
	cl := c.client()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})

	variants := map[string]any{
		"seconds":            int64(1796412824),
		"float seconds":      1796412824.738,
		"milliseconds":       int64(1796412824738),
		"rfc 3339":           "2026-12-04T19:33:44.738Z",
		"iso without a zone": "2026-12-04T19:33:44",
		"iso with a space":   "2026-12-04 19:33:44.738+00:00",
		"hour-only offset":   "2026-12-05 13:07:04.328+00",
		"minutes, no zone":   "2026-12-05T13:07",
		"minutes with zone":  "2026-12-05T13:07+01:00",
		"lowercase t and z":  "2026-12-05t13:07:04.328z",
		"basic format":       "20261205T130704.328+0100",
		"leap second":        "2026-12-31T23:59:60Z",
		"comma fraction":     "20261205T130704,328Z",
		"extension":          time.Date(2026, 12, 4, 19, 33, 44, 0, time.UTC),
		"nil":                nil,
	}
	for name, stamp := range variants {
		data := map[string]any{"user": "ana", "channel": "geral", "message": "oi", "timestamp": stamp}
		env := cl.raw(encodeMap(t, map[string]any{"service": "publish", "data": data}))
		if !proto.IsSuccess(status(env)) {
			t.Errorf("%s: publish with timestamp %#v failed: %v", name, stamp, env.Data)
		}
	}
}

// TestErrorsInRequestedLanguage posts to an unknown channel of a server
// that runs in Portuguese, asking for each language in turn.
func TestErrorsInRequestedLanguage(t *testing.T) {
	c := startCluster(t, 1)
	cl := c.client()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})

	cases := []struct{ requested, want string }{
		{"en", "channel not found: nada"},
		{"EN-us", "channel not found: nada"},
		{"pt", "canal não encontrado: nada"},
		{"", "canal não encontrado: nada"},
		{"fr", "canal não encontrado: nada"},
	}
	for _, tc := range cases {
		data := map[string]any{"user": "ana", "channel": "nada", "message": "oi", "lang": tc.requested}
		env := cl.raw(encodeMap(t, map[string]any{"service": "publish", "data": data}))
		if got, _, _ := env.Data.OptString("message"); got != tc.want {
			t.Errorf("lang %q: message %q, want %q", tc.requested, got, tc.want)
		}
	}
}

func encodeMap(t *testing.T, m map[string]any) []byte {
	t.Helper()
	frame, err := encodeAny(m)
	if err != nil {
		t.Fatal(err)
	}
	return frame
}

func TestReadYourWritesThroughRoundRobin(t *testing.T) {
	c := startCluster(t, 3)
	cl := c.client()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})
	for i := range 60 {
		text := fmt.Sprintf("mensagem %d", i)
		cl.mustSucceed(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: text})
		history := cl.mustSucceed(proto.ServiceHistory, &proto.HistoryRequest{Channel: "geral", Limit: 1})
		messages, _ := history.Data["messages"].([]any)
		if len(messages) != 1 {
			t.Fatalf("after post %d: history %v", i, history.Data)
		}
		if got := messages[0].(map[string]any)["message"]; got != text {
			t.Fatalf("after post %d: newest is %v", i, got)
		}
	}

	waitFor(t, 5*time.Second, "identical dumps", func() bool {
		first := dumpOf(t, c.servers["server-1"].server)
		return dumpOf(t, c.servers["server-2"].server) == first && dumpOf(t, c.servers["server-3"].server) == first
	})
}

func TestRetryIsAppliedOnce(t *testing.T) {
	c := startCluster(t, 3)
	cl := c.client()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})

	frame := encodeMap(t, map[string]any{"service": "publish", "data": map[string]any{
		"user": "ana", "channel": "geral", "message": "só uma vez", "id": "c0ffee-1", "clock": 7,
	}})
	for range 3 {
		if env := cl.raw(frame); !proto.IsSuccess(status(env)) {
			t.Fatalf("retry: %v", env.Data)
		}
	}
	history := cl.mustSucceed(proto.ServiceHistory, &proto.HistoryRequest{Channel: "geral"})
	if messages, _ := history.Data["messages"].([]any); len(messages) != 1 {
		t.Fatalf("history has %d messages, want 1", len(messages))
	}

	// Without an id, two identical requests are two messages.
	plain := encodeMap(t, map[string]any{"service": "publish", "data": map[string]any{"user": "ana", "channel": "geral", "message": "ok"}})
	cl.raw(plain)
	cl.raw(plain)
	history = cl.mustSucceed(proto.ServiceHistory, &proto.HistoryRequest{Channel: "geral"})
	if messages, _ := history.Data["messages"].([]any); len(messages) != 3 {
		t.Fatalf("history has %d messages, want 3", len(messages))
	}
}

// TestRetryAfterSpellingChange resends a post after a login of its
// author in another spelling, first in the total order, has arrived from
// another server, so that the store shows the author in that spelling.
// The retry must still be recognised.
func TestRetryAfterSpellingChange(t *testing.T) {
	c := startCluster(t, 1)
	cl := c.client()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "zed"})
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})

	frame := encodeMap(t, map[string]any{"service": "publish", "data": map[string]any{
		"user": "zed", "channel": "geral", "message": "só uma vez", "id": "c0ffee-2",
	}})
	if env := cl.raw(frame); !proto.IsSuccess(status(env)) {
		t.Fatalf("first attempt: %v", env.Data)
	}

	// Clock 1 puts the other login before every op of this cluster.
	other := store.Op{Origin: "elsewhere@00000001", Seq: 1, Rank: 9, Clock: 1, Time: time.Now().UnixNano(), Kind: store.KindLogin, User: "Zed"}
	for name, n := range c.servers {
		st := n.server.Store()
		if _, err := st.Receive([]store.Op{other}); err != nil {
			t.Fatalf("%s: receive: %v", name, err)
		}
		waitFor(t, 5*time.Second, name+" to show the author as Zed", func() bool {
			shownName, _ := st.UserName("zed")
			return shownName == "Zed"
		})
	}

	if env := cl.raw(frame); !proto.IsSuccess(status(env)) {
		t.Fatalf("retry: %v", env.Data)
	}
	history := cl.mustSucceed(proto.ServiceHistory, &proto.HistoryRequest{Channel: "geral"})
	if messages, _ := history.Data["messages"].([]any); len(messages) != 1 {
		t.Fatalf("history has %d messages, want 1", len(messages))
	}
}

// TestReusedIDIsNotARetry sends writes of other content under an id in
// use, as a client that counts its ids does, and checks that each is
// stored rather than taken for a retry of the first.
func TestReusedIDIsNotARetry(t *testing.T) {
	c := startCluster(t, 3)
	cl := c.client()
	send := func(service string, data map[string]any) {
		t.Helper()
		data["id"] = "1"
		if env := cl.raw(encodeMap(t, map[string]any{"service": service, "data": data})); !proto.IsSuccess(status(env)) {
			t.Fatalf("%s %v: %v", service, data, env.Data)
		}
	}
	send("login", map[string]any{"user": "bob"})
	send("login", map[string]any{"user": "carol"})
	send("channel", map[string]any{"channel": "geral"})
	send("channel", map[string]any{"channel": "estudos"})
	send("publish", map[string]any{"user": "bob", "channel": "geral", "message": "do bob"})
	send("publish", map[string]any{"user": "carol", "channel": "geral", "message": "da carol"})
	send("message", map[string]any{"src": "bob", "dst": "carol", "message": "oi"})
	send("message", map[string]any{"src": "bob", "dst": "carol", "message": "tudo bem?"})

	for name, srv := range c.servers {
		store := srv.server.Store()
		for _, user := range []string{"bob", "carol"} {
			if _, ok := store.UserName(user); !ok {
				t.Errorf("%s lacks user %s", name, user)
			}
		}
		for _, channel := range []string{"geral", "estudos"} {
			if !store.HasChannel(channel) {
				t.Errorf("%s lacks channel %s", name, channel)
			}
		}
	}
	history := cl.mustSucceed(proto.ServiceHistory, &proto.HistoryRequest{Channel: "geral"})
	if messages, _ := history.Data["messages"].([]any); len(messages) != 2 {
		t.Errorf("geral has %d posts, want 2", len(messages))
	}
	history = cl.mustSucceed(proto.ServiceHistory, &proto.HistoryRequest{User: "bob", Peer: "carol"})
	if messages, _ := history.Data["messages"].([]any); len(messages) != 2 {
		t.Errorf("conversation has %d messages, want 2", len(messages))
	}
}

// TestIntegerAndLongIDs checks the ids of clients that number their
// requests: ignored on reads, keyed in decimal on writes, and a clear
// error for an id over 64 bytes.
func TestIntegerAndLongIDs(t *testing.T) {
	c := startCluster(t, 1)
	cl := c.client()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})

	if env := cl.raw(encodeMap(t, map[string]any{"service": "users", "data": map[string]any{"id": 7}})); env.Data["users"] == nil {
		t.Errorf("users with an integer id: %v, want the list", env.Data)
	}
	post := encodeMap(t, map[string]any{"service": "publish", "data": map[string]any{"user": "ana", "channel": "geral", "message": "numerada", "id": 8}})
	for range 2 {
		if env := cl.raw(post); !proto.IsSuccess(status(env)) {
			t.Fatalf("publish with an integer id: %v", env.Data)
		}
	}
	// A uint64 above the int64 range is an integer id too.
	huge := encodeMap(t, map[string]any{"service": "publish", "data": map[string]any{"user": "ana", "channel": "geral", "message": "grande", "id": uint64(math.MaxUint64)}})
	for range 2 {
		if env := cl.raw(huge); !proto.IsSuccess(status(env)) {
			t.Fatalf("publish with a uint64 id: %v", env.Data)
		}
	}
	history := cl.mustSucceed(proto.ServiceHistory, &proto.HistoryRequest{Channel: "geral"})
	if messages, _ := history.Data["messages"].([]any); len(messages) != 2 {
		t.Errorf("history has %d messages after two repeated integer ids, want 2", len(messages))
	}

	long := encodeMap(t, map[string]any{"service": "login", "data": map[string]any{"user": "bia", "id": strings.Repeat("x", 65), "lang": "en"}})
	env := cl.raw(long)
	if proto.IsSuccess(status(env)) {
		t.Fatalf("login with a 65-byte id succeeded: %v", env.Data)
	}
	if text, _, _ := env.Data.OptString("description"); text != "invalid id: at most 64 bytes" {
		t.Errorf("description = %q, want the 64-byte limit named", text)
	}
}

// postsKeepOrder posts six numbered messages as ana to geral and checks
// that history lists them in the order sent.
func postsKeepOrder(t *testing.T, cl *client) {
	t.Helper()
	for i := range 6 {
		cl.mustSucceed(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: fmt.Sprintf("passo %d", i)})
	}
	history := cl.mustSucceed(proto.ServiceHistory, &proto.HistoryRequest{Channel: "geral"})
	messages, _ := history.Data["messages"].([]any)
	var got []string
	for _, m := range messages {
		if text, ok := m.(map[string]any)["message"].(string); ok {
			got = append(got, text)
		}
	}
	if want := "passo 0,passo 1,passo 2,passo 3,passo 4,passo 5"; strings.Join(got, ",") != want {
		t.Errorf("history %v, want the posts in the order sent", got)
	}
}

// TestPeerClockCannotStopServerClocks sends a request to a server's peer
// port whose clock is the largest the protocol allows, as anyone who
// reaches that port without a cluster key can. The server's clock moves by
// a bounded step, and later posts keep their order in history.
func TestPeerClockCannotStopServerClocks(t *testing.T) {
	c := startCluster(t, 3)
	cl := c.client()
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	target := c.servers["server-2"].server
	conn, err := proto.Dial(ctx, target.Addr(), proto.Dealer, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	frame, err := proto.Encode(proto.ServiceClock, &proto.EmptyRequest{}, proto.Meta{Clock: proto.MaxClock})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Send([]byte{}, frame); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Recv(); err != nil {
		t.Fatalf("no reply to the clock request: %v", err)
	}
	if got := target.cfg.Clocks.Lamport.Value(); got > 1<<33 {
		t.Errorf("clock %d after the request, want at most a step of %d", got, uint64(proto.MaxPeerJump))
	}

	postsKeepOrder(t, cl)
}

// TestClientClockCannotStopServerClocks sends a login whose clock is the
// largest the protocol allows, and checks that the servers' clocks moved
// by a bounded step, so that later posts still get rising clocks and keep
// their order in history.
func TestClientClockCannotStopServerClocks(t *testing.T) {
	c := startCluster(t, 3)
	cl := c.client()
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})

	hostile := c.client()
	hostile.clocks.Lamport.Witness(proto.MaxClock)
	hostile.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "mallory"})
	for name, srv := range c.servers {
		if got := srv.server.cfg.Clocks.Lamport.Value(); got > 1<<21 {
			t.Errorf("%s clock %d after the request, want at most a step of %d", name, got, proto.MaxClientJump)
		}
	}

	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	postsKeepOrder(t, cl)
}
