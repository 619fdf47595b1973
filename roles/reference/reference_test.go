package reference

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shamaton/msgpack/v2"

	"msgsys/internal/testkit"
	"msgsys/lang"
	"msgsys/proto"
)

func TestRankUniqueAndStable(t *testing.T) {
	ref := startReference(t, t.TempDir(), nil)
	c := newClient(t, ref.ref.Endpoint())

	first := map[string]int64{}
	for _, name := range []string{"alpha", "beta", "gamma"} {
		first[name] = c.rank(name, "")
	}
	seen := map[int64]string{}
	for name, rank := range first {
		if rank <= 0 {
			t.Errorf("rank of %s = %d, want positive", name, rank)
		}
		if other, dup := seen[rank]; dup {
			t.Errorf("rank %d given to both %s and %s", rank, other, name)
		}
		seen[rank] = name
	}
	if first["alpha"] != 1 || first["beta"] != 2 || first["gamma"] != 3 {
		t.Errorf("ranks %v, want alpha 1, beta 2, gamma 3 in order of registration", first)
	}

	for _, name := range []string{"gamma", "alpha", "beta", "alpha"} {
		if got := c.rank(name, ""); got != first[name] {
			t.Errorf("second rank of %s = %d, want %d", name, got, first[name])
		}
	}
	if got := c.rank("ALPHA", ""); got != first["alpha"] {
		t.Errorf("rank of ALPHA = %d, want alpha's %d because names ignore case", got, first["alpha"])
	}
	if got := c.rank("delta", ""); got != 4 {
		t.Errorf("rank of a fourth name = %d, want 4", got)
	}
}

func TestRankConcurrentRegistrations(t *testing.T) {
	ref := startReference(t, t.TempDir(), nil)
	const servers = 16

	ranks := make([]int64, servers)
	var wg sync.WaitGroup
	for i := range servers {
		req := proto.NewRequester(ref.ref.Endpoint())
		defer req.Close()
		wg.Go(func() {
			frame, err := proto.Encode(proto.ServiceRank, &proto.RankRequest{User: fmt.Sprintf("server%d", i)}, proto.Meta{Clock: 1})
			if err != nil {
				t.Error(err)
				return
			}
			reply, err := req.Request(context.Background(), frame, requestTimeout)
			if err != nil {
				t.Errorf("server%d: %v", i, err)
				return
			}
			env, err := proto.Decode(reply)
			if err != nil {
				t.Errorf("server%d: decode reply: %v", i, err)
				return
			}
			ranks[i], _, _ = env.Data.OptInt("rank")
		})
	}
	wg.Wait()

	slices.Sort(ranks)
	for i, rank := range ranks {
		if rank != int64(i+1) {
			t.Fatalf("sorted ranks %v, want 1 to %d each once", ranks, servers)
		}
	}
}

func TestRankSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	first := startReference(t, dir, nil)
	c := newClient(t, first.ref.Endpoint())
	want := map[string]int64{}
	for _, name := range []string{"alpha", "beta", "gamma"} {
		want[name] = c.rank(name, "tcp://127.0.0.1:"+fmt.Sprint(6000+len(want)))
	}
	c.heartbeat("beta", "tcp://127.0.0.1:7001")
	first.stop(t)

	second := startReference(t, dir, nil)
	c = newClient(t, second.ref.Endpoint())
	if got := c.list(); len(got) != 0 {
		t.Errorf("list right after restart = %v, want empty until servers send heartbeats", got)
	}
	for _, name := range []string{"gamma", "beta", "alpha"} {
		if got := c.rank(name, ""); got != want[name] {
			t.Errorf("rank of %s after restart = %d, want %d", name, got, want[name])
		}
	}
	if got := c.rank("delta", ""); got != 4 {
		t.Errorf("rank of a new name after restart = %d, want 4", got)
	}

	list := c.list()
	if len(list) != 4 || list[1].Name != "beta" {
		t.Fatalf("list after restart = %v, want alpha, beta, gamma, delta", list)
	}
	if list[1].Addr != "tcp://127.0.0.1:7001" {
		t.Errorf("beta's addr after restart = %q, want the one its heartbeat stored", list[1].Addr)
	}
}

