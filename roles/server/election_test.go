package server

import (
	"slices"
	"sync"
	"testing"
	"time"

	"msgsys/election"
	"msgsys/proto"
)

// TestCoordinatorLossWaitsForCatchingUpServer stops the coordinator while
// a higher rank is still catching up and declines elections. The server
// left must wait for that rank's announcement, not coordinate itself
// until the higher rank serves a moment later, and a channel created
// meanwhile must wait for the new coordinator.
func TestCoordinatorLossWaitsForCatchingUpServer(t *testing.T) {
	c := &cluster{t: t, dir: t.TempDir(), servers: make(map[string]*node)}
	c.startInfrastructure()

	// server-1 records each coordinator it accepts or becomes. Its wait
	// for an announcement outlasts server-3's catch-up below.
	var mu sync.Mutex
	var changes []string
	cfg := c.config(serverName(1))
	cfg.Election.AnnounceTimeout = 10 * time.Second
	cfg.Election.OnChange = func(a election.Announcement) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, a.Coordinator)
	}
	s1 := c.startWith(cfg)
	waitFor(t, 5*time.Second, "server-1 to register", func() bool { return s1.Rank() > 0 })
	c.start(serverName(2))
	c.waitServing(2)

	// A server that registers and goes away makes server-3's catch-up wait
	// CatchUpWait for it, so server-3 declines elections meanwhile.
	stopGhost := listGhost(t, c)
	stopGhost()
	waitListed(t, c, 2)
	cfg3 := c.config(serverName(3))
	cfg3.CatchUpWait = time.Second
	s3 := c.startWith(cfg3)
	waitFor(t, 5*time.Second, "server-1 to list server-3", func() bool {
		return slices.ContainsFunc(s1.node.Members(), func(m election.Member) bool { return m.Name == serverName(3) })
	})
	if s3.Serving() {
		t.Fatal("server-3 serves already: its catch-up did not wait for the gone server")
	}

	mu.Lock()
	before := len(changes)
	mu.Unlock()
	c.stop(serverName(2))

	// While server-1 has no coordinator, a channel creation waits for the
	// election to end instead of failing.
	waitFor(t, 5*time.Second, "server-1 to drop server-2 as coordinator", func() bool {
		_, ok := s1.Coordinator()
		return !ok
	})
	// The wait lasts up to a second. Under load, server-3's catch-up and
	// election may take longer, and mustSucceed then sends the request
	// again, as msgsys clients do.
	c.client().mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})

	waitFor(t, 10*time.Second, "server-3 coordinating on both servers", func() bool {
		seen := c.coordinators()
		return seen[serverName(1)] == serverName(3) && seen[serverName(3)] == serverName(3)
	})

	mu.Lock()
	defer mu.Unlock()
	if after := changes[before:]; !slices.Equal(after, []string{serverName(3)}) {
		t.Fatalf("server-1 accepted coordinators %v after server-2 stopped, want only [server-3]", after)
	}
}
