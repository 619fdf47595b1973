package common

import (
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
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