func TestSecondReferenceOnSameDirFails(t *testing.T) {
	dir := t.TempDir()
	startReference(t, dir, nil)

	cfg := DefaultConfig()
	cfg.Bind = "tcp://127.0.0.1:0"
	cfg.DataDir = dir
	ref, err := New(cfg)
	if err == nil {
		ref.Close()
		t.Fatal("New on a directory in use succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "locked") {
		t.Errorf("error %q does not say the file is locked", err)
	}
}

func TestListShowsOnlyRecentServers(t *testing.T) {
	ref := startReference(t, t.TempDir(), func(cfg *Config) { cfg.HeartbeatExpiry = 200 * time.Millisecond })
	c := newClient(t, ref.ref.Endpoint())

	c.rank("beta", "tcp://127.0.0.1:5561")
	c.rank("alpha", "tcp://127.0.0.1:5560")
	c.heartbeat("gamma", "")
	want := []proto.ServerInfo{
		{Name: "beta", Rank: 1, Addr: "tcp://127.0.0.1:5561"},
		{Name: "alpha", Rank: 2, Addr: "tcp://127.0.0.1:5560"},
		{Name: "gamma", Rank: 3},
	}
	// Each round sends fresh heartbeats, so a slow machine that lets a
	// server expire between requests only costs another round.
	var got []proto.ServerInfo
	waitFor(t, 5*time.Second, "list to show beta, alpha and gamma", func() bool {
		for _, name := range []string{"alpha", "beta", "gamma"} {
			c.heartbeat(name, "")
		}
		got = c.list()
		return slices.Equal(got, want)
	})

	// Only alpha keeps sending heartbeats, so beta and gamma expire.
	expiredBefore := len(ref.logs.Lines("server expired", "name=beta", "rank=1"))
	waitFor(t, 5*time.Second, "list to show only alpha", func() bool {
		c.heartbeat("alpha", "")
		return slices.Equal(names(c.list()), []string{"alpha"})
	})
	waitFor(t, 5*time.Second, "expiry log line of beta", func() bool {
		return len(ref.logs.Lines("server expired", "name=beta", "rank=1", "clock=")) > expiredBefore
	})
	// The expired servers stay registered.
	if got := c.registered(); !slices.Equal(got, want) {
		t.Errorf("registered with beta and gamma expired = %v, want %v", got, want)
	}

	availableBefore := len(ref.logs.Lines("server available", "name=beta"))
	c.heartbeat("beta", "")
	if got := names(c.list()); !slices.Contains(got, "beta") {
		t.Errorf("list after beta's new heartbeat = %v, want beta in it", got)
	}
	if n := len(ref.logs.Lines("server available", "name=beta")); n != availableBefore+1 {
		t.Errorf("beta's return logged %d available lines, want 1", n-availableBefore)
	}
}

func TestHeartbeatRegistersUnknownName(t *testing.T) {
	ref := startReference(t, t.TempDir(), nil)
	c := newClient(t, ref.ref.Endpoint())
	c.rank("alpha", "")

	env := c.call(proto.ServiceHeartbeat, &proto.HeartbeatRequest{User: "delta", Addr: "tcp://10.0.0.4:5560"})
	if env.Service != proto.ServiceHeartbeat {
		t.Fatalf("reply service %q, want heartbeat", env.Service)
	}
	if _, ok := env.Data["timestamp"].(string); !ok {
		t.Errorf("heartbeat reply %v has no timestamp string", env.Data)
	}
	if _, ok, err := env.Data.OptInt("clock"); !ok || err != nil {
		t.Errorf("heartbeat reply %v has no integer clock", env.Data)
	}
	if len(env.Data) != 2 {
		t.Errorf("heartbeat reply %v has keys other than timestamp and clock", env.Data)
	}

	if got := c.rank("delta", ""); got != 2 {
		t.Errorf("rank of delta after its heartbeat = %d, want 2", got)
	}
	want := []proto.ServerInfo{{Name: "alpha", Rank: 1}, {Name: "delta", Rank: 2, Addr: "tcp://10.0.0.4:5560"}}
	if got := c.list(); !slices.Equal(got, want) {
		t.Errorf("list = %v, want %v", got, want)
	}
	if lines := ref.logs.Lines("server registered", "name=delta", "rank=2", "clock="); len(lines) != 1 {
		t.Errorf("registration of delta logged %d times, want once: %q", len(lines), lines)
	}
}

func TestHeartbeatKeepsRegisteredRank(t *testing.T) {
	ref := startReference(t, t.TempDir(), nil)
	c := newClient(t, ref.ref.Endpoint())
	c.rank("alpha", "")
	c.rank("beta", "")

	env := c.call(proto.ServiceHeartbeat, &proto.HeartbeatRequest{User: "beta", Rank: 50})
	if env.Service != proto.ServiceHeartbeat || env.Data["status"] != nil {
		t.Fatalf("heartbeat with another rank: reply service %q, data %v, want a plain heartbeat reply", env.Service, env.Data)
	}
	want := []proto.ServerInfo{{Name: "alpha", Rank: 1}, {Name: "beta", Rank: 2}}
	if got := c.list(); !slices.Equal(got, want) {
		t.Errorf("list after beta's heartbeat with rank 50 = %v, want %v", got, want)
	}
	if got := c.rank("beta", ""); got != 2 {
		t.Errorf("rank of beta after its heartbeat with rank 50 = %d, want its old rank 2", got)
	}
	if lines := ref.logs.Lines("heartbeat rank change rejected", "name=beta", "rank=2", "requested_rank=50"); len(lines) != 1 {
		t.Errorf("rejected rank change logged %d times, want once: %q", len(lines), lines)
	}

	// An unknown name registers as a rank request would, at the requested
	// rank when no other name holds it.
	c.call(proto.ServiceHeartbeat, &proto.HeartbeatRequest{User: "gamma", Rank: 7})
	if got := c.rank("gamma", ""); got != 7 {
		t.Errorf("rank of gamma after its first heartbeat with rank 7 = %d, want 7", got)
	}
}

// TestExtraFrameGetsErrorReply sends a request of two frames from a
// libzmq REQ socket, which puts one delimiter in front of both.
func TestExtraFrameGetsErrorReply(t *testing.T) {
	testkit.RequirePython(t, "zmq")
	ref := startReference(t, t.TempDir(), nil)
	list := encodeMap(t, map[string]any{"service": "list", "data": map[string]any{}})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	script := filepath.Join("..", "..", "testdata", "interop", "req_frames.py")
	out, err := exec.CommandContext(ctx, testkit.SystemPython, script, ref.ref.Endpoint(), hex.EncodeToString(list), hex.EncodeToString([]byte("extra"))).Output()
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	var result struct {
		Reply []string `json:"reply"`
	}
	if err := json.Unmarshal(out, &result); err != nil {
		t.Fatalf("%s printed %q: %v", script, out, err)
	}
	if len(result.Reply) != 1 {
		t.Fatalf("reply of %d frames %q, want one error frame", len(result.Reply), result.Reply)
	}
	frame, err := hex.DecodeString(result.Reply[0])
	if err != nil {
		t.Fatal(err)
	}
	env, err := proto.Decode(frame)
	if err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	if env.Service != proto.ServiceError {
		t.Errorf("reply service %q, want %q", env.Service, proto.ServiceError)
	}
	if status, _ := env.Data["status"].(string); status != proto.StatusError {
		t.Errorf("reply status %q, want %q", status, proto.StatusError)
	}
	if desc, _ := env.Data["description"].(string); desc != "invalid request: send one frame after the delimiter" {
		t.Errorf("description %q, want the frame-count error", desc)
	}
	if lines := ref.logs.Lines("request rejected", "2 frames after the delimiter"); len(lines) != 1 {
		t.Errorf("rejection logged %d times, want once: %q", len(lines), lines)
	}

	c := newClient(t, ref.ref.Endpoint())
	if got := c.rank("alpha", ""); got != 1 {
		t.Errorf("rank after the two-frame request = %d, want 1", got)
	}
}

func TestAddrIsUpdated(t *testing.T) {
	ref := startReference(t, t.TempDir(), nil)
	c := newClient(t, ref.ref.Endpoint())

	c.rank("alpha", "tcp://127.0.0.1:5560")
	c.heartbeat("alpha", "")
	if got := c.list()[0].Addr; got != "tcp://127.0.0.1:5560" {
		t.Errorf("addr after a heartbeat without addr = %q, want the stored one", got)
	}
	c.heartbeat("alpha", "tcp://[::1]:5570")
	if got := c.list()[0].Addr; got != "tcp://[::1]:5570" {
		t.Errorf("addr after a heartbeat with a new addr = %q, want tcp://[::1]:5570", got)
	}
	c.rank("alpha", "tcp://host.example:5580")
	if got := c.list()[0].Addr; got != "tcp://host.example:5580" {
		t.Errorf("addr after a rank with a new addr = %q, want tcp://host.example:5580", got)
	}
}

// encodeMap encodes a request built by hand, for inputs that the message
// structs cannot express.
func encodeMap(t *testing.T, value any) []byte {
	t.Helper()
	frame, err := msgpack.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	return frame
}

func TestBadInputGetsErrorReply(t *testing.T) {
	ref := startReference(t, t.TempDir(), nil)
	c := newClient(t, ref.ref.Endpoint())
	req := func(service string, data map[string]any) []byte {
		return encodeMap(t, map[string]any{"service": service, "data": data})
	}
	tooLarge := make([]byte, proto.MaxFrameBytes+1)
	copy(tooLarge, encodeMap(t, map[string]any{"service": "rank"}))

	cases := []struct {
		name        string
		payload     []byte
		service     string
		description string
	}{
		{"reserved byte", []byte{0xc1}, "error", "could not be decoded"},
		{"truncated map", []byte{0x82, 0xa7}, "error", "could not be decoded"},
		{"empty payload", []byte{}, "error", "could not be decoded"},
		{"too large", tooLarge, "error", "message too large: the limit is 16 MiB"},
		{"nested too deeply", append(bytes.Repeat([]byte{0x91}, 200_000), 0xc0), "error", "nested too deeply: at most 16 levels"},
		{"bin map key", append([]byte{0x81, 0xc4, 0x07}, "service\xa4rank"...), "error", "map keys must be MessagePack str (text), not bin"},
		{"not a map", encodeMap(t, "rank"), "error", "not a MessagePack map"},
		{"integer map key", encodeMap(t, map[int]any{1: "rank"}), "error", "map keys must be MessagePack str"},
		{"above the transport limit", make([]byte, proto.MaxMessageBytes+1), "error", "message too large: the limit is 16 MiB"},
		{"array", encodeMap(t, []int{1, 2, 3}), "error", "message is not a MessagePack map"},
		{"no service", encodeMap(t, map[string]any{"data": map[string]any{}}), "error", `missing field "service"`},
		{"service not text", encodeMap(t, map[string]any{"service": 7, "data": map[string]any{}}), "error", `field "service" must be a string (MessagePack str)`},
		{"service bin", encodeMap(t, map[string]any{"service": []byte("rank"), "data": map[string]any{}}), "error", `field "service" must be a string (MessagePack str)`},
		{"data not a map", encodeMap(t, map[string]any{"service": "rank", "data": "alpha"}), "rank", `"data"`},
		{"unknown service", req("login", map[string]any{"user": "ana"}), "error", `unknown service "login"`},
		{"empty service", req("", map[string]any{}), "error", "unknown service"},
		{"rank without user", req("rank", map[string]any{}), "rank", `missing field "user"`},
		{"rank user integer", req("rank", map[string]any{"user": 5}), "rank", `field "user" must be a string`},
		{"rank user bin", req("rank", map[string]any{"user": []byte("alpha")}), "rank", `"user" must be str, not bin`},
		{"rank user empty", req("rank", map[string]any{"user": ""}), "rank", "is empty"},
		{"rank user space", req("rank", map[string]any{"user": "al pha"}), "rank", "only letters, digits"},
		{"rank user too long", req("rank", map[string]any{"user": strings.Repeat("a", 33)}), "rank", "longer than 32"},
		{"rank user reserved", req("rank", map[string]any{"user": "Servers"}), "rank", "is reserved"},
		{"rank addr integer", req("rank", map[string]any{"user": "alpha", "addr": 5560}), "rank", `field "addr" must be a string`},
		{"rank addr scheme", req("rank", map[string]any{"user": "alpha", "addr": "udp://127.0.0.1:5560"}), "rank", "must start with tcp://"},
		{"rank addr too long", req("rank", map[string]any{"user": "alpha", "addr": "tcp://" + strings.Repeat("h", 251) + ":1"}), "rank", "longer than 256 bytes"},
		{"rank addr wildcard", req("rank", map[string]any{"user": "alpha", "addr": "tcp://*:5560"}), "rank", "connectable host"},
		{"rank addr no port", req("rank", map[string]any{"user": "alpha", "addr": "tcp://127.0.0.1"}), "rank", "connectable host"},
		{"rank addr port zero", req("rank", map[string]any{"user": "alpha", "addr": "tcp://127.0.0.1:0"}), "rank", "port from 1 to 65535"},
		{"rank clock negative", req("rank", map[string]any{"user": "alpha", "clock": -1}), "rank", `field "clock" must not be negative`},
		{"rank clock fraction", req("rank", map[string]any{"user": "alpha", "clock": 1.5}), "rank", `field "clock" must be an integer`},
		{"list clock text", req("list", map[string]any{"clock": "7"}), "list", `field "clock" must be an integer`},
		{"heartbeat without user", req("heartbeat", map[string]any{"addr": "tcp://127.0.0.1:5560"}), "heartbeat", `missing field "user"`},
		{"heartbeat user invalid", req("heartbeat", map[string]any{"user": "a/b"}), "heartbeat", "only letters, digits"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			env := c.raw(tc.payload)
			if env.Service != tc.service {
				t.Errorf("reply service %q, want %q", env.Service, tc.service)
			}
			if status, _ := env.Data["status"].(string); status != proto.StatusError {
				t.Errorf("reply status %q, want %q", status, proto.StatusError)
			}
			if desc, _ := env.Data["description"].(string); !strings.Contains(desc, tc.description) {
				t.Errorf("description %q does not contain %q", desc, tc.description)
			}
			if _, ok := env.Data["timestamp"].(string); !ok {
				t.Errorf("error reply %v has no timestamp string", env.Data)
			}
			if clock, ok, err := env.Data.OptInt("clock"); !ok || err != nil || clock <= 0 {
				t.Errorf("error reply %v has no positive clock", env.Data)
			}
			// The reference keeps serving on the same connection.
			if got := c.rank("alpha", ""); got != 1 {
				t.Errorf("rank after the bad request = %d, want 1", got)
			}
		})
	}
	c.t = t

	if got := names(c.list()); !slices.Equal(got, []string{"alpha"}) {
		t.Errorf("list after bad requests = %v, want only alpha: no rejected request may register a name", got)
	}
	if lines := ref.logs.Lines("request rejected", "service=rank", "clock="); len(lines) == 0 {
		t.Error("no log line for rejected rank requests")
	}
}

