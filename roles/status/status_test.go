package status

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"msgsys/proto"
	"msgsys/replica"
	"msgsys/roles/reference"
	"msgsys/roles/server"
)

func newStatus(t *testing.T, ref string, asJSON bool, out *bytes.Buffer) *Status {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Reference = ref
	cfg.JSON = asJSON
	cfg.Out = out
	st, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// login registers user through the broker's frontend.
func login(t *testing.T, frontend, user string) {
	t.Helper()
	req := proto.NewRequester(frontend)
	defer req.Close()
	frame, err := proto.Encode(proto.ServiceLogin, &proto.LoginRequest{User: user}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	payload, err := req.Request(context.Background(), frame, 5*time.Second)
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	env, err := proto.Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ := env.Data.OptString("status"); !proto.IsSuccess(status) {
		t.Fatalf("login %s: reply %v", user, env.Data)
	}
}

// closedEndpoint returns a loopback endpoint where nothing listens.
func closedEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "tcp://" + addr
}

func TestStatusOfRunningCluster(t *testing.T) {
	c := startCluster(t, 2)
	coordinator := c.waitSettled(t)
	login(t, c.broker.FrontendEndpoint(), "ana")

	// Both servers store the login before its reply is sent, because a
	// write waits for its live peers. The poll covers a peer that is
	// briefly lagging.
	var report Report
	waitFor(t, 5*time.Second, "both servers reporting user ana", func() bool {
		var err error
		report, err = newStatus(t, c.reference.Endpoint(), false, nil).Collect(context.Background())
		if err != nil || len(report.Servers) != 2 {
			return false
		}
		for _, row := range report.Servers {
			if row.Status == nil || row.Status.Users != 1 {
				return false
			}
		}
		return true
	})

	t.Run("table", func(t *testing.T) {
		var out bytes.Buffer
		if err := newStatus(t, c.reference.Endpoint(), false, &out).Run(context.Background()); err != nil {
			t.Fatalf("Run: %v", err)
		}
		t.Logf("table:\n%s", out.String())
		lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("table has %d lines, want a header and 2 rows:\n%s", len(lines), out.String())
		}
		if !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "REPLICATION") {
			t.Errorf("header = %q", lines[0])
		}
		for i, name := range []string{"server-1", "server-2"} {
			row := lines[i+1]
			if !strings.HasPrefix(row, name+" ") {
				t.Errorf("row %d = %q, want it to start with %s", i+1, row, name)
			}
			if !strings.Contains(row, coordinator+" (epoch ") {
				t.Errorf("row %q does not show coordinator %s", row, coordinator)
			}
			if !strings.Contains(row, "serving") {
				t.Errorf("row %q does not show serving", row)
			}
			if !strings.Contains(row, "1/1 peers in sync") {
				t.Errorf("row %q does not show its peer in sync", row)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		var out bytes.Buffer
		if err := newStatus(t, c.reference.Endpoint(), true, &out).Run(context.Background()); err != nil {
			t.Fatalf("Run: %v", err)
		}
		var got Report
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out.String())
		}
		if len(got.Servers) != 2 {
			t.Fatalf("%d servers, want 2:\n%s", len(got.Servers), out.String())
		}
		for _, row := range got.Servers {
			if !row.Reachable || row.Status == nil {
				t.Fatalf("%s not reachable: %s", row.Name, row.Error)
			}
			if row.Status.Coordinator != coordinator {
				t.Errorf("%s sees coordinator %q, want %q", row.Name, row.Status.Coordinator, coordinator)
			}
			if row.Addr == "" || row.Addr != row.Status.Addr {
				t.Errorf("%s: reference addr %q, status addr %q", row.Name, row.Addr, row.Status.Addr)
			}
			if len(row.Status.Replica.Version) == 0 {
				t.Errorf("%s: empty version vector", row.Name)
			}
			if row.OffsetMillis == nil {
				t.Errorf("%s: no offset from the coordinator", row.Name)
			} else if row.Name == coordinator && *row.OffsetMillis != 0 {
				t.Errorf("coordinator %s offset from itself = %v", row.Name, *row.OffsetMillis)
			}
		}
		if !strings.Contains(out.String(), `"version"`) {
			t.Errorf("JSON output has no version vector:\n%s", out.String())
		}
	})
}

