package server

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/lang"
	"msgsys/proto"
	"msgsys/replica"
)

type logBuffer = testkit.Buffer

// startLoggedServer starts a cluster of one server that writes its log
// lines in English to the returned buffer.
func startLoggedServer(t *testing.T) (*cluster, *Server, *logBuffer) {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), servers: make(map[string]*node)}
	c.startInfrastructure()
	logs := &logBuffer{}
	cfg := c.config(serverName(1))
	cfg.Lang = "en"
	cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := c.startWith(cfg)
	c.waitServing(1)
	return c, s, logs
}

func TestUnknownPeerServiceLogRateLimited(t *testing.T) {
	_, s, logs := startLoggedServer(t)
	r := proto.NewRequester(s.Addr())
	defer r.Close()

	// A malformed request just before must not hide the warnings.
	if _, err := r.Request(context.Background(), []byte{0xc1}, 5*time.Second); err != nil {
		t.Fatalf("malformed request: %v", err)
	}

	name := strings.Repeat("f", 10_000)
	frame, err := proto.Encode(name, &proto.EmptyRequest{}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		payload, err := r.Request(context.Background(), frame, 5*time.Second)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		env, err := proto.Decode(payload)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		description, _ := env.Data["description"].(string)
		if want := "unknown service: " + proto.QuoteShort(name); description != want {
			t.Errorf("reply %d: description of %d bytes %.100q, want %q", i, len(description), description, want)
		}
	}

	lines := logs.Lines(`msg="unknown peer service"`)
	if len(lines) == 0 || len(lines) >= 5 {
		t.Errorf("5 requests within a second logged %d lines, want at least 1 and fewer than 5", len(lines))
	}
	for _, line := range lines {
		if len(line) > 400 {
			t.Errorf("log line of %d bytes, want the service name cut: %.200s", len(line), line)
		}
	}
}

// TestTooLargeRequestsNameTheirLimit sends requests over the server's
// limit and over the broker's through the broker, in both languages. Each
// error reply must name the process whose limit applied, and that limit.
func TestTooLargeRequestsNameTheirLimit(t *testing.T) {
	c, _, _ := startLoggedServer(t)
	cl := c.client()
	cl.waitAnswered()
	cases := []struct {
		name  string
		bytes int
		lang  string
		want  string
	}{
		{"server limit", 100 << 10, lang.EN, "request too large: the server accepts at most 64 KiB"},
		{"server limit", 100 << 10, lang.PT, "requisição grande demais: o servidor aceita no máximo 64 KiB"},
		{"broker limit", 2 << 20, lang.EN, "request too large: the broker forwards at most 1 MiB"},
		{"broker limit", 2 << 20, lang.PT, "requisição grande demais: o broker encaminha no máximo 1 MiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name+"/"+tc.lang, func(t *testing.T) {
			post := &proto.PublishRequest{User: "ana", Channel: "geral", Message: strings.Repeat("x", tc.bytes)}
			frame, err := proto.Encode(proto.ServicePublish, post, proto.Meta{Clock: 1, Lang: tc.lang})
			if err != nil {
				t.Fatal(err)
			}
			env := cl.raw(frame)
			if status(env) != proto.StatusError {
				t.Errorf("status %q, want %q", status(env), proto.StatusError)
			}
			if message, _ := env.Data["message"].(string); message != tc.want {
				t.Errorf("message %q, want %q", message, tc.want)
			}
		})
	}
}

