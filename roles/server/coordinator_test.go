package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"msgsys/election"
	"msgsys/proto"
)

// TestPausedCoordinatorDecidesNoClaim resumes the coordinator after a
// simulated pause during which another server won a newer epoch. Until it
// has caught up and learned that epoch, the resumed server must reject
// claims and elections, and it must then win at an epoch above the other
// server's.
func TestPausedCoordinatorDecidesNoClaim(t *testing.T) {
	c := startCluster(t, 3)
	s1, s2, s3 := c.servers[serverName(1)].server, c.servers[serverName(2)].server, c.servers[serverName(3)].server
	old, _ := s3.Coordinator()
	if old.Coordinator != serverName(3) {
		t.Fatalf("coordinator %q, want server-3", old.Coordinator)
	}

	// While server-3 stood still, server-2 won the next epoch, and
	// server-1 accepted it.
	newer := election.Announcement{Coordinator: serverName(2), Rank: s2.Rank(), Epoch: old.Epoch + 1, Addr: s2.Addr()}
	s2.node.HandleAnnouncement(newer)
	s1.node.HandleAnnouncement(newer)
	if !s2.node.IsCoordinator() {
		t.Fatal("server-2 does not coordinate after its announcement")
	}

	// A process that resumes finds the watchdog's last run far in the
	// past; its own announcement still names it coordinator.
	s3.awake.Store(time.Now().Add(-5 * time.Second).UnixNano())

	if s3.node.IsCoordinator() {
		t.Error("server-3 acts as coordinator right after the pause")
	}
	ctx := context.Background()
	env, err := s1.ask(ctx, "claim", s3.Addr(), serviceClaim, &ClaimRequest{Channel: "pausado", RID: "paused-claim"}, time.Second)
	if err != nil {
		t.Fatalf("claim to server-3: %v", err)
	}
	if proto.IsSuccess(status(env)) {
		t.Errorf("server-3 decided a claim right after the pause: %v", env.Data)
	}
	member3 := election.Member{Name: serverName(3), Rank: s3.Rank(), Addr: s3.Addr()}
	if reply := (&transport{s: s1}).Elect(ctx, member3, old.Epoch+1); reply != election.Declined {
		t.Errorf("server-3 replied %v to an election right after the pause, want Declined (%v)", reply, election.Declined)
	}

	// After its catch-up server-3 learns epoch old+1 and wins above it.
	waitFor(t, 5*time.Second, "server-3 coordinating again on every server", func() bool {
		for _, s := range []*Server{s1, s2, s3} {
			a, _ := s.Coordinator()
			if a.Coordinator != serverName(3) || a.Epoch <= newer.Epoch {
				return false
			}
		}
		return s3.node.IsCoordinator() && s3.Serving()
	})
	if s2.node.IsCoordinator() {
		t.Error("server-2 still coordinates after server-3 won")
	}
	if s3.Store().HasChannel("pausado") {
		t.Error("server-3 stored the channel it was asked for while paused")
	}
}

// TestClaimToDeadCoordinatorWaitsForElection stops the coordinator while
// the others ping it too rarely to notice. A channel creation must not
// fail on the refused claim: it starts the election, waits for the next
// coordinator and retries.
func TestClaimToDeadCoordinatorWaitsForElection(t *testing.T) {
	c := &cluster{t: t, dir: t.TempDir(), servers: make(map[string]*node)}
	c.startInfrastructure()
	for i := 1; i <= 3; i++ {
		cfg := c.config(serverName(i))
		cfg.Election.CheckEvery = time.Hour
		s := c.startWith(cfg)
		waitFor(t, 5*time.Second, "registration", func() bool { return s.Rank() > 0 })
	}
	c.waitServing(3)
	if a, _ := c.servers[serverName(1)].server.Coordinator(); a.Coordinator != serverName(3) {
		t.Fatalf("coordinator %q, want server-3", a.Coordinator)
	}

	c.stop(serverName(3))
	cl := c.client()
	for i := range 4 {
		start := time.Now()
		env := cl.call(proto.ServiceChannel, &proto.ChannelRequest{Channel: fmt.Sprintf("failover-%d", i)})
		took := time.Since(start)
		if !proto.IsSuccess(status(env)) {
			t.Errorf("creation %d failed after %v: %v", i, took, env.Data)
		}
		if took > 2500*time.Millisecond {
			t.Errorf("creation %d took %v, want under 2.5 s", i, took)
		}
	}
	for name, coordinator := range c.coordinators() {
		if coordinator != serverName(2) {
			t.Errorf("%s accepts %q, want server-2", name, coordinator)
		}
	}
}

// TestRestartedServerGetsConfirmation restarts server-2 on a new port
// while the coordinator's member list still names the old one. The
// coordinator must confirm itself to the address carried by the election
// message, so the restarted server accepts it without waiting for its
// announcement timeout.
func TestRestartedServerGetsConfirmation(t *testing.T) {
	c := &cluster{t: t, dir: t.TempDir(), servers: make(map[string]*node), expiry: time.Hour}
	c.startInfrastructure()
	for i := 1; i <= 2; i++ {
		s := c.start(serverName(i))
		waitFor(t, 5*time.Second, "registration", func() bool { return s.Rank() > 0 })
	}
	// server-3 reads the member list once, at its start.
	cfg3 := c.config(serverName(3))
	cfg3.HeartbeatEvery = time.Hour
	c.startWith(cfg3)
	c.waitServing(3)

	c.stop(serverName(2))
	cfg2 := c.config(serverName(2))
	cfg2.Election.AnnounceTimeout = 10 * time.Second
	s2 := c.startWith(cfg2)
	waitFor(t, 5*time.Second, "restarted server-2 to serve", s2.Serving)
	waitFor(t, 2*time.Second, "restarted server-2 to accept server-3", func() bool {
		a, ok := s2.Coordinator()
		return ok && a.Coordinator == serverName(3)
	})
}

// TestClaimToReplacedCoordinatorWaitsForElection gives server-1 a stale
// view: it accepts server-2, which does not coordinate. server-2 rejects
// the claim, and server-1 must find the real coordinator and create the
// channel instead of failing the request.
func TestClaimToReplacedCoordinatorWaitsForElection(t *testing.T) {
	c := startCluster(t, 3)
	s1, s2 := c.servers[serverName(1)].server, c.servers[serverName(2)].server
	current, _ := s1.Coordinator()
	if current.Coordinator != serverName(3) {
		t.Fatalf("coordinator %q, want server-3", current.Coordinator)
	}

	s1.node.HandleAnnouncement(election.Announcement{Coordinator: serverName(2), Rank: s2.Rank(), Epoch: current.Epoch + 1, Addr: s2.cfg.Addr})
	if a, _ := s1.Coordinator(); a.Coordinator != serverName(2) {
		t.Fatalf("server-1 accepts %q, want the stale server-2", a.Coordinator)
	}
	if err := s1.createChannel(context.Background(), "handover", "channel:handover-1"); err != nil {
		t.Fatalf("creation through server-1 with a stale coordinator: %v", err)
	}
	if a, _ := s1.Coordinator(); a.Coordinator != serverName(3) {
		t.Errorf("server-1 accepts %q after the claim, want server-3", a.Coordinator)
	}
	waitFor(t, 5*time.Second, "the channel on server-3", func() bool {
		return c.servers[serverName(3)].server.Store().HasChannel("handover")
	})
}