func TestStatusUnreachableServer(t *testing.T) {
	refCfg := reference.DefaultConfig()
	refCfg.Bind = "tcp://127.0.0.1:0"
	refCfg.DataDir = t.TempDir()
	refCfg.HeartbeatExpiry = time.Minute
	ref, err := reference.New(refCfg)
	if err != nil {
		t.Fatal(err)
	}
	run(t, "reference", ref.Run)

	// Register a server whose endpoint has nothing listening.
	ghost := closedEndpoint(t)
	req := proto.NewRequester(ref.Endpoint())
	defer req.Close()
	frame, err := proto.Encode(proto.ServiceRank, &proto.RankRequest{User: "ghost", Addr: ghost}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := req.Request(context.Background(), frame, 5*time.Second); err != nil {
		t.Fatalf("rank: %v", err)
	}

	var out bytes.Buffer
	if err := newStatus(t, ref.Endpoint(), false, &out).Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	text := out.String()
	if !strings.Contains(text, "ghost") || !strings.Contains(text, "unreachable") {
		t.Errorf("table does not show ghost as unreachable:\n%s", text)
	}
	if !strings.Contains(text, "ghost: ") {
		t.Errorf("table does not explain ghost's error:\n%s", text)
	}
}

func TestStatusReferenceDown(t *testing.T) {
	endpoint := closedEndpoint(t)
	var out bytes.Buffer
	err := newStatus(t, endpoint, false, &out).Run(context.Background())
	if err == nil {
		t.Fatalf("Run succeeded without a reference:\n%s", out.String())
	}
	if !strings.Contains(err.Error(), endpoint) {
		t.Errorf("error %q does not name the reference endpoint %s", err, endpoint)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Reference = ""
	if _, err := New(cfg); err == nil {
		t.Error("New accepted an empty reference")
	}
	cfg = DefaultConfig()
	cfg.Timeout = 0
	if _, err := New(cfg); err == nil {
		t.Error("New accepted a zero timeout")
	}
}

func TestOffsetsFromEachCoordinator(t *testing.T) {
	rows := []Server{
		{Name: "a", Status: &server.StatusReply{Coordinator: "c", Offset: 0.25}},
		{Name: "b", Status: &server.StatusReply{Coordinator: "", Offset: 1}},
		{Name: "c", Status: &server.StatusReply{Coordinator: "c", Offset: 0.5}},
		{Name: "d", Status: &server.StatusReply{Coordinator: "gone", Offset: 0}},
		{Name: "e", Error: "timed out"},
	}
	setOffsets(rows)
	if rows[0].OffsetMillis == nil || *rows[0].OffsetMillis != -250 {
		t.Errorf("a: offset %v, want -250", rows[0].OffsetMillis)
	}
	if rows[2].OffsetMillis == nil || *rows[2].OffsetMillis != 0 {
		t.Errorf("c: offset %v, want 0", rows[2].OffsetMillis)
	}
	for _, i := range []int{1, 3, 4} {
		if rows[i].OffsetMillis != nil {
			t.Errorf("%s: offset %v, want none", rows[i].Name, *rows[i].OffsetMillis)
		}
	}
}

func TestTableReplicationSummary(t *testing.T) {
	millis := 12.5
	report := Report{Servers: []Server{{
		Name: "server-1", Rank: 1, Addr: "tcp://127.0.0.1:5560", Reachable: true, OffsetMillis: &millis,
		Status: &server.StatusReply{
			Coordinator: "server-2", Epoch: 3, Lamport: 42, Users: 2, Channels: 1, Messages: 7,
			Replica: replica.Status{
				Sequence:   5,
				Version:    map[string]uint64{"server-1@a": 5, "server-2@b": 4},
				CatchingUp: true,
				Peers:      []replica.PeerStatus{{Name: "server-2", InSync: true}, {Name: "server-3"}},
			},
		},
	}}}
	var out bytes.Buffer
	if err := WriteTable(&out, report); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server-2 (epoch 3)", "+12.5ms", "catching up", "seq 5, 9 ops held, 1/2 peers in sync"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestTableWithoutServers(t *testing.T) {
	var out bytes.Buffer
	if err := WriteTable(&out, Report{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no server is available") {
		t.Errorf("empty report printed:\n%s", out.String())
	}
}

func TestFormatOffsetSignAndZero(t *testing.T) {
	cases := map[float64]string{0: "0.0ms", -0.04: "0.0ms", 0.04: "0.0ms", -1000: "-1000.0ms", 12.46: "+12.5ms"}
	for millis, want := range cases {
		if got := formatOffset(millis); got != want {
			t.Errorf("formatOffset(%v) = %q, want %q", millis, got, want)
		}
	}
}
