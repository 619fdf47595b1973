package server

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/proto"
)

// registerFakes registers n servers named fake-0 ... with the cluster's
// reference, at loopback ports that were free a moment ago. Each stays
// available for the reference's heartbeat expiry and registered after.
func registerFakes(t *testing.T, c *cluster, n int) {
	t.Helper()
	ref := proto.NewKeyedRequester(c.reference, c.key)
	defer ref.Close()
	clocks := proto.NewClocks()
	for i, port := range testkit.LoopbackPorts(t, n) {
		request := &proto.RankRequest{User: fmt.Sprintf("fake-%d", i), Addr: fmt.Sprintf("tcp://127.0.0.1:%d", port)}
		frame, err := proto.Encode(proto.ServiceRank, request, clocks.Meta())
		if err != nil {
			t.Fatal(err)
		}
		payload, err := ref.Request(context.Background(), frame, 2*time.Second)
		if err != nil {
			t.Fatalf("register fake-%d: %v", i, err)
		}
		env, err := proto.Decode(payload)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := env.Data["rank"]; !ok {
			t.Fatalf("register fake-%d: reply %v", i, env.Data)
		}
	}
}

// bufferLog returns a logger that writes to a buffer, which the test logs
// when it fails.
func bufferLog(t *testing.T) (*slog.Logger, *testkit.Buffer) {
	t.Helper()
	logs := &testkit.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server logs:\n%s", logs)
		}
	})
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), logs
}

// TestPeerLimitKeepsLowestRanks lists five fake servers beside server-1,
// which takes at most two peers: it keeps the two of lowest rank as
// replication peers and election members, and logs the others.
func TestPeerLimitKeepsLowestRanks(t *testing.T) {
	c := newCluster(t, time.Hour)
	cfg := c.config("server-1")
	cfg.MaxPeers = 2
	var logs *testkit.Buffer
	cfg.Log, logs = bufferLog(t)
	s := c.startWith(cfg)
	waitFor(t, 5*time.Second, "server-1 serving", s.Serving)

	registerFakes(t, c, 5)
	memberNames := func() []string {
		var names []string
		for _, m := range s.node.Members() {
			names = append(names, m.Name)
		}
		slices.Sort(names)
		return names
	}
	waitFor(t, 5*time.Second, "server-1 tracking two fakes", func() bool {
		return slices.Equal(memberNames(), []string{"fake-0", "fake-1", "server-1"})
	})

	var peers []string
	for _, p := range s.replica.Status().Peers {
		peers = append(peers, p.Name)
	}
	slices.Sort(peers)
	if want := []string{"fake-0", "fake-1"}; !slices.Equal(peers, want) {
		t.Errorf("replication peers %v, want %v", peers, want)
	}
	if got := memberNames(); !slices.Equal(got, []string{"fake-0", "fake-1", "server-1"}) {
		t.Errorf("election members %v, want fake-0, fake-1 and server-1", got)
	}
	want := `msg="servers beyond the peer limit ignored" server=server-1 rank=1 ignored=3 max_peers=2 servers="[fake-2 fake-3 fake-4]"`
	if !logs.Contains(want) {
		t.Errorf("no log line %s", want)
	}
}

// TestCatchUpSkipsRegisteredInOneLine starts a server while the reference
// has registered twenty servers that never come up. The server waits for
// at most MaxPeers of them, and logs the ones it stopped waiting for in
// one line, and the ones beyond the limit in another.
func TestCatchUpSkipsRegisteredInOneLine(t *testing.T) {
	c := newCluster(t, 0)
	registerFakes(t, c, 20)
	waitListed(t, c, 0)

	cfg := c.config("server-1")
	cfg.MaxPeers = 8
	cfg.CatchUpWait = 300 * time.Millisecond
	var logs *testkit.Buffer
	cfg.Log, logs = bufferLog(t)
	s := c.startWith(cfg)
	waitFor(t, 10*time.Second, "server-1 serving", s.Serving)

	lines := logs.Lines("catch-up stopped waiting")
	if len(lines) != 1 {
		t.Fatalf("%d lines about registered servers not waited for, want 1: %q", len(lines), lines)
	}
	for _, want := range []string{`msg="catch-up stopped waiting for registered servers"`, "count=8", `servers="[fake-0 fake-1 fake-2 fake-3 fake-4]"`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("line %q lacks %s", lines[0], want)
		}
	}
	skipped := logs.Lines(`msg="registered servers beyond the peer limit not waited for"`)
	if len(skipped) != 1 || !strings.Contains(skipped[0], "skipped=12 max_peers=8") {
		t.Errorf("lines about registered servers beyond the limit %q, want one with skipped=12 max_peers=8", skipped)
	}
}