func TestErrorDescriptionsInPortuguese(t *testing.T) {
	ref := startReference(t, t.TempDir(), func(cfg *Config) { cfg.Lang = lang.PT })
	c := newClient(t, ref.ref.Endpoint())

	env := c.call("login", &proto.LoginRequest{User: "ana"})
	if desc, _ := env.Data["description"].(string); !strings.Contains(desc, `serviço desconhecido "login"`) {
		t.Errorf("description %q, want the Portuguese text for an unknown service", desc)
	}
	env = c.call(proto.ServiceRank, &proto.RankRequest{User: "servers"})
	if desc, _ := env.Data["description"].(string); !strings.Contains(desc, "é reservado") {
		t.Errorf("description %q, want the Portuguese text for a reserved name", desc)
	}
}

func TestReplyClockExceedsRequestClock(t *testing.T) {
	ref := startReference(t, t.TempDir(), nil)
	c := newClient(t, ref.ref.Endpoint())

	steps := []struct {
		service string
		data    any
		clock   uint64
	}{
		{proto.ServiceRank, &proto.RankRequest{User: "alpha"}, 1000},
		{proto.ServiceHeartbeat, &proto.HeartbeatRequest{User: "alpha"}, 5000},
		{proto.ServiceList, &proto.EmptyRequest{}, 3},
		{"login", &proto.LoginRequest{User: "ana"}, 9000},
		{proto.ServiceRank, &proto.RankRequest{User: "servers"}, 12000},
		{proto.ServiceList, &proto.EmptyRequest{}, 1},
	}
	var previous uint64
	for _, step := range steps {
		c.clock = step.clock - 1 // call sends the next value
		env := c.call(step.service, step.data)
		clock, ok, err := env.Data.OptInt("clock")
		if !ok || err != nil {
			t.Fatalf("%s reply %v has no integer clock", step.service, env.Data)
		}
		if uint64(clock) <= step.clock {
			t.Errorf("%s reply clock %d, want more than the request's %d", step.service, clock, step.clock)
		}
		if uint64(clock) <= previous {
			t.Errorf("%s reply clock %d, want more than the previous reply's %d", step.service, clock, previous)
		}
		previous = uint64(clock)
	}
}

