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
