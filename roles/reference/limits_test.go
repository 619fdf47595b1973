package reference

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"msgsys/lang"
	"msgsys/proto"
)

// description returns the description of an error reply, failing the test
// when env is not one under service.
func description(t *testing.T, env proto.Envelope, service string) string {
	t.Helper()
	status, _, _ := env.Data.OptString("status")
	desc, _, _ := env.Data.OptString("description")
	if env.Service != service || status != proto.StatusError || desc == "" {
		t.Fatalf("reply %s %v, want an error reply with a description under %s", env.Service, env.Data, service)
	}
	return desc
}

func TestRegistryFullRejectsNewNames(t *testing.T) {
	ref := startReference(t, t.TempDir(), func(cfg *Config) {
		cfg.MaxServers = 3
		// The expiry loop, which logs the count of rejections held
		// back, runs four times per expiry.
		cfg.HeartbeatExpiry = 100 * time.Millisecond
	})
	c := newClient(t, ref.ref.Endpoint())
	for i, name := range []string{"alpha", "beta", "gamma"} {
		if got := c.rank(name, fmt.Sprintf("tcp://127.0.0.1:%d", 6000+i)); got != int64(i+1) {
			t.Fatalf("rank of %s = %d, want %d", name, got, i+1)
		}
	}

	env := c.call(proto.ServiceRank, &proto.RankRequest{User: "delta", Addr: "tcp://127.0.0.1:6003"})
	desc := description(t, env, proto.ServiceRank)
	for _, want := range []string{"registry full", "maximum of 3", `"delta"`, "--max-servers"} {
		if !strings.Contains(desc, want) {
			t.Errorf("rank description %q lacks %q", desc, want)
		}
	}
	env = c.call(proto.ServiceHeartbeat, &proto.HeartbeatRequest{User: "epsilon", Addr: "tcp://127.0.0.1:6004"})
	if desc := description(t, env, proto.ServiceHeartbeat); !strings.Contains(desc, "registry full") {
		t.Errorf("heartbeat description %q, want registry full", desc)
	}

	// Registered names keep working, also in another spelling.
	if got := c.rank("BETA", ""); got != 2 {
		t.Errorf("rank of a registered name in a full registry = %d, want 2", got)
	}
	c.heartbeat("gamma", "tcp://127.0.0.1:6102")
	if got, want := names(c.registered()), []string{"alpha", "beta", "gamma"}; !slices.Equal(got, want) {
		t.Errorf("registered = %v, want %v", got, want)
	}

	// A flood of new names is logged once per second, and the count of
	// the rejections held back follows when the second has passed.
	const flood = 50
	for i := range flood {
		env := c.call(proto.ServiceRank, &proto.RankRequest{User: fmt.Sprintf("spam-%d", i)})
		description(t, env, proto.ServiceRank)
	}
	const rejected = flood + 2
	var lines []string
	logged := func() int {
		lines = ref.logs.Lines(`msg="registration rejected, registry full"`, "max_servers=3")
		total := len(lines)
		for _, line := range ref.logs.Lines(`msg="registry full rejections not logged"`) {
			var count int
			if _, err := fmt.Sscanf(line[strings.Index(line, "count="):], "count=%d", &count); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			total += count
		}
		return total
	}
	waitFor(t, 5*time.Second, fmt.Sprintf("log lines accounting for %d rejections", rejected), func() bool { return logged() >= rejected })
	if got := logged(); got != rejected {
		t.Errorf("log lines account for %d rejections, want %d", got, rejected)
	}
	if len(lines) > 10 {
		t.Errorf("%d log lines for %d rejected new names, want at most 10", len(lines), rejected)
	}
	if got := ref.logs.Lines(`msg="request rejected"`); len(got) != 0 {
		t.Errorf("rejections of new names also logged as %q", got)
	}
}

func TestRegistryFullInPortuguese(t *testing.T) {
	ref := startReference(t, t.TempDir(), func(cfg *Config) {
		cfg.MaxServers = 1
		cfg.Lang = lang.PT
	})
	c := newClient(t, ref.ref.Endpoint())
	c.rank("alpha", "")

	env := c.call(proto.ServiceRank, &proto.RankRequest{User: "beta"})
	desc := description(t, env, proto.ServiceRank)
	for _, want := range []string{"registro cheio", "máximo de 1 servidores", `"beta"`, "--max-servers"} {
		if !strings.Contains(desc, want) {
			t.Errorf("description %q lacks %q", desc, want)
		}
	}
}

