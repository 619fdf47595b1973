package common

import (
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"msgsys/lang"
	"msgsys/proto"
)

func TestChildProcsShare(t *testing.T) {
	t.Setenv("GOMAXPROCS", "3")
	if got := ChildProcs(4); got != nil {
		t.Errorf("ChildProcs with GOMAXPROCS set = %v, want nothing", got)
	}

	os.Unsetenv("GOMAXPROCS") // t.Setenv restores it after the test
	cases := []struct {
		n    int
		want []string
	}{
		{0, nil},
		{1, []string{"GOMAXPROCS=" + strconv.Itoa(runtime.NumCPU())}},
		{runtime.NumCPU() + 1, []string{"GOMAXPROCS=1"}},
		{1000, []string{"GOMAXPROCS=1"}},
	}
	for _, c := range cases {
		if got := ChildProcs(c.n); !slices.Equal(got, c.want) {
			t.Errorf("ChildProcs(%d) = %v, want %v", c.n, got, c.want)
		}
	}
}

func TestTuneGCLeavesGOGCToTheEnvironment(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	debug.SetGCPercent(100)
	TuneGC()
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GC percent %d without GOGC, want %d", got, gcPercent)
	}

	t.Setenv("GOGC", "100")
	TuneGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent %d with GOGC=100, want it left at 100", got)
	}
}

func TestHelpTextFollowsHelpLanguage(t *testing.T) {
	defer SetHelpLanguage(helpLanguage)
	text := lang.Text{PT: "diretório de dados", EN: "data directory"}

	SetHelpLanguage(lang.EN)
	if got := HelpText(text); got != text.EN {
		t.Errorf("HelpText in en = %q, want %q", got, text.EN)
	}
	SetHelpLanguage(lang.PT)
	if got := HelpText(text); got != text.PT {
		t.Errorf("HelpText in pt = %q, want %q", got, text.PT)
	}
}

func TestCheckClusterKeyMaxLength(t *testing.T) {
	for _, key := range []string{"", "segredo", strings.Repeat("x", proto.MaxKeyBytes)} {
		if err := CheckClusterKey(key, "server", "MSGSYS_CLUSTER_KEY", lang.PT); err != nil {
			t.Errorf("key of %d bytes: %v, want no error", len(key), err)
		}
	}

	long := strings.Repeat("x", proto.MaxKeyBytes+1)
	pt := CheckClusterKey(long, "server", "MSGSYS_CLUSTER_KEY", lang.PT)
	if !IsStartFailure(pt) {
		t.Errorf("key of %d bytes: %v, want a start failure", len(long), pt)
	}
	wantPT := "server: a chave do cluster em MSGSYS_CLUSTER_KEY tem 256 bytes, mas o ZeroMQ PLAIN aceita no máximo 255: use uma chave mais curta"
	if pt == nil || pt.Error() != wantPT {
		t.Errorf("pt error %v, want %q", pt, wantPT)
	}
	en := CheckClusterKey(long, "server", "MSGSYS_CLUSTER_KEY", lang.EN)
	wantEN := "server: the cluster key in MSGSYS_CLUSTER_KEY is 256 bytes long, but ZeroMQ PLAIN accepts at most 255: use a shorter key"
	if en == nil || en.Error() != wantEN {
		t.Errorf("en error %v, want %q", en, wantEN)
	}
}

// runGlobalFlags runs an app with GlobalFlags and args, and returns the
// error of CheckGlobalFlags in language l.
func runGlobalFlags(t *testing.T, l string, args ...string) error {
	t.Helper()
	var checked error
	app := &cli.App{
		Name:   "msgsys",
		Flags:  GlobalFlags(),
		Action: func(c *cli.Context) error { checked = CheckGlobalFlags(c, l); return nil },
	}
	if err := app.Run(append([]string{"msgsys"}, args...)); err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return checked
}

func TestCheckGlobalFlagsAccepted(t *testing.T) {
	cases := [][]string{
		nil,
		{"--log-level", "debug"},
		{"--log-level", "WARN"},
		{"--log-level", "info+2"},
		{"--log-level", ""},
		{"--log-format", "json"},
		{"--log-format", "TEXT"},
		{"--log-format", ""},
	}
	for _, args := range cases {
		if err := runGlobalFlags(t, lang.PT, args...); err != nil {
			t.Errorf("%v: %v, want no error", args, err)
		}
	}
}

func TestCheckGlobalFlagsRejected(t *testing.T) {
	cases := []struct {
		args   []string
		pt, en string
	}{
		{[]string{"--log-level", "bogus"},
			`valor inválido "bogus" para --log-level ou MSGSYS_LOG_LEVEL: use debug, info, warn ou error`,
			`invalid value "bogus" for --log-level or MSGSYS_LOG_LEVEL: use debug, info, warn or error`},
		{[]string{"--log-format", "xml"},
			`valor inválido "xml" para --log-format ou MSGSYS_LOG_FORMAT: use text ou json`,
			`invalid value "xml" for --log-format or MSGSYS_LOG_FORMAT: use text or json`},
	}
	for _, c := range cases {
		pt := runGlobalFlags(t, lang.PT, c.args...)
		if pt == nil || pt.Error() != c.pt {
			t.Errorf("%v: pt error %v, want %q", c.args, pt, c.pt)
		}
		if !IsStartFailure(pt) {
			t.Errorf("%v: %v is not a start failure", c.args, pt)
		}
		en := runGlobalFlags(t, lang.EN, c.args...)
		if en == nil || en.Error() != c.en {
			t.Errorf("%v: en error %v, want %q", c.args, en, c.en)
		}
	}
}
