package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"msgsys/proto"
	"msgsys/replica"
	"msgsys/store"
)

func TestConcurrentChannelCreationOneSucceeds(t *testing.T) {
	c := startCluster(t, 3)
	for round := range 5 {
		name := fmt.Sprintf("sala%d", round)
		var wg sync.WaitGroup
		results := make([]string, 6)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := c.client()
				results[i] = status(cl.call(proto.ServiceChannel, &proto.ChannelRequest{Channel: name}))
			}()
		}
		wg.Wait()
		successes := 0
		for _, s := range results {
			if proto.IsSuccess(s) {
				successes++
			}
		}
		if successes != 1 {
			t.Fatalf("channel %s: %d successes in %v", name, successes, results)
		}
	}
}

func TestCatchUpAfterRestartWithEmptyDirectory(t *testing.T) {
	c := startCluster(t, 3)
	cl := c.client()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})
	for i := range 20 {
		cl.mustSucceed(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: fmt.Sprintf("antes %d", i)})
	}

	c.stop("server-2")
	if err := os.RemoveAll(filepath.Join(c.dir, "server-2")); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		// A request the broker handed to server-2 as it stopped gets an
		// error reply; the retry, with the same id, goes to another server.
		req := &proto.PublishRequest{User: "ana", Channel: "geral", Message: fmt.Sprintf("durante %d", i), ID: fmt.Sprintf("durante-%d", i)}
		if env := cl.call(proto.ServicePublish, req); !proto.IsSuccess(status(env)) {
			cl.mustSucceed(proto.ServicePublish, req)
		}
	}

	restarted := c.start("server-2")
	waitFor(t, 10*time.Second, "server-2 serving again", restarted.Serving)
	if got := restarted.Store().Counts().Posts; got != 40 {
		t.Fatalf("server-2 serves with %d posts, want 40", got)
	}
	for i := range 10 {
		cl.mustSucceed(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: fmt.Sprintf("depois %d", i)})
	}
	waitFor(t, 5*time.Second, "identical dumps", func() bool {
		first := dumpOf(t, c.servers["server-1"].server)
		return dumpOf(t, c.servers["server-2"].server) == first && dumpOf(t, c.servers["server-3"].server) == first
	})
}

func TestCoordinatorFailoverAndReturn(t *testing.T) {
	c := startCluster(t, 3)
	if got := c.coordinators()["server-1"]; got != "server-3" {
		t.Fatalf("initial coordinator %q", got)
	}

	stopped := time.Now()
	c.stop("server-3")
	waitFor(t, time.Second, "server-2 coordinating on every server", func() bool {
		for _, coordinator := range c.coordinators() {
			if coordinator != "server-2" {
				return false
			}
		}
		return true
	})
	t.Logf("failover took %v", time.Since(stopped))

	c.start("server-3")
	waitFor(t, 5*time.Second, "server-3 coordinating again", func() bool {
		seen := c.coordinators()
		return len(seen) == 3 && seen["server-1"] == "server-3" && seen["server-2"] == "server-3" && seen["server-3"] == "server-3"
	})

	// Channel names are still decided once by the new coordinator.
	cl := c.client()
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "depois"})
	if env := cl.call(proto.ServiceChannel, &proto.ChannelRequest{Channel: "depois"}); status(env) != proto.StatusError {
		t.Fatalf("second creation: %v", env.Data)
	}
}

func TestReadYourWritesWithConcurrentClients(t *testing.T) {
	// With --sync-every a write returns before its sync once a peer
	// holds it, which must not change what reads see.
	for _, every := range []time.Duration{0, 10 * time.Millisecond} {
		t.Run(fmt.Sprintf("sync-every=%v", every), func(t *testing.T) {
			readYourWrites(t, every)
		})
	}
}