// TestRejectionInRequestedLanguage sends requests with lang en to a
// reference whose --lang is pt, as msgsys servers do for their English
// logs. Requests without lang keep the reference's language.
func TestRejectionInRequestedLanguage(t *testing.T) {
	ref := startReference(t, t.TempDir(), func(cfg *Config) {
		cfg.MaxServers = 1
		cfg.Lang = lang.PT
	})
	c := newClient(t, ref.ref.Endpoint())
	c.rank("alpha", "")
	// call leaves lang out, as Encode takes it from the metadata.
	callIn := func(l, service string, data any) proto.Envelope {
		t.Helper()
		frame, err := proto.Encode(service, data, proto.Meta{Timestamp: proto.FormatTime(time.Now()), Clock: 1, Lang: l})
		if err != nil {
			t.Fatalf("encode %s: %v", service, err)
		}
		return c.raw(frame)
	}

	env := callIn(lang.EN, proto.ServiceRank, &proto.RankRequest{User: "beta"})
	if desc := description(t, env, proto.ServiceRank); !strings.HasPrefix(desc, "registry full: ") {
		t.Errorf("rank description with lang en = %q, want it in English", desc)
	}
	env = callIn("EN-us", proto.ServiceHeartbeat, &proto.HeartbeatRequest{User: "gamma"})
	if desc := description(t, env, proto.ServiceHeartbeat); !strings.HasPrefix(desc, "registry full: ") {
		t.Errorf("heartbeat description with lang EN-us = %q, want it in English", desc)
	}
	env = callIn(lang.EN, proto.ServiceHeartbeat, &proto.HeartbeatRequest{User: "bad name"})
	if desc, want := description(t, env, proto.ServiceHeartbeat), `server name "bad name" must contain only letters, digits, _, - and .`; desc != want {
		t.Errorf("heartbeat description with lang en = %q, want %q", desc, want)
	}
	env = callIn("fr", proto.ServiceRank, &proto.RankRequest{User: "beta"})
	if desc := description(t, env, proto.ServiceRank); !strings.HasPrefix(desc, "registro cheio: ") {
		t.Errorf("rank description with lang fr = %q, want the reference's Portuguese", desc)
	}
}

// TestLowerLimitKeepsRegisteredNames restarts a reference with a limit
// below the names its file holds: every name keeps its rank, and new
// names are rejected.
func TestLowerLimitKeepsRegisteredNames(t *testing.T) {
	dir := t.TempDir()
	first := startReference(t, dir, nil)
	c := newClient(t, first.ref.Endpoint())
	for _, name := range []string{"alpha", "beta", "gamma"} {
		c.rank(name, "")
	}
	first.stop(t)

	second := startReference(t, dir, func(cfg *Config) { cfg.MaxServers = 2 })
	c = newClient(t, second.ref.Endpoint())
	for i, name := range []string{"alpha", "beta", "gamma"} {
		if got := c.rank(name, ""); got != int64(i+1) {
			t.Errorf("rank of %s = %d, want %d", name, got, i+1)
		}
	}
	description(t, c.call(proto.ServiceRank, &proto.RankRequest{User: "delta"}), proto.ServiceRank)
	if !second.logs.Contains(`msg="registry full, new names will be rejected" servers=3 max_servers=2`) {
		t.Error("no warning at start that the registry is full")
	}
}

// fakeClock is a clock that tests move forward by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestUnseenServersForgottenAfterRestart registers two servers and
// restarts the reference. One sends heartbeats again and the other never
// does. The silent one stays registered for forgetAfter after the
// restart, so that a starting server waits for it, and then leaves the
// registered list. It gets its rank back when it returns.
func TestUnseenServersForgottenAfterRestart(t *testing.T) {
	dir := t.TempDir()
	first := startReference(t, dir, nil)
	c := newClient(t, first.ref.Endpoint())
	c.rank("seen", "tcp://127.0.0.1:6000")
	c.rank("unseen", "tcp://127.0.0.1:6001")
	first.stop(t)

	clock := &fakeClock{now: time.Now()}
	second := startReference(t, dir, func(cfg *Config) { cfg.Now = clock.Now })
	c = newClient(t, second.ref.Endpoint())
	c.heartbeat("seen", "")
	if got, want := names(c.registered()), []string{"seen", "unseen"}; !slices.Equal(got, want) {
		t.Errorf("registered right after the restart = %v, want %v", got, want)
	}

	clock.Add(forgetAfter - time.Second)
	c.heartbeat("seen", "")
	if got, want := names(c.registered()), []string{"seen", "unseen"}; !slices.Equal(got, want) {
		t.Errorf("registered just before forgetAfter = %v, want %v", got, want)
	}

	clock.Add(2 * time.Second)
	c.heartbeat("seen", "")
	if got, want := names(c.registered()), []string{"seen"}; !slices.Equal(got, want) {
		t.Errorf("registered after forgetAfter = %v, want %v", got, want)
	}

	if got := c.rank("unseen", ""); got != 2 {
		t.Errorf("rank of the returning server = %d, want its old rank 2", got)
	}
	if got, want := names(c.registered()), []string{"seen", "unseen"}; !slices.Equal(got, want) {
		t.Errorf("registered after its return = %v, want %v", got, want)
	}
}

