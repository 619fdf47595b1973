package reference

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"msgsys/proto"
)

// TestRegisteredForgetsLongGoneServers registers three servers. One stops
// its heartbeats for longer than forgetAfter, one for less, and the
// reference restarts and then never hears of the third again. The first
// and the third leave the registered list forgetAfter after their last
// heartbeat and after the restart, and the first gets its rank back when
// it returns.
func TestRegisteredForgetsLongGoneServers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reference.db")
	start := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	g, err := openRegistry(path, DefaultMaxServers, start)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"gone", "brief", "later"} {
		if _, err := g.touch(name, fmt.Sprintf("tcp://127.0.0.1:%d", 5560+i), 0, false, start); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.close(); err != nil {
		t.Fatal(err)
	}

	// After the restart the reference hears of "gone" and "brief" again,
	// but not of "later".
	g, err = openRegistry(path, DefaultMaxServers, start)
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	for _, name := range []string{"gone", "brief"} {
		if _, err := g.touch(name, "", 0, false, start); err != nil {
			t.Fatal(err)
		}
	}
	now := start.Add(forgetAfter - time.Minute)
	if _, err := g.touch("brief", "", 0, false, now); err != nil {
		t.Fatal(err)
	}
	now = start.Add(forgetAfter + time.Second)
	g.expire(now, 3*time.Second)

	names := func(list []proto.ServerInfo) []string {
		var out []string
		for _, s := range list {
			out = append(out, s.Name)
		}
		return out
	}
	if got, want := names(g.registered(now)), []string{"brief"}; !slices.Equal(got, want) {
		t.Errorf("registered = %v, want %v", got, want)
	}
	if got, want := names(g.registered(start.Add(time.Minute))), []string{"gone", "brief", "later"}; !slices.Equal(got, want) {
		t.Errorf("registered a minute after the restart = %v, want %v", got, want)
	}

	res, err := g.touch("gone", "", 0, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.server.Rank != 1 {
		t.Errorf("returning server got rank %d, want its old rank 1", res.server.Rank)
	}
	if got := names(g.registered(now)); !slices.Contains(got, "gone") {
		t.Errorf("registered after its return = %v, want gone in it", got)
	}
}

// TestOneRequestNameLeavesRegisteredAtExpiry registers one name with a
// single request, as a probe or a server that died at once does, and one
// that goes on with a heartbeat. Once both expire, the first leaves the
// registered servers at once and the second stays for forgetAfter.
func TestOneRequestNameLeavesRegisteredAtExpiry(t *testing.T) {
	start := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	g, err := openRegistry(filepath.Join(t.TempDir(), "reference.db"), DefaultMaxServers, start)
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	for _, name := range []string{"ghost", "real"} {
		if _, err := g.touch(name, "tcp://127.0.0.1:5560", 0, true, start); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := g.touch("real", "", 0, false, start.Add(time.Second)); err != nil {
		t.Fatal(err)
	}

	registered := func(now time.Time) []string {
		var out []string
		for _, s := range g.registered(now) {
			out = append(out, s.Name)
		}
		return out
	}
	if got := registered(start.Add(time.Second)); !slices.Equal(got, []string{"ghost", "real"}) {
		t.Errorf("registered while both are available = %v, want [ghost real]", got)
	}
	now := start.Add(5 * time.Second)
	g.expire(now, 3*time.Second)
	if got := registered(now); !slices.Equal(got, []string{"real"}) {
		t.Errorf("registered after both expired = %v, want [real]", got)
	}
}
