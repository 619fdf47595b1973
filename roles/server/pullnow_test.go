package server

import (
	"context"
	"testing"
	"time"

	"msgsys/proto"
	"msgsys/store"
)

// TestUnknownNamePulledFromPeer gives server-2 a user and a channel that
// no push brought to server-1, as when only the link between server-1 and
// their origin is cut. A post to that channel at server-1 pulls them from
// server-2 and succeeds, where it would have found neither.
func TestUnknownNamePulledFromPeer(t *testing.T) {
	c := startCluster(t, 2)
	s1, s2 := c.servers[serverName(1)].server, c.servers[serverName(2)].server
	now := time.Now().UnixNano()
	ops := []store.Op{
		{Origin: "server-9@cut", Seq: 1, Rank: 9, Clock: 1, Time: now, Kind: store.KindLogin, User: "ana"},
		{Origin: "server-9@cut", Seq: 2, Rank: 9, Clock: 2, Time: now + 1, Kind: store.KindChannel, Channel: "cortado"},
	}
	if _, err := s2.store.Apply(ops); err != nil {
		t.Fatal(err)
	}
	if s1.store.HasChannel("cortado") {
		t.Fatal("server-1 holds the channel before any pull, so the test shows nothing")
	}

	frame, err := proto.Encode(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "cortado", Message: "oi"}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	env, err := proto.Decode(s1.handleClient(context.Background(), frame))
	if err != nil {
		t.Fatal(err)
	}
	if status(env) != proto.StatusOK {
		t.Errorf("post at server-1 to a channel only server-2 held: reply %v, want OK", env.Data)
	}
}

// TestHealCatchUpKeepsServing makes server-1 regain a majority, as after a
// partition or a peer frozen for a while in a cluster of two. It catches
// up before it may coordinate again, and stays connected to the broker
// the whole time, so no request in flight fails.
func TestHealCatchUpKeepsServing(t *testing.T) {
	c := startCluster(t, 2)
	s1 := c.servers[serverName(1)].server
	waitFor(t, 5*time.Second, "server-1 serving and free to coordinate", func() bool {
		return s1.Serving() && s1.mayCoordinate()
	})

	pauses := s1.pauses.Load()
	s1.resyncAfterPartition()
	if s1.mayCoordinate() {
		t.Error("server-1 may coordinate before its catch-up after the partition")
	}
	stoppedServing := false
	waitFor(t, 10*time.Second, "server-1 caught up", func() bool {
		stoppedServing = stoppedServing || !s1.Serving()
		return s1.mayCoordinate()
	})
	if stoppedServing || s1.pauses.Load() != pauses {
		t.Error("server-1 left the broker to catch up after the partition")
	}
}