func TestReplyKeepsRoutingFrames(t *testing.T) {
	ref := startReference(t, t.TempDir(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	conn, err := proto.Dial(ctx, ref.ref.Endpoint(), proto.Dealer, requestTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	frame, err := proto.Encode(proto.ServiceRank, &proto.RankRequest{User: "alpha"}, proto.Meta{Clock: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Send([]byte("client-7"), []byte{}, frame); err != nil {
		t.Fatal(err)
	}

	replies := make(chan [][]byte, 1)
	go func() {
		frames, err := conn.Recv()
		if err != nil {
			t.Errorf("receive reply: %v", err)
			close(replies)
			return
		}
		replies <- frames
	}()
	var frames [][]byte
	select {
	case frames = <-replies:
	case <-ctx.Done():
		t.Fatal("no reply within the timeout")
	}
	if len(frames) != 3 || string(frames[0]) != "client-7" || len(frames[1]) != 0 {
		t.Fatalf("reply frames %q, want [client-7, empty, payload]", frames)
	}
	env, err := proto.Decode(frames[2])
	if err != nil {
		t.Fatal(err)
	}
	if rank, _, _ := env.Data.OptInt("rank"); env.Service != proto.ServiceRank || rank != 1 {
		t.Errorf("reply %s %v, want rank 1", env.Service, env.Data)
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	cases := map[string]func(*Config){
		"empty bind":       func(c *Config) { c.Bind = "" },
		"empty data dir":   func(c *Config) { c.DataDir = "" },
		"zero expiry":      func(c *Config) { c.HeartbeatExpiry = 0 },
		"negative expiry":  func(c *Config) { c.HeartbeatExpiry = -time.Second },
		"unknown language": func(c *Config) { c.Lang = "fr" },
		"no clocks":        func(c *Config) { c.Clocks = proto.Clocks{} },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Bind = "tcp://127.0.0.1:0"
			cfg.DataDir = t.TempDir()
			edit(&cfg)
			ref, err := New(cfg)
			if err == nil {
				ref.Close()
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("New returned %v, want ErrConfig", err)
			}
		})
	}
}

func TestConfigErrorsNameFlags(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*Config)
		pt, en string
	}{
		{"empty bind", func(c *Config) { c.Bind = "" },
			"reference: --bind não pode ser vazio",
			"reference: --bind must not be empty"},
		{"empty data dir", func(c *Config) { c.DataDir = "" },
			"reference: --data não pode ser vazio",
			"reference: --data must not be empty"},
		{"zero expiry", func(c *Config) { c.HeartbeatExpiry = 0 },
			"reference: --heartbeat-expiry precisa ser positivo, como 3s, e não 0s",
			"reference: --heartbeat-expiry must be positive, such as 3s, not 0s"},
		{"zero max servers", func(c *Config) { c.MaxServers = 0 },
			"reference: --max-servers precisa ser pelo menos 1, e não 0",
			"reference: --max-servers must be at least 1, not 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for l, want := range map[string]string{lang.PT: c.pt, lang.EN: c.en} {
				cfg := DefaultConfig()
				cfg.Bind = "tcp://127.0.0.1:0"
				cfg.DataDir = t.TempDir()
				cfg.Lang = l
				c.edit(&cfg)
				ref, err := New(cfg)
				if err == nil {
					ref.Close()
					t.Fatalf("%s: New accepted the config", l)
				}
				if err.Error() != want {
					t.Errorf("%s: error %q, want %q", l, err, want)
				}
				if !errors.Is(err, ErrConfig) {
					t.Errorf("%s: error %q is not ErrConfig", l, err)
				}
			}
		})
	}
}

