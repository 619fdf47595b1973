package common

import (
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"testing"

	"msgsys/lang"
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
