package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/proto"
	"msgsys/roles/common"
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

		// A heartbeat after the rank request, as a server that ran for a
		// while sends: the reference keeps a name seen only once out of
		// the registered servers once it expires.
		beat, err := proto.Encode(proto.ServiceHeartbeat, &proto.HeartbeatRequest{User: request.User, Addr: request.Addr}, clocks.Meta())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ref.Request(context.Background(), beat, 2*time.Second); err != nil {
			t.Fatalf("heartbeat of fake-%d: %v", i, err)
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

// TestPeerLimitKeepsLowestRanks lists nineteen fake servers beside
// server-1, which takes at most sixteen peers: it keeps the sixteen of
// lowest rank as replication peers and election members, and logs the
// others at error level with the highest rank it left out.
func TestPeerLimitKeepsLowestRanks(t *testing.T) {
	c := newCluster(t, time.Hour)
	cfg := c.config("server-1")
	cfg.MaxPeers = MinMaxPeers
	var logs *testkit.Buffer
	cfg.Log, logs = bufferLog(t)
	s := c.startWith(cfg)
	waitFor(t, 5*time.Second, "server-1 serving", s.Serving)

	registerFakes(t, c, MinMaxPeers+3)
	var fakes []string
	for i := range MinMaxPeers {
		fakes = append(fakes, fmt.Sprintf("fake-%d", i))
	}
	slices.Sort(fakes)
	wantMembers := slices.Sorted(slices.Values(append(slices.Clone(fakes), "server-1")))
	memberNames := func() []string {
		var names []string
		for _, m := range s.node.Members() {
			names = append(names, m.Name)
		}
		slices.Sort(names)
		return names
	}
	waitFor(t, 5*time.Second, "server-1 tracking sixteen fakes", func() bool {
		return slices.Equal(memberNames(), wantMembers)
	})

	var peers []string
	for _, p := range s.replica.Status().Peers {
		peers = append(peers, p.Name)
	}
	slices.Sort(peers)
	if !slices.Equal(peers, fakes) {
		t.Errorf("replication peers %v, want %v", peers, fakes)
	}
	if got := memberNames(); !slices.Equal(got, wantMembers) {
		t.Errorf("election members %v, want %v", got, wantMembers)
	}
	// server-1 has rank 1 and the fakes ranks 2 to 20.
	want := `level=ERROR msg="servers beyond the peer limit left out of elections and replication" server=server-1 rank=1 ignored=3 max_peers=16 highest_ignored_rank=20 servers="[fake-16 fake-17 fake-18]"`
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
	cfg.MaxPeers = MinMaxPeers
	cfg.CatchUpWait = 300 * time.Millisecond
	var logs *testkit.Buffer
	cfg.Log, logs = bufferLog(t)
	s := c.startWith(cfg)
	waitFor(t, 10*time.Second, "server-1 serving", s.Serving)

	lines := logs.Lines("catch-up stopped waiting")
	if len(lines) != 1 {
		t.Fatalf("%d lines about registered servers not waited for, want 1: %q", len(lines), lines)
	}
	for _, want := range []string{`msg="catch-up stopped waiting for registered servers"`, "count=16", `servers="[fake-0 fake-1 fake-10 fake-11 fake-12]"`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("line %q lacks %s", lines[0], want)
		}
	}
	skipped := logs.Lines(`msg="registered servers beyond the peer limit not waited for"`)
	if len(skipped) != 1 || !strings.Contains(skipped[0], "skipped=4 max_peers=16") {
		t.Errorf("lines about registered servers beyond the limit %q, want one with skipped=4 max_peers=16", skipped)
	}
}

// TestSharedNameRejected starts a second server under server-1's name,
// with its own address and data, as an operator who copies a command
// line does. It finds server-1 running under that name and does not
// start, with an error that names the flag to change.
func TestSharedNameRejected(t *testing.T) {
	c := startCluster(t, 1)
	cfg := c.config(serverName(1))
	cfg.Data = filepath.Join(t.TempDir(), "copy")
	copied, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = copied.Run(ctx)

	var start *common.StartError
	if !errors.As(err, &start) || start.Failure != common.NameInUse {
		t.Fatalf("second server-1 ended with %v, want a start error for a name in use", err)
	}
	want := fmt.Sprintf("server: the name %q is used by another server running at %s; give each server its own --name", "server-1", c.servers[serverName(1)].server.Addr())
	if got := start.Describe("en"); got != want {
		t.Errorf("description %q, want %q", got, want)
	}
	if a, _ := c.servers[serverName(1)].server.Coordinator(); a.Coordinator != serverName(1) {
		t.Errorf("server-1 accepts coordinator %q after the rejected start, want itself", a.Coordinator)
	}
}

// TestSharedNameWarned hands a running server a list that names it at
// another address, as when two servers with one name start together and
// neither finds the other yet. It warns, and not for its own address.
func TestSharedNameWarned(t *testing.T) {
	log, logs := bufferLog(t)
	s := &Server{cfg: Config{Name: "server-1", Addr: "tcp://127.0.0.1:5560"}, log: log}
	s.noteSharedName([]proto.ServerInfo{{Name: "server-1", Rank: 1, Addr: "tcp://127.0.0.1:5560"}})
	if lines := logs.Lines("another server uses this server's name"); len(lines) != 0 {
		t.Fatalf("warned for its own address: %q", lines)
	}
	s.noteSharedName([]proto.ServerInfo{{Name: "Server-1", Rank: 1, Addr: "tcp://127.0.0.1:5570"}})
	if lines := logs.Lines("another server uses this server's name", "other_addr=tcp://127.0.0.1:5570"); len(lines) != 1 {
		t.Errorf("warnings of the other address %q, want one", lines)
	}
}