func TestErrorDescriptionsNameTheProblem(t *testing.T) {
	c, _, _ := startLoggedServer(t)
	cl := c.client()
	cl.waitAnswered()
	binKey := append([]byte{0x82, 0xa7}, "service\xa5users\xc4\x04data\x80"...)
	cases := []struct {
		name  string
		frame []byte
		want  string
	}{
		{"nested too deeply", append(bytes.Repeat([]byte{0x91}, 200_000), 0xc0), "invalid message: nested too deeply, at most 16 levels of maps and arrays"},
		{"bin map key", binKey, "invalid message: map keys must be MessagePack str (text), not bin or another type"},
		{"too large", encodeMap(t, map[string]any{"service": "users", "data": map[string]any{"pad": strings.Repeat("x", 100<<10)}}), "request too large: the server accepts at most 64 KiB"},
		{"reserved name", encodeMap(t, map[string]any{"service": "login", "data": map[string]any{"user": "Servers"}}), `the name "Servers" is reserved for coordinator announcements`},
		{"service int", encodeMap(t, map[string]any{"service": 5}), "the service field must be text (MessagePack str)"},
		{"service bin", encodeMap(t, map[string]any{"service": []byte("users")}), "the service field must be text (MessagePack str)"},
		{"service missing", encodeMap(t, map[string]any{"data": map[string]any{}}), "request without a service field"},
		{"array", []byte{0x93, 0x01, 0x02, 0x03}, "invalid message: the request is not a MessagePack map"},
		{"integer", []byte{0x2a}, "invalid message: the request is not a MessagePack map"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := cl.raw(tc.frame)
			if status(env) != proto.StatusError {
				t.Errorf("status %q in %v, want %q", status(env), env.Data, proto.StatusError)
			}
			if description, _ := env.Data["description"].(string); description != tc.want {
				t.Errorf("description %q, want %q", description, tc.want)
			}
		})
	}
}

// TestHistoryOfTwoTargetsRejected sends history requests that name a
// channel and a conversation at once. The protocol defines no such
// request, so each gets an error instead of the channel alone.
func TestHistoryOfTwoTargetsRejected(t *testing.T) {
	c, _, _ := startLoggedServer(t)
	cl := c.client()
	cl.waitAnswered()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "bia"})
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})

	for _, data := range []map[string]any{
		{"channel": "geral", "user": "ana", "peer": "bia"},
		{"channel": "geral", "peer": "bia"},
		{"channel": "geral", "user": "ana"},
	} {
		env := cl.raw(encodeMap(t, map[string]any{"service": "history", "data": data}))
		if status(env) != proto.StatusError {
			t.Errorf("%v: status %q, want %q", data, status(env), proto.StatusError)
		}
		if message, _ := env.Data["message"].(string); message != "give channel, or user and peer, not both" {
			t.Errorf("%v: message %q, want the two targets named", data, message)
		}
	}
	// An empty user or peer beside a channel counts as absent.
	env := cl.raw(encodeMap(t, map[string]any{"service": "history", "data": map[string]any{"channel": "geral", "user": "", "peer": nil}}))
	if !proto.IsSuccess(status(env)) {
		t.Errorf("channel with an empty user: reply %v, want the channel's history", env.Data)
	}
}

// TestPeerRequestAboveTransportLimitRejected sends the server-to-server
// endpoint a request above the 64 MiB that a connection reads. It gets an
// error reply, the server logs it, and the connection keeps working.
func TestPeerRequestAboveTransportLimitRejected(t *testing.T) {
	_, s, logs := startLoggedServer(t)
	conn, err := proto.Dial(context.Background(), s.Addr(), proto.Req, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))

	if err := conn.Send([]byte{}, make([]byte, proto.MaxMessageBytes+1)); err != nil {
		t.Fatal(err)
	}
	frames, err := conn.Recv()
	if err != nil {
		t.Fatalf("no reply to a request above the transport limit: %v", err)
	}
	if len(frames) != 2 || len(frames[0]) != 0 {
		t.Fatalf("reply of %d frames, want a delimiter and an error", len(frames))
	}
	env, err := proto.Decode(frames[1])
	if err != nil {
		t.Fatal(err)
	}
	if status(env) != proto.StatusError {
		t.Errorf("status %q, want %q", status(env), proto.StatusError)
	}
	if description, _ := env.Data["description"].(string); !strings.HasPrefix(description, "request too large") {
		t.Errorf("description %q, want a request too large", description)
	}
	if len(logs.Lines(`reason="too large"`)) == 0 {
		t.Errorf("no log line for the request above the transport limit; log:\n%s", logs.String())
	}

	// The connection stayed in step: the next request gets its reply.
	frame, err := proto.Encode(proto.ServiceClock, &proto.EmptyRequest{}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Send([]byte{}, frame); err != nil {
		t.Fatal(err)
	}
	frames, err = conn.Recv()
	if err != nil || len(frames) != 2 {
		t.Fatalf("reply to the next request: %d frames, err %v", len(frames), err)
	}
	if env, err := proto.Decode(frames[1]); err != nil || env.Service != proto.ServiceClock {
		t.Errorf("reply to the next request: service %q, err %v, want the clock reply", env.Service, err)
	}
}