func readYourWrites(t *testing.T, syncEvery time.Duration) {
	c := startClusterWith(t, 3, func(cfg *Config) { cfg.SyncEvery = syncEvery })
	setup := c.client()
	setup.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := c.client()
			user := fmt.Sprintf("user%d", w)
			if env := cl.call(proto.ServiceLogin, &proto.LoginRequest{User: user}); !proto.IsSuccess(status(env)) {
				t.Errorf("%s login: %v", user, env.Data)
				return
			}
			for i := range 15 {
				text := fmt.Sprintf("%s diz %d", user, i)
				if env := cl.call(proto.ServiceMessage, &proto.DirectRequest{Src: user, Dst: user, Message: text}); !proto.IsSuccess(status(env)) {
					t.Errorf("%s message %d: %v", user, i, env.Data)
					return
				}
				env := cl.call(proto.ServiceHistory, &proto.HistoryRequest{User: user, Peer: user, Limit: 1})
				messages, _ := env.Data["messages"].([]any)
				if len(messages) != 1 || messages[0].(map[string]any)["message"] != text {
					t.Errorf("%s after write %d reads %v", user, i, env.Data["messages"])
					return
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, 5*time.Second, "identical dumps", func() bool {
		first := dumpOf(t, c.servers["server-1"].server)
		return dumpOf(t, c.servers["server-2"].server) == first && dumpOf(t, c.servers["server-3"].server) == first
	})
	waitFor(t, 5*time.Second, "every log synced", func() bool {
		for _, n := range c.servers {
			if n.server.Store().Unsynced() != 0 {
				return false
			}
		}
		return true
	})
}

// outsiderOps returns four ops of an origin that no server of the test
// runs: a login, a channel and two posts to it.
func outsiderOps() []store.Op {
	return []store.Op{
		{Origin: "outsider@1", Seq: 1, Rank: 9, Clock: 1, Time: 1, Kind: store.KindLogin, User: "zed"},
		{Origin: "outsider@1", Seq: 2, Rank: 9, Clock: 2, Time: 2, Kind: store.KindChannel, Channel: "fora"},
		{Origin: "outsider@1", Seq: 3, Rank: 9, Clock: 3, Time: 3, Kind: store.KindPost, User: "zed", Channel: "fora", Text: "um"},
		{Origin: "outsider@1", Seq: 4, Rank: 9, Clock: 4, Time: 4, Kind: store.KindPost, User: "zed", Channel: "fora", Text: "dois"},
	}
}

func TestReplicateTwiceOrReorderedIsIdempotent(t *testing.T) {
	c := startCluster(t, 2)
	target := c.servers["server-2"].server
	ops := outsiderOps()
	req := proto.NewRequester(target.Addr())
	defer req.Close()
	push := func(batch ...store.Op) uint64 {
		t.Helper()
		frame, err := proto.Encode(replica.ServiceReplicate, &replica.ReplicateRequest{Origin: "outsider@1", Ops: batch}, proto.NewClocks().Meta())
		if err != nil {
			t.Fatal(err)
		}
		payload, err := req.Request(context.Background(), frame, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var reply replica.ReplicateReply
		if _, err := proto.DecodeInto(payload, &reply); err != nil {
			t.Fatal(err)
		}
		return reply.Have
	}

	if have := push(ops[2], ops[3]); have != 0 {
		t.Fatalf("ops after a gap applied: have %d", have)
	}
	if have := push(ops[1], ops[0]); have != 2 {
		t.Fatalf("out-of-order batch: have %d, want 2", have)
	}
	if have := push(ops...); have != 4 {
		t.Fatalf("batch with duplicates: have %d, want 4", have)
	}
	before := dumpOf(t, target)
	if have := push(ops...); have != 4 {
		t.Fatalf("repeated batch: have %d, want 4", have)
	}
	if after := dumpOf(t, target); after != before {
		t.Fatalf("a repeated batch changed the dump")
	}
	if got := target.Store().Counts().Posts; got != 2 {
		t.Fatalf("%d posts, want 2", got)
	}
}

// TestPipelinedPushesAnsweredInOrder sends pushes of one origin with one
// write, as a sender with several in flight does, with invalid requests
// among them: each gets its own reply, in order, and a bad one spoils
// none of the others.
func TestPipelinedPushesAnsweredInOrder(t *testing.T) {
	c := startCluster(t, 2)
	target := c.servers["server-2"].server
	ops := outsiderOps()
	push := func(origin string, batch ...store.Op) [][]byte {
		t.Helper()
		frame, err := proto.Encode(replica.ServiceReplicate, &replica.ReplicateRequest{Origin: origin, Ops: batch}, proto.NewClocks().Meta())
		if err != nil {
			t.Fatal(err)
		}
		return [][]byte{{}, frame}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := proto.Dial(ctx, target.Addr(), proto.Dealer, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	requests := [][][]byte{
		push("outsider@1", ops[0], ops[1]),
		push("other@1", ops[2]), // an op of another origin than the batch's
		{{}, []byte("not msgpack")},
		push("outsider@1", ops[2], ops[3]),
	}
	if err := conn.SendBatch(requests); err != nil {
		t.Fatal(err)
	}

	want := []struct {
		service, status string
		have            uint64
	}{
		{replica.ServiceReplicate, proto.StatusOK, 2},
		{replica.ServiceReplicate, proto.StatusError, 0},
		{proto.ServiceError, proto.StatusError, 0},
		{replica.ServiceReplicate, proto.StatusOK, 4},
	}
	for i, w := range want {
		frames, err := conn.Recv()
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		env, err := proto.Decode(frames[len(frames)-1])
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		have, _, _ := env.Data.OptInt("have")
		if env.Service != w.service || status(env) != w.status {
			t.Errorf("reply %d: service %q status %q, want %q %q", i, env.Service, status(env), w.service, w.status)
		}
		// Pushes read together are logged together, so the first may
		// already count the ops of the last.
		if uint64(have) < w.have {
			t.Errorf("reply %d: have %d, want at least %d", i, have, w.have)
		}
	}
	if got := target.Store().Counts().Posts; got != 2 {
		t.Errorf("%d posts stored, want 2", got)
	}
}

// TestPeerReplyNotHeldByPing sends a request and a heartbeat PING right
// behind it, as a libzmq peer with ZMQ_HEARTBEAT_IVL does: the reply must
// not wait for a further request.
func TestPeerReplyNotHeldByPing(t *testing.T) {
	c := startCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := proto.Dial(ctx, c.servers["server-1"].server.Addr(), proto.Dealer, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	frame, err := proto.Encode(proto.ServiceClock, &proto.EmptyRequest{}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Send([]byte{}, frame); err != nil {
		t.Fatal(err)
	}
	if err := conn.Ping(); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	frames, err := conn.Recv()
	if err != nil {
		t.Fatalf("no reply to a request followed by a PING: %v", err)
	}
	if env, err := proto.Decode(frames[len(frames)-1]); err != nil || env.Service != proto.ServiceClock {
		t.Errorf("reply %v (%v), want a clock reply", env, err)
	}
}

func TestRestartKeepsData(t *testing.T) {
	c := startCluster(t, 1)
	cl := c.client()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})
	cl.mustSucceed(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: "fica"})
	c.stop("server-1")
	s := c.start("server-1")
	waitFor(t, 5*time.Second, "serving after restart", s.Serving)
	cl.waitAnswered()
	env := cl.mustSucceed(proto.ServiceHistory, &proto.HistoryRequest{Channel: "geral"})
	if messages, _ := env.Data["messages"].([]any); len(messages) != 1 {
		t.Fatalf("history after restart: %v", env.Data)
	}
}

// TestStartContinuesStoredClock starts a server on a store whose history
// reached clock 1,000,000 while nothing else in the cluster did, as after
// a restart of every server. Its next post must sort after that history.
func TestStartContinuesStoredClock(t *testing.T) {
	c := &cluster{t: t, dir: t.TempDir(), servers: make(map[string]*node)}
	c.startInfrastructure()
	cfg := c.config("server-1")
	if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(cfg.Data, "server.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old := []store.Op{
		{Origin: "server-1@old", Seq: 1, Rank: 1, Clock: 999_998, Time: 1, Kind: store.KindLogin, User: "ana"},
		{Origin: "server-1@old", Seq: 2, Rank: 1, Clock: 999_999, Time: 2, Kind: store.KindChannel, Channel: "geral"},
		{Origin: "server-1@old", Seq: 3, Rank: 1, Clock: 1_000_000, Time: 3, Kind: store.KindPost, User: "ana", Channel: "geral", Text: "antes"},
	}
	if _, err := st.Apply(old); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	s := c.startWith(cfg)
	waitFor(t, 5*time.Second, "server-1 serving", s.Serving)
	cl := c.client()
	cl.waitAnswered()
	cl.mustSucceed(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: "depois"})
	env := cl.mustSucceed(proto.ServiceHistory, &proto.HistoryRequest{Channel: "geral"})
	messages, _ := env.Data["messages"].([]any)
	if len(messages) != 2 {
		t.Fatalf("history = %v, want 2 messages", env.Data)
	}
	last, _ := messages[1].(map[string]any)
	if last["message"] != "depois" {
		t.Errorf("history lists %v last, want the post made after the start", last)
	}
}

func TestAntiEntropyFetchesOpsOfADeadOrigin(t *testing.T) {
	c := startCluster(t, 3)
	// Ops of an origin that died after reaching only server-2: no server will
	// push them again, so only anti-entropy can spread them.
	ops := []store.Op{
		{Origin: "gone@1", Seq: 1, Rank: 7, Clock: 1, Time: 1, Kind: store.KindLogin, User: "fantasma"},
		{Origin: "gone@1", Seq: 2, Rank: 7, Clock: 2, Time: 2, Kind: store.KindDirect, User: "fantasma", Peer: "fantasma", Text: "ainda aqui"},
	}
	req := proto.NewRequester(c.servers["server-2"].server.Addr())
	defer req.Close()
	frame, err := proto.Encode(replica.ServiceReplicate, &replica.ReplicateRequest{Origin: "gone@1", Ops: ops}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := req.Request(context.Background(), frame, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the dead origin's ops on every server", func() bool {
		for _, n := range c.servers {
			if n.server.Store().VersionVector()["gone@1"] != 2 {
				return false
			}
		}
		return true
	})
}

// listGhost registers a server named ghost with the reference, at an
// address where no server listens, and keeps it listed with heartbeats
// until the returned function is called.
func listGhost(t *testing.T, c *cluster) (stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ghostAddr := "tcp://" + ln.Addr().String()
	ln.Close()
	return listGhostAt(t, c, ghostAddr)
}

// listGhostAt is listGhost with the ghost's address given.
func listGhostAt(t *testing.T, c *cluster, ghostAddr string) (stop func()) {
	t.Helper()
	ref := proto.NewKeyedRequester(c.reference, c.key)
	ctx, cancel := context.WithCancel(context.Background())
	register := func(service string, data any) error {
		frame, err := proto.Encode(service, data, proto.NewClocks().Meta())
		if err != nil {
			return err
		}
		_, err = ref.Request(ctx, frame, time.Second)
		return err
	}
	if err := register(proto.ServiceRank, &proto.RankRequest{User: "ghost", Addr: ghostAddr}); err != nil {
		t.Fatal(err)
	}
	beats := make(chan struct{})
	go func() {
		defer close(beats)
		for ctx.Err() == nil {
			_ = register(proto.ServiceHeartbeat, &proto.HeartbeatRequest{User: "ghost", Addr: ghostAddr})
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	stop = func() {
		cancel()
		<-beats
		ref.Close()
	}
	t.Cleanup(stop)
	return stop
}

// startBesideGhost starts server-1, lists a ghost that cannot be reached,
// and starts server-2, which catches up while the ghost is listed. It
// returns once server-2's status names the ghost as unsynced.
func startBesideGhost(t *testing.T) (*cluster, *Server, func()) {
	t.Helper()
	c := startCluster(t, 1)
	stopGhost := listGhost(t, c)
	s2 := c.start(serverName(2))
	c.waitServing(2)
	waitFor(t, 5*time.Second, "the ghost in server-2's unsynced peers", func() bool {
		return slices.Contains(s2.replica.Status().Unsynced, "ghost")
	})
	return c, s2, stopGhost
}

// TestUnfinishedCatchUpShownUntilPulled starts a server while the
// reference lists a peer that cannot be reached. Its status names that
// peer until a server of that name runs and an anti-entropy pull from it
// completes.
func TestUnfinishedCatchUpShownUntilPulled(t *testing.T) {
	c, s2, stopGhost := startBesideGhost(t)
	stopGhost()

	// A real server takes the ghost's name; the next pull from it clears it.
	c.start("ghost")
	waitFor(t, 10*time.Second, "server-2 to pull from the real ghost", func() bool {
		return len(s2.replica.Status().Unsynced) == 0
	})
}

// TestReplicateRejectsOpsNoClientCouldWrite pushes ops that a client
// request could never have produced and checks that the receiver rejects
// each batch with erro and stores none of it.
func TestReplicateRejectsOpsNoClientCouldWrite(t *testing.T) {
	c := startCluster(t, 2)
	target := c.servers["server-2"].server
	req := proto.NewRequester(target.Addr())
	defer req.Close()

	post := store.Op{Origin: "outsider@2", Seq: 1, Rank: 9, Clock: 1, Time: 1, Kind: store.KindPost, User: "zed", Channel: "fora", Text: "ok"}
	cases := map[string]func(op *store.Op){
		"text not UTF-8":    func(op *store.Op) { op.Text = "a\xffb" },
		"text too long":     func(op *store.Op) { op.Text = strings.Repeat("x", proto.MaxTextBytes+1) },
		"control character": func(op *store.Op) { op.Text = "a\x1b[2Jb" },
		"empty post":        func(op *store.Op) { op.Text = "" },
		"clock beyond":      func(op *store.Op) { op.Clock = proto.MaxClock + 1 },
		"seq 0":             func(op *store.Op) { op.Seq = 0 },
	}
	for name, spoil := range cases {
		op := post
		spoil(&op)
		frame, err := proto.Encode(replica.ServiceReplicate, &replica.ReplicateRequest{Origin: op.Origin, Ops: []store.Op{op}}, proto.NewClocks().Meta())
		if err != nil {
			t.Fatal(err)
		}
		payload, err := req.Request(context.Background(), frame, 2*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var reply replica.ReplicateReply
		if _, err := proto.DecodeInto(payload, &reply); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if proto.IsSuccess(reply.Status) {
			t.Errorf("%s: batch accepted with have %d", name, reply.Have)
		}
	}
	if have := target.Store().VersionVector()["outsider@2"]; have != 0 {
		t.Errorf("the store holds %d ops of the rejected origin", have)
	}
}

// TestClusterKeyGuardsServerEndpoints runs three servers that share a
// cluster key. They must register with a keyed reference, elect,
// replicate, publish through a keyed proxy and serve a keyed status
// request. A request without the key must fail.
func TestClusterKeyGuardsServerEndpoints(t *testing.T) {
	c := &cluster{t: t, dir: t.TempDir(), servers: make(map[string]*node), key: "chave da turma"}
	c.startInfrastructure()
	for i := 1; i <= 3; i++ {
		s := c.start(serverName(i))
		waitFor(t, 5*time.Second, "registration", func() bool { return s.Rank() > 0 })
	}
	c.waitServing(3)

	cl := c.client()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})
	sub := proto.NewSubscriber(c.xpub, testLogger(t))
	sub.Subscribe("geral")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sub.Run(ctx)
	<-sub.Connected()
	// Publications sent before the subscription reaches the proxy are
	// lost, so post until one arrives: the servers' publishers present
	// the key to the proxy.
	waitFor(t, 5*time.Second, "a post delivered through the keyed proxy", func() bool {
		cl.mustSucceed(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: "com chave"})
		select {
		case <-sub.Deliveries():
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	})
	if _, err := proto.Dial(ctx, c.xsub, proto.Pub, time.Second); !errors.Is(err, proto.ErrKeyMismatch) {
		t.Errorf("publisher without the key: %v, want ErrKeyMismatch", err)
	}
	// A server without the key must not take client requests, because it
	// would reply from a store of its own.
	if _, err := proto.Dial(ctx, c.backend, proto.Dealer, time.Second); !errors.Is(err, proto.ErrKeyMismatch) {
		t.Errorf("server without the key at the broker: %v, want ErrKeyMismatch", err)
	}
	waitFor(t, 5*time.Second, "the posts on every server", func() bool {
		posts := c.servers["server-1"].server.Store().Counts().Posts
		for _, n := range c.servers {
			if n.server.Store().Counts().Posts != posts {
				return false
			}
		}
		return posts > 0
	})

	addr := c.servers["server-1"].server.Addr()
	frame, err := proto.Encode(serviceStatus, &proto.EmptyRequest{}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	keyed := proto.NewKeyedRequester(addr, "chave da turma")
	defer keyed.Close()
	if _, err := keyed.Request(context.Background(), frame, 2*time.Second); err != nil {
		t.Errorf("status with the key: %v", err)
	}
	open := proto.NewRequester(addr)
	defer open.Close()
	if reply, err := open.Request(context.Background(), frame, 500*time.Millisecond); err == nil {
		t.Errorf("status without the key answered %q", reply)
	}

	// Nothing without the key may register with the reference, where the
	// servers would take it for a peer.
	rank, err := proto.Encode(proto.ServiceRank, &proto.RankRequest{User: "intruder", Addr: "tcp://127.0.0.1:1"}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	openRef := proto.NewRequester(c.reference)
	defer openRef.Close()
	if reply, err := openRef.Request(context.Background(), rank, 500*time.Millisecond); !errors.Is(err, proto.ErrKeyMismatch) {
		t.Errorf("rank without the key at the reference: reply %q, error %v; want ErrKeyMismatch", reply, err)
	}
}

// TestWholeClusterRestartCatchesUpBeforeServing restarts every server
// while server-1 lacks acknowledged posts. The reference lists no server
// then, as after a restart of the whole cluster, and server-1 starts first.
// It must pull those posts from the others, which start a moment later,
// before it serves.
func TestWholeClusterRestartCatchesUpBeforeServing(t *testing.T) {
	c := startCluster(t, 3)
	cl := c.client()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})
	c.stop("server-1")
	const posts = 20
	for i := range posts {
		cl.mustSucceed(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: fmt.Sprintf("sem server-1 %d", i)})
	}
	c.stop("server-2")
	c.stop("server-3")

	waitListed(t, c, 0)

	// Without anti-entropy, only the catch-up before serving can bring
	// server-1 the posts.
	cfg := c.config("server-1")
	cfg.AntiEntropyEvery = 0
	first := c.startWith(cfg)
	waitFor(t, 5*time.Second, "server-1 to register", func() bool { return first.Rank() > 0 })
	c.start("server-2")
	c.start("server-3")
	waitFor(t, 10*time.Second, "server-1 serving", first.Serving)

	messages, _, err := first.Store().History("geral", "", posts+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(messages) != posts {
		t.Fatalf("server-1 serves a history of %d posts, want the %d acknowledged", len(messages), posts)
	}
	c.waitServing(3)
}

// TestRestartWithServerGoneForGood restarts a server while another that
// the reference registered stays down: it serves after its catch-up wait,
// and does not list the gone server as unsynced, where status would show
// it for as long as that server stays away.
func TestRestartWithServerGoneForGood(t *testing.T) {
	c := startCluster(t, 2)
	cl := c.client()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	c.stop("server-2")
	c.stop("server-1")
	waitListed(t, c, 0)

	cfg := c.config("server-1")
	cfg.CatchUpWait = 300 * time.Millisecond
	s := c.startWith(cfg)
	waitFor(t, 10*time.Second, "server-1 serving", s.Serving)
	if unsynced := s.replica.Status().Unsynced; len(unsynced) != 0 {
		t.Errorf("unsynced peers %v, want none for a server that never came up", unsynced)
	}
	cl.waitAnswered()
	if users := proto.AsStrings(cl.call(proto.ServiceUsers, &proto.EmptyRequest{}).Data["users"]); !slices.Equal(users, []string{"ana"}) {
		t.Errorf("users after the restart: %v, want ana", users)
	}
}

// waitListed waits until the reference lists n available servers.
func waitListed(t *testing.T, c *cluster, n int) {
	t.Helper()
	ref := proto.NewKeyedRequester(c.reference, c.key)
	defer ref.Close()
	waitFor(t, 5*time.Second, fmt.Sprintf("the reference to list %d servers", n), func() bool {
		frame, err := proto.Encode(proto.ServiceList, &proto.EmptyRequest{}, proto.NewClocks().Meta())
		if err != nil {
			t.Fatal(err)
		}
		payload, err := ref.Request(context.Background(), frame, time.Second)
		if err != nil {
			return false
		}
		var reply proto.ListReply
		if _, err := proto.DecodeInto(payload, &reply); err != nil {
			t.Fatal(err)
		}
		return len(reply.List) == n
	})
}

// TestUnsyncedPeerDroppedWhenGone starts a server while the reference
// lists a peer that cannot be reached, then lets that peer leave the
// list: once replication removes it, status no longer names it, since a
// server may leave for good.
func TestUnsyncedPeerDroppedWhenGone(t *testing.T) {
	_, s2, stopGhost := startBesideGhost(t)
	stopGhost()
	waitFor(t, 15*time.Second, "the gone ghost to leave server-2's unsynced peers", func() bool {
		return len(s2.replica.Status().Unsynced) == 0
	})
}

// TestWritesHeldAloneAreLogged stops server-2 and posts through server-1,
// which then acknowledges writes with no second copy and must log a
// warning. Before it had a peer, server-1 logs no such warning.
func TestWritesHeldAloneAreLogged(t *testing.T) {
	c := newCluster(t, 0)
	_, logs := c.startCounted(serverName(1), nil)
	c.waitServing(1)
	cl := c.client()
	cl.waitAnswered()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})
	if logs.count("write acknowledged without a second copy") > 0 {
		t.Fatal("a server that never had a peer warned about writes held alone")
	}

	c.start(serverName(2))
	c.waitServing(2)
	cl.mustSucceed(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: "duas cópias"})
	c.stop(serverName(2))

	waitFor(t, 10*time.Second, "a warning about a write held alone", func() bool {
		cl.mustSucceed(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: "uma cópia"})
		return logs.count("write acknowledged without a second copy") > 0
	})
}
