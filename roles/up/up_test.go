package up

import (
	"bytes"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"msgsys/lang"
)

func TestLineWriterTagsWholeLines(t *testing.T) {
	var buf bytes.Buffer
	out := newOutput(&buf, 9, false)
	w := out.writer("server-1", 1)

	for _, part := range []string{"first li", "ne\nsecond line\nthi", "rd"} {
		if n, err := w.Write([]byte(part)); err != nil || n != len(part) {
			t.Fatalf("Write(%q) = %d, %v", part, n, err)
		}
	}
	want := "server-1  | first line\nserver-1  | second line\n"
	if buf.String() != want {
		t.Errorf("before Flush:\n%q\nwant\n%q", buf.String(), want)
	}
	w.Flush()
	want += "server-1  | third\n"
	if buf.String() != want {
		t.Errorf("after Flush:\n%q\nwant\n%q", buf.String(), want)
	}
	w.Flush()
	if buf.String() != want {
		t.Errorf("a second Flush wrote %q", strings.TrimPrefix(buf.String(), want))
	}
}

func TestLineWriterKeepsLastLine(t *testing.T) {
	w := newOutput(&bytes.Buffer{}, 9, false).writer("server-1", 1)
	if got := w.LastLine(); got != "" {
		t.Errorf("LastLine before any write = %q, want none", got)
	}
	if _, err := w.Write([]byte("first\nmsgsys: server: data dir")); err != nil {
		t.Fatal(err)
	}
	if got := w.LastLine(); got != "first" {
		t.Errorf("LastLine with a partial line = %q, want %q", got, "first")
	}
	w.Flush()
	if got, want := w.LastLine(), "msgsys: server: data dir"; got != want {
		t.Errorf("LastLine after Flush = %q, want %q", got, want)
	}
}