// TestPeerErrorsInEnglish sends a malformed request to the server-to-server
// endpoint of a server that runs in Portuguese. Servers send these
// requests and log the descriptions, so they are English unless the
// request names a language.
func TestPeerErrorsInEnglish(t *testing.T) {
	_, r := startPeerRequester(t)

	cases := []struct {
		name string
		data map[string]any
		want string
	}{
		{"no language", map[string]any{"clock": -1}, "invalid logical clock: it must be an integer from 0 to 2^53-1"},
		{"portuguese requested", map[string]any{"clock": -1, "lang": "pt"}, "relógio lógico inválido: deve ser um inteiro de 0 a 2^53-1"},
	}
	for _, tc := range cases {
		env := askRaw(t, r, encodeMap(t, map[string]any{"service": proto.ServiceClock, "data": tc.data}))
		if description, _ := env.Data["description"].(string); description != tc.want {
			t.Errorf("%s: description %q, want %q", tc.name, description, tc.want)
		}
	}
}

// TestPeerRejectsWrongFields sends server-to-server requests whose fields
// have the wrong type or value. Each gets an error reply instead of the
// success that ignoring the field would give.
func TestPeerRejectsWrongFields(t *testing.T) {
	s, r := startPeerRequester(t)

	cases := []struct {
		name    string
		service string
		data    map[string]any
	}{
		{"election with a text epoch", proto.ServiceElection, map[string]any{"epoch": "x"}},
		{"election with a negative epoch", proto.ServiceElection, map[string]any{"epoch": -1}},
		{"announcement without a coordinator", serviceCoordinator, map[string]any{}},
		{"announcement with a text epoch", serviceCoordinator, map[string]any{"coordinator": "server-9", "epoch": "5"}},
		{"replicate without an origin", replica.ServiceReplicate, map[string]any{}},
	}
	for _, tc := range cases {
		env := askRaw(t, r, encodeMap(t, map[string]any{"service": tc.service, "data": tc.data}))
		if status(env) != proto.StatusError {
			t.Errorf("%s: reply %v, want an error", tc.name, env.Data)
		}
	}
	if a, _ := s.Coordinator(); a.Coordinator != serverName(1) {
		t.Errorf("coordinator %q after the bad announcements, want server-1", a.Coordinator)
	}

	// A frame of junk over the limit is described by its size.
	env := askRaw(t, r, bytes.Repeat([]byte{0xc1}, proto.MaxFrameBytes+1))
	if description, _ := env.Data["description"].(string); !strings.Contains(description, "too large") {
		t.Errorf("oversized junk described as %q, want it called too large", description)
	}
}

// startPeerRequester starts a one-server cluster and returns its server
// and a requester on its server-to-server endpoint.
func startPeerRequester(t *testing.T) (*Server, *proto.Requester) {
	c := startCluster(t, 1)
	s := c.servers[serverName(1)].server
	r := proto.NewRequester(s.Addr())
	t.Cleanup(func() { r.Close() })
	return s, r
}

// askRaw sends frame to a server-to-server endpoint and decodes the reply.
func askRaw(t *testing.T, r *proto.Requester, frame []byte) proto.Envelope {
	t.Helper()
	payload, err := r.Request(context.Background(), frame, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	env, err := proto.Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	return env
}
