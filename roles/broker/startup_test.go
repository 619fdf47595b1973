package broker

import (
	"fmt"
	"testing"

	"msgsys/internal/testkit"
	"msgsys/lang"
)

func TestStartErrorNamesSideInPortuguese(t *testing.T) {
	ln := testkit.ListenLoopback(t)
	busy := "tcp://" + ln.Addr().String()

	cases := []struct {
		side, pt, en string
		set          func(cfg *Config)
	}{
		{"frontend", "a porta de clientes", "the client port", func(cfg *Config) { cfg.Frontend = busy }},
		{"backend", "a porta de servidores", "the server port", func(cfg *Config) { cfg.Backend = busy }},
		{"xsub", "a porta de publicadores", "the publisher port", func(cfg *Config) { cfg.XSub = busy }},
		{"xpub", "a porta de assinantes", "the subscriber port", func(cfg *Config) { cfg.XPub = busy }},
	}
	for _, c := range cases {
		t.Run(c.side, func(t *testing.T) {
			cfg := testConfig(t)
			ports := testkit.LoopbackPorts(t, 4)
			cfg.Frontend = fmt.Sprintf("tcp://127.0.0.1:%d", ports[0])
			cfg.Backend = fmt.Sprintf("tcp://127.0.0.1:%d", ports[1])
			cfg.XSub = fmt.Sprintf("tcp://127.0.0.1:%d", ports[2])
			cfg.XPub = fmt.Sprintf("tcp://127.0.0.1:%d", ports[3])
			c.set(&cfg)
			b, err := New(cfg)
			if err == nil {
				b.Close()
				t.Fatalf("New with %s on a busy port succeeded", c.side)
			}
			if got, want := lang.Describe(err, lang.PT), "broker: não foi possível abrir "+c.pt+" "+busy+": endereço já em uso"; got != want {
				t.Errorf("pt = %q, want %q", got, want)
			}
			if got, want := lang.Describe(err, lang.EN), "broker: cannot open "+c.en+" "+busy+": address already in use"; got != want {
				t.Errorf("en = %q, want %q", got, want)
			}
		})
	}
}

func TestStartErrorInvalidEndpointWorded(t *testing.T) {
	cfg := testConfig(t)
	cfg.Frontend = "127.0.0.1:5555"
	b, err := New(cfg)
	if err == nil {
		b.Close()
		t.Fatal("New with a frontend without tcp:// succeeded")
	}
	if got, want := lang.Describe(err, lang.PT), `broker: endpoint inválido para a porta de clientes: "127.0.0.1:5555" (use tcp://HOST:PORTA)`; got != want {
		t.Errorf("pt = %q, want %q", got, want)
	}
	if got, want := lang.Describe(err, lang.EN), `broker: invalid endpoint for the client port: "127.0.0.1:5555" (use tcp://HOST:PORT)`; got != want {
		t.Errorf("en = %q, want %q", got, want)
	}
	// Logs keep the cause.
	if got, want := err.Error(), `broker: frontend: proto: endpoint "127.0.0.1:5555": only tcp:// is supported`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestInvalidEndpointCheckedBeforeBinding gives the broker a frontend
// whose port another listener holds and an invalid xpub. The invalid
// endpoint is reported, because every endpoint is checked before any is
// bound.
func TestInvalidEndpointCheckedBeforeBinding(t *testing.T) {
	ln := testkit.ListenLoopback(t)
	cfg := testConfig(t)
	cfg.Frontend = "tcp://" + ln.Addr().String()
	cfg.XPub = "bogus"
	b, err := New(cfg)
	if err == nil {
		b.Close()
		t.Fatal("New with an invalid xpub succeeded")
	}
	if got, want := lang.Describe(err, lang.EN), `broker: invalid endpoint for the subscriber port: "bogus" (use tcp://HOST:PORT)`; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}