func TestLineWriterSplitsLongLine(t *testing.T) {
	var buf bytes.Buffer
	w := newOutput(&buf, 2, false).writer("up", 0)
	long := strings.Repeat("x", maxLineBytes+10)
	if _, err := w.Write([]byte(long)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 1 || len(lines[0]) != len("up | ")+len(long) {
		t.Fatalf("wrote %d lines of %d bytes, want the whole text as one line", len(lines), len(buf.String()))
	}
}

func TestTagColouredOnlyWhenAsked(t *testing.T) {
	plain := string(newOutput(nil, 6, false).prefix("broker", 2))
	if plain != "broker | " {
		t.Errorf("plain tag = %q", plain)
	}
	colored := string(newOutput(nil, 6, true).prefix("broker", 2))
	if !strings.HasPrefix(colored, "\x1b[") || !strings.Contains(colored, "broker | ") || !strings.HasSuffix(colored, "\x1b[0m") {
		t.Errorf("coloured tag = %q", colored)
	}
}

func TestSkewSpreadsEvenly(t *testing.T) {
	cases := []struct {
		n    int
		want []time.Duration
	}{
		{1, []time.Duration{0}},
		{2, []time.Duration{-time.Second, time.Second}},
		{3, []time.Duration{-time.Second, 0, time.Second}},
		{5, []time.Duration{-time.Second, -500 * time.Millisecond, 0, 500 * time.Millisecond, time.Second}},
	}
	for _, c := range cases {
		var got []time.Duration
		for i := 1; i <= c.n; i++ {
			got = append(got, skew(i, c.n))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("skews of %d servers = %v, want %v", c.n, got, c.want)
		}
	}
}

func newTestUp(t *testing.T, edit func(*Config)) *Up {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Executable = "/bin/true"
	cfg.Output = &bytes.Buffer{}
	cfg.Lang = "pt"
	if edit != nil {
		edit(&cfg)
	}
	u, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSpecsUseStandardPorts(t *testing.T) {
	u := newTestUp(t, func(cfg *Config) {
		cfg.PortBase = 7000
		cfg.Data = "d"
		cfg.Skew = true
		cfg.Restart = true
	})
	specs := u.specs()
	var names []string
	for _, s := range specs {
		names = append(names, s.name)
	}
	want := []string{"reference", "broker", "server-1", "server-2", "server-3", "bot-1", "bot-2"}
	if !slices.Equal(names, want) {
		t.Fatalf("children = %v, want %v", names, want)
	}

	args := func(i int) string { return strings.Join(specs[i].args, " ") }
	checks := []struct {
		child int
		want  string
	}{
		{0, "reference --bind tcp://127.0.0.1:7004 --data d/reference --lang pt"},
		{1, "--frontend tcp://127.0.0.1:7000 --backend tcp://127.0.0.1:7001 --xsub tcp://127.0.0.1:7002 --xpub tcp://127.0.0.1:7003"},
		{2, "--name server-1 --rank 1 --addr tcp://127.0.0.1:7005 --bind tcp://127.0.0.1:7005 --data d/server-1"},
		{2, "--broker tcp://127.0.0.1:7001 --pub tcp://127.0.0.1:7002 --sub tcp://127.0.0.1:7003 --reference tcp://127.0.0.1:7004"},
		{2, "--clock-skew=-1s"},
		{3, "--clock-skew=0s"},
		{4, "--rank 3 --addr tcp://127.0.0.1:7007"},
		{4, "--clock-skew=1s"},
		{5, "bot --user bot_1 --broker tcp://127.0.0.1:7000 --sub tcp://127.0.0.1:7003"},
	}
	for _, c := range checks {
		if !strings.Contains(args(c.child), c.want) {
			t.Errorf("%s args %q lack %q", specs[c.child].name, args(c.child), c.want)
		}
	}
	for _, s := range specs {
		if got, want := s.restart, s.role() != "bot"; got != want {
			t.Errorf("%s restart = %v, want %v", s.name, got, want)
		}
	}
	if ports := u.ports(); ports[0] != 7000 || ports[len(ports)-1] != 7007 || len(ports) != 8 {
		t.Errorf("ports = %v, want 7000 to 7007", ports)
	}
}

func TestSpecsWithoutSkew(t *testing.T) {
	for _, s := range newTestUp(t, nil).specs() {
		if strings.Contains(strings.Join(s.args, " "), "clock-skew") || s.restart {
			t.Errorf("%s: args %v, restart %v", s.name, s.args, s.restart)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cases := map[string]func(*Config){
		"no servers":    func(c *Config) { c.Servers = 0 },
		"negative bots": func(c *Config) { c.Bots = -1 },
		"port too high": func(c *Config) { c.PortBase = 65530 },
		"zero port":     func(c *Config) { c.PortBase = 0 },
		"empty data":    func(c *Config) { c.Data = "" },
		"unknown lang":  func(c *Config) { c.Lang = "fr" },
		"zero timeout":  func(c *Config) { c.StopTimeout = 0 },
	}
	for name, edit := range cases {
		cfg := DefaultConfig()
		cfg.Executable = "/bin/true"
		edit(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
}

func TestConfigErrorsNameFlags(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*Config)
		pt, en string
	}{
		{"no servers", func(c *Config) { c.Servers = 0 },
			"up: --servers precisa ser pelo menos 1, e não 0",
			"up: --servers must be at least 1, not 0"},
		{"negative bots", func(c *Config) { c.Bots = -1 },
			"up: --bots precisa ser 0 ou mais, e não -1",
			"up: --bots must be 0 or more, not -1"},
		{"port too high", func(c *Config) { c.PortBase = 65530 },
			"up: --port-base precisa estar entre 1 e 65528 com 3 servidores, porque o cluster usa as portas de base a base+7, e não 65530",
			"up: --port-base must be from 1 to 65528 with 3 servers, because the cluster uses the ports from base to base+7, not 65530"},
		{"zero port", func(c *Config) { c.PortBase, c.Servers = 0, 1 },
			"up: --port-base precisa estar entre 1 e 65530 com 1 servidor, porque o cluster usa as portas de base a base+5, e não 0",
			"up: --port-base must be from 1 to 65530 with 1 server, because the cluster uses the ports from base to base+5, not 0"},
		{"empty data", func(c *Config) { c.Data = "" },
			"up: --data não pode ser vazio",
			"up: --data must not be empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for l, want := range map[string]string{lang.PT: c.pt, lang.EN: c.en} {
				cfg := DefaultConfig()
				cfg.Executable = "/bin/true"
				cfg.Lang = l
				c.edit(&cfg)
				_, err := New(cfg)
				if err == nil {
					t.Fatalf("%s: New accepted the config", l)
				}
				if err.Error() != want {
					t.Errorf("%s: error %q, want %q", l, err.Error(), want)
				}
			}
		})
	}
}

func TestInstructionsInBothLanguages(t *testing.T) {
	t.Setenv("LANG", "pt_BR.UTF-8")
	t.Setenv("MSGSYS_LANG", "")
	pt := newTestUp(t, nil).instructions([]string{"server-1=42"}, 3)
	for _, want := range []string{
		"msgsys no ar: 3 servidores e 2 bots",
		"    go run . client\n",
		"    msgsys client --broker tcp://127.0.0.1:5555 --sub tcp://127.0.0.1:5558\n",
		"    go run . status\n",
		"    msgsys status\n",
		"server-1=42",
		"Ctrl-C",
	} {
		if !strings.Contains(pt, want) {
			t.Errorf("Portuguese instructions lack %q:\n%s", want, pt)
		}
	}

	en := newTestUp(t, func(cfg *Config) {
		cfg.Lang = "en"
		cfg.PortBase = 6000
		cfg.Servers, cfg.Bots = 1, 1
	}).instructions(nil, 1)
	for _, want := range []string{
		"msgsys is up: 1 server and 1 bot",
		"    go run . client --broker tcp://127.0.0.1:6000 --sub tcp://127.0.0.1:6003 --lang en\n",
		"    go run . status --reference tcp://127.0.0.1:6004 --lang en\n",
		"    msgsys status --reference tcp://127.0.0.1:6004 --lang en\n",
		"To connect a client",
	} {
		if !strings.Contains(en, want) {
			t.Errorf("English instructions lack %q:\n%s", want, en)
		}
	}
}

func TestInstructionsHintClusterKey(t *testing.T) {
	t.Setenv("MSGSYS_LANG", "")
	t.Setenv("MSGSYS_CLUSTER_KEY", "")
	if text := newTestUp(t, func(cfg *Config) { cfg.Lang = "en" }).instructions(nil, 1); strings.Contains(text, "MSGSYS_CLUSTER_KEY") {
		t.Errorf("instructions without a key mention it:\n%s", text)
	}

	t.Setenv("MSGSYS_CLUSTER_KEY", "secret-key")
	en := newTestUp(t, func(cfg *Config) { cfg.Lang = "en" }).instructions(nil, 1)
	if want := "The cluster requires a key, so set MSGSYS_CLUSTER_KEY to the same key in that terminal"; !strings.Contains(en, want) {
		t.Errorf("English instructions lack %q:\n%s", want, en)
	}
	pt := newTestUp(t, func(cfg *Config) { cfg.Lang = "pt" }).instructions(nil, 1)
	if want := "O cluster exige uma chave, então defina MSGSYS_CLUSTER_KEY com a mesma chave nesse terminal"; !strings.Contains(pt, want) {
		t.Errorf("Portuguese instructions lack %q:\n%s", want, pt)
	}
	if strings.Contains(en+pt, "secret-key") {
		t.Error("instructions contain the key")
	}
}

func TestRunRejectsTakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	for l, want := range map[string]string{
		lang.EN: "port " + strconv.Itoa(port) + " is not free",
		lang.PT: "porta " + strconv.Itoa(port) + " não está livre",
	} {
		u := newTestUp(t, func(cfg *Config) {
			cfg.PortBase = port
			cfg.Data = t.TempDir()
			cfg.Lang = l
		})
		err = u.Run(t.Context())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run error in %s = %v, want one containing %q", l, err, want)
		}
	}
}
