package broker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/common"
)

func TestNewRejectsInvalidConfig(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"frontend without backend", func(c *Config) { c.Backend = "" }, "--frontend and --backend"},
		{"xpub without xsub", func(c *Config) { c.XSub = "" }, "--xsub and --xpub"},
		{"nothing enabled", func(c *Config) { *c = Config{RequestTimeout: time.Second, Lang: "en"} }, "nothing to run"},
		{"zero request timeout", func(c *Config) { c.RequestTimeout = 0 }, "--request-timeout"},
		{"negative queue timeout", func(c *Config) { c.QueueTimeout = -time.Second }, "--queue-timeout"},
		{"negative hedge delay", func(c *Config) { c.HedgeAfter = -time.Second }, "--hedge-after"},
		{"hedge delay of a millisecond", func(c *Config) { c.HedgeAfter = time.Millisecond }, "--hedge-after"},
		{"zero server credit", func(c *Config) { c.ServerCredit = 0 }, "--server-credit"},
		{"zero subscriber queue", func(c *Config) { c.SubscriberQueue = 0 }, "--subscriber-queue"},
		{"unknown language", func(c *Config) { c.Lang = "fr" }, `"fr"`},
		{"bad endpoint", func(c *Config) { c.Frontend = "ipc:///tmp/x" }, "frontend"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			tc.change(&cfg)
			b, err := New(cfg)
			if err == nil {
				b.Close()
				t.Fatal("New accepted the config")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestConfigErrorsNameFlags(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Config)
		pt, en string
	}{
		{"frontend without backend", func(c *Config) { c.Backend = "" },
			"broker: defina --frontend e --backend juntos, ou deixe os dois vazios",
			"broker: set both --frontend and --backend, or neither"},
		{"xpub without xsub", func(c *Config) { c.XSub = "" },
			"broker: defina --xsub e --xpub juntos, ou deixe os dois vazios",
			"broker: set both --xsub and --xpub, or neither"},
		{"nothing enabled", func(c *Config) { c.Frontend, c.Backend, c.XSub, c.XPub = "", "", "", "" },
			"broker: nada para executar: defina --frontend e --backend, --xsub e --xpub, ou os quatro",
			"broker: nothing to run: set --frontend and --backend, --xsub and --xpub, or all four"},
		{"zero request timeout", func(c *Config) { c.RequestTimeout = 0 },
			"broker: --request-timeout precisa ser positivo, como 3s, e não 0s",
			"broker: --request-timeout must be positive, such as 3s, not 0s"},
		{"negative queue timeout", func(c *Config) { c.QueueTimeout = -time.Second },
			"broker: --queue-timeout precisa ser 0 ou mais, e não -1s",
			"broker: --queue-timeout must be 0 or more, not -1s"},
		{"negative hedge delay", func(c *Config) { c.HedgeAfter = -time.Second },
			"broker: --hedge-after precisa ser 0 (desligado) ou pelo menos 10ms, como 1s, e não -1s",
			"broker: --hedge-after must be 0 (off) or at least 10ms, such as 1s, not -1s"},
		{"zero server credit", func(c *Config) { c.ServerCredit = 0 },
			"broker: --server-credit precisa ser pelo menos 1, e não 0",
			"broker: --server-credit must be at least 1, not 0"},
		{"zero subscriber queue", func(c *Config) { c.SubscriberQueue = 0 },
			"broker: --subscriber-queue precisa ser pelo menos 1, e não 0",
			"broker: --subscriber-queue must be at least 1, not 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for l, want := range map[string]string{lang.PT: tc.pt, lang.EN: tc.en} {
				cfg := testConfig(t)
				cfg.Lang = l
				tc.change(&cfg)
				b, err := New(cfg)
				if err == nil {
					b.Close()
					t.Fatalf("%s: New accepted the config", l)
				}
				if err.Error() != want {
					t.Errorf("%s: error %q, want %q", l, err, want)
				}
			}
		})
	}
}

func TestHalfBrokers(t *testing.T) {
	requestOnly := testConfig(t)
	requestOnly.XSub, requestOnly.XPub = "", ""
	b := startBroker(t, requestOnly)
	if b.FrontendEndpoint() == "" || b.XPubEndpoint() != "" {
		t.Errorf("request-only broker: frontend %q, xpub %q", b.FrontendEndpoint(), b.XPubEndpoint())
	}

	proxyOnly := testConfig(t)
	proxyOnly.Frontend, proxyOnly.Backend = "", ""
	p := startBroker(t, proxyOnly)
	if p.FrontendEndpoint() != "" || p.XPubEndpoint() == "" {
		t.Errorf("proxy-only broker: frontend %q, xpub %q", p.FrontendEndpoint(), p.XPubEndpoint())
	}
}

func TestCommandFlags(t *testing.T) {
	cmd := Command()
	envs := make(map[string]string)
	for _, flag := range cmd.Flags {
		switch f := flag.(type) {
		case *cli.StringFlag:
			envs[f.Name] = strings.Join(f.EnvVars, ",")
		case *cli.IntFlag:
			envs[f.Name] = strings.Join(f.EnvVars, ",")
		case *cli.DurationFlag:
			envs[f.Name] = strings.Join(f.EnvVars, ",")
		}
	}
	for name, env := range map[string]string{
		"frontend":         "MSGSYS_FRONTEND",
		"backend":          "MSGSYS_BACKEND",
		"xsub":             "MSGSYS_XSUB",
		"xpub":             "MSGSYS_XPUB",
		"request-timeout":  "MSGSYS_REQUEST_TIMEOUT",
		"server-credit":    "MSGSYS_SERVER_CREDIT",
		"subscriber-queue": "MSGSYS_SUBSCRIBER_QUEUE",
		"lang":             "MSGSYS_LANG",
	} {
		if envs[name] != env {
			t.Errorf("flag --%s reads %q, want %q", name, envs[name], env)
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ports, err := proto.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}

func TestCommandServesRequests(t *testing.T) {
	frontend := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	app := &cli.App{Name: "msgsys", Flags: common.GlobalFlags(), Commands: []*cli.Command{Command()}}
	args := []string{"msgsys", "--log-level", "error", "broker", "--frontend", frontend,
		"--backend", "tcp://127.0.0.1:0", "--xsub", "", "--xpub", "", "--lang", "en"}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.RunContext(ctx, args) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("command returned %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("command did not stop within 5s of cancellation")
		}
	}()

	// No server is connected, so a request gets the English error reply.
	r := proto.NewRequester(frontend)
	defer r.Close()
	var reply []byte
	waitFor(t, 5*time.Second, "the command to answer a request", func() bool {
		var err error
		reply, err = r.Request(ctx, encodeRequest(t, proto.ServiceUsers, 1), time.Second)
		return err == nil
	})
	if _, text, _ := decodeError(t, reply); text != failureTexts[failNoServer].EN {
		t.Errorf("description = %q, want the English no-server text", text)
	}
}
