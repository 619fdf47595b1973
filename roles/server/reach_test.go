package server

import (
	"context"
	"testing"
	"time"

	"msgsys/election"
	"msgsys/proto"
)

// TestReachPingsKnownMembers sends server-1 reach requests, over its
// server-to-server endpoint, to ping other servers on the caller's behalf. It reaches a
// running member, not a stopped one, pings no name it does not list, and
// rejects a request without a name.
func TestReachPingsKnownMembers(t *testing.T) {
	c := startCluster(t, 3)
	s1, s2 := c.servers[serverName(1)].server, c.servers[serverName(2)].server
	r := proto.NewRequester(s1.Addr())
	defer r.Close()

	reach := func(data map[string]any) proto.Envelope {
		t.Helper()
		return askRaw(t, r, encodeMap(t, map[string]any{"service": serviceReach, "data": data}))
	}
	reached := func(name string) bool {
		t.Helper()
		env := reach(map[string]any{"name": name})
		if env.Service != serviceReach || status(env) != proto.StatusOK {
			t.Fatalf("reach %s: reply %s %v, want %s with status ok", name, env.Service, env.Data, serviceReach)
		}
		got, ok := env.Data["reached"].(bool)
		if !ok {
			t.Fatalf("reach %s: no bool reached in %v", name, env.Data)
		}
		return got
	}

	if !reached(serverName(3)) {
		t.Error("server-1 did not reach the running server-3")
	}
	if reached("server-99") {
		t.Error("server-1 reached a server it does not list")
	}
	if reached(serverName(1)) {
		t.Error("server-1 reports reaching itself; it pings only other servers")
	}
	if env := reach(map[string]any{"name": 3}); status(env) != proto.StatusError {
		t.Errorf("reach with a number for a name: %v, want an error reply", env.Data)
	}
	if env := reach(map[string]any{}); status(env) != proto.StatusError {
		t.Errorf("reach without a name: %v, want an error reply", env.Data)
	}

	// The election's relay from server-2 goes the same way.
	via := election.Member{Name: serverName(1), Addr: s1.Addr()}
	target := election.Member{Name: serverName(3)}
	reachedVia, known := (&transport{s: s2}).Reach(context.Background(), via, target)
	if !reachedVia {
		t.Error("server-2's relay through server-1 did not reach server-3")
	}
	if want, _ := s1.Coordinator(); known != want {
		t.Errorf("relay's coordinator %+v, want server-1's %+v", known, want)
	}

	c.stop(serverName(3))
	waitFor(t, 5*time.Second, "server-1 to stop reaching the stopped server-3", func() bool {
		return !reached(serverName(3))
	})
}