func TestRunTwiceFails(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Bind = "tcp://127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	ref, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ref.Run(ctx); err != nil {
		t.Fatalf("Run with a cancelled context returned %v, want nil", err)
	}
	if err := ref.Run(context.Background()); !errors.Is(err, ErrRunTwice) {
		t.Errorf("second Run returned %v, want ErrRunTwice", err)
	}
	if err := ref.Close(); err != nil {
		t.Errorf("Close after Run returned %v, want nil", err)
	}
}

func TestParseLang(t *testing.T) {
	valid := map[string]string{"pt": lang.PT, "pt-BR": lang.PT, "EN": lang.EN, "en_US": lang.EN}
	for flag, want := range valid {
		if got, err := parseLang(flag); err != nil || got != want {
			t.Errorf("parseLang(%q) = %q, %v, want %q", flag, got, err, want)
		}
	}
	for _, flag := range []string{"fr", "es", "C"} {
		if _, err := parseLang(flag); err == nil {
			t.Errorf("parseLang(%q) succeeded, want an error", flag)
		}
	}
}

// TestSharedNameWarned sends heartbeats under one name from two addresses
// in turn, as two servers started with the same --name do. The reference
// warns that they share it, while a single move, as after a restart on
// another port, stays an ordinary change of address.
func TestSharedNameWarned(t *testing.T) {
	ref := startReference(t, t.TempDir(), nil)
	c := newClient(t, ref.ref.Endpoint())
	c.rank("alpha", "tcp://127.0.0.1:5560")

	c.call(proto.ServiceHeartbeat, &proto.HeartbeatRequest{User: "alpha", Addr: "tcp://127.0.0.1:5561"})
	if lines := ref.logs.Lines("two servers share one name"); len(lines) != 0 {
		t.Fatalf("one change of address warned of a shared name: %q", lines)
	}
	if lines := ref.logs.Lines("server address changed", "name=alpha"); len(lines) != 1 {
		t.Errorf("one change of address logged %d times, want once: %q", len(lines), lines)
	}

	c.call(proto.ServiceHeartbeat, &proto.HeartbeatRequest{User: "alpha", Addr: "tcp://127.0.0.1:5560"})
	lines := ref.logs.Lines("two servers share one name", "name=alpha", "tcp://127.0.0.1:5560", "tcp://127.0.0.1:5561")
	if len(lines) != 1 {
		t.Errorf("moving back logged %d warnings of a shared name, want one: %q", len(lines), lines)
	}
}

// TestRankOfWrongTypeRejected sends rank and heartbeat requests whose rank
// is not a non-negative integer. Each gets an error reply that names the
// field, and no name is registered.
func TestRankOfWrongTypeRejected(t *testing.T) {
	ref := startReference(t, t.TempDir(), nil)
	c := newClient(t, ref.ref.Endpoint())
	for _, service := range []string{proto.ServiceRank, proto.ServiceHeartbeat} {
		for _, rank := range []any{"7", -5, 2.5, uint64(1<<64 - 1)} {
			env := c.raw(encodeMap(t, map[string]any{"service": service, "data": map[string]any{"user": "zeta", "rank": rank}}))
			if status, _, _ := env.Data.OptString("status"); status != proto.StatusError {
				t.Errorf("%s with rank %v: reply %v, want an error", service, rank, env.Data)
			}
			if description, _ := env.Data["description"].(string); !strings.Contains(description, `"rank"`) {
				t.Errorf("%s with rank %v: description %q does not name the field", service, rank, description)
			}
		}
	}
	if got := c.list(); len(got) != 0 {
		t.Errorf("list after rejected requests = %v, want none", got)
	}
}
