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
// reference restarts before it hears of the third again. Only the first
// leaves the registered list, and it gets its rank back when it returns.
func TestRegisteredForgetsLongGoneServers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reference.db")
	g, err := openRegistry(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
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
	g, err = openRegistry(path)
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
	if got, want := names(g.registered(now)), []string{"brief", "later"}; !slices.Equal(got, want) {
		t.Errorf("registered = %v, want %v", got, want)
	}
	if got := names(g.registered(start.Add(time.Minute))); !slices.Contains(got, "gone") {
		t.Errorf("registered a minute after the last heartbeat = %v, want gone still in it", got)
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