// TestFullRegistryReplacesForgottenServer fills a registry, restarts the
// reference, and lets one server stay silent. A new name is rejected while
// the silent server may still come back, and replaces it once it is
// forgotten. Servers that send heartbeats are never replaced.
func TestFullRegistryReplacesForgottenServer(t *testing.T) {
	dir := t.TempDir()
	first := startReference(t, dir, func(cfg *Config) { cfg.MaxServers = 2 })
	c := newClient(t, first.ref.Endpoint())
	c.rank("alpha", "tcp://127.0.0.1:6000")
	c.rank("beta", "tcp://127.0.0.1:6001")
	first.stop(t)

	clock := &fakeClock{now: time.Now()}
	second := startReference(t, dir, func(cfg *Config) {
		cfg.MaxServers = 2
		cfg.Now = clock.Now
	})
	c = newClient(t, second.ref.Endpoint())
	c.heartbeat("alpha", "")
	description(t, c.call(proto.ServiceRank, &proto.RankRequest{User: "gamma"}), proto.ServiceRank)

	clock.Add(forgetAfter + time.Second)
	c.heartbeat("alpha", "")
	if got := c.rank("gamma", "tcp://127.0.0.1:6002"); got != 3 {
		t.Errorf("rank of the new name = %d, want 3", got)
	}
	if got, want := names(c.registered()), []string{"alpha", "gamma"}; !slices.Equal(got, want) {
		t.Errorf("registered = %v, want %v", got, want)
	}
	if !second.logs.Contains(`msg="forgotten server removed, registry full" name=beta rank=2 addr=tcp://127.0.0.1:6001 new_name=gamma max_servers=2`) {
		t.Errorf("no log line for the removed server:\n%s", second.logs.String())
	}

	// The returning server finds the registry full of live servers.
	description(t, c.call(proto.ServiceRank, &proto.RankRequest{User: "beta"}), proto.ServiceRank)
	second.stop(t)

	// The removal is in the file: a third start loads two names.
	third := startReference(t, dir, nil)
	c = newClient(t, third.ref.Endpoint())
	if got, want := names(c.registered()), []string{"alpha", "gamma"}; !slices.Equal(got, want) {
		t.Errorf("registered after a restart = %v, want %v", got, want)
	}
}

// TestClusterKeyGuardsReference checks that a reference with a cluster
// key registers, lists and takes heartbeats only over connections that
// present the key.
func TestClusterKeyGuardsReference(t *testing.T) {
	ref := startReference(t, t.TempDir(), func(cfg *Config) { cfg.ClusterKey = "segredo" })
	endpoint := ref.ref.Endpoint()

	frame, err := proto.Encode(proto.ServiceRank, &proto.RankRequest{User: "intruder", Addr: "tcp://127.0.0.1:6666"},
		proto.Meta{Timestamp: proto.FormatTime(time.Now()), Clock: 1})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]error{"": proto.ErrKeyMismatch, "errado": proto.ErrBadKey} {
		req := proto.NewKeyedRequester(endpoint, key)
		reply, err := req.Request(context.Background(), frame, requestTimeout)
		req.Close()
		if !errors.Is(err, want) {
			t.Errorf("rank with key %q: reply %x, error %v; want %v", key, reply, err, want)
		}
	}

	keyed := &client{t: t, req: proto.NewKeyedRequester(endpoint, "segredo")}
	t.Cleanup(keyed.req.Close)
	if got := keyed.rank("server-1", "tcp://127.0.0.1:6001"); got != 1 {
		t.Errorf("rank with the key = %d, want 1", got)
	}
	keyed.heartbeat("server-1", "")
	if got, want := names(keyed.list()), []string{"server-1"}; !slices.Equal(got, want) {
		t.Errorf("list with the key = %v, want %v", got, want)
	}
	if got, want := names(keyed.registered()), []string{"server-1"}; !slices.Equal(got, want) {
		t.Errorf("registered = %v, want %v: a connection without the key registered a name", got, want)
	}
}

// TestStopOfReferenceExpiresNoServer makes the reference stand still for
// longer than the heartbeat expiry, as SIGSTOP does: its clock moves on
// and it has not run meanwhile. The server that sent heartbeats until
// the stop is still listed afterwards, because its heartbeats wait in the
// reference's socket.
func TestStopOfReferenceExpiresNoServer(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	// The expiry loop runs every quarter of the expiry: a long expiry
	// keeps it from running while the test moves the clocks.
	ref := startReference(t, t.TempDir(), func(cfg *Config) {
		cfg.Now = clock.Now
		cfg.HeartbeatExpiry = time.Minute
	})
	c := newClient(t, ref.ref.Endpoint())
	c.rank("alpha", "tcp://127.0.0.1:6000")

	stop := ref.ref.cfg.HeartbeatExpiry + time.Second
	clock.Add(stop)
	ref.ref.awake.Add(-int64(stop))
	if got, want := names(c.list()), []string{"alpha"}; !slices.Equal(got, want) {
		t.Errorf("list after the stop = %v, want %v", got, want)
	}
	if !ref.logs.Contains(`msg="reference resumed after a stop, heartbeats expire anew"`) {
		t.Error("no log line for the stop")
	}
}
