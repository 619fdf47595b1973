package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/replica"
	"msgsys/roles/reference"
	"msgsys/roles/server"
)

// newStatus returns a Status that prints in English.
func newStatus(t *testing.T, ref string, asJSON bool, out *bytes.Buffer) *Status {
	t.Helper()
	return newStatusIn(t, ref, asJSON, out, lang.EN)
}

func newStatusIn(t *testing.T, ref string, asJSON bool, out *bytes.Buffer, l string) *Status {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Reference = ref
	cfg.JSON = asJSON
	cfg.Out = out
	cfg.Lang = l
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
	ref := startReference(t)

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

	// The report is printed, and Run fails because no listed server
	// replied, so that a script gets a failing exit status.
	for _, c := range []struct {
		lang, state, problem, failure string
	}{
		{lang.EN, "unreachable", "ghost: cannot connect: ", "no listed server replied"},
		{lang.PT, "inacessível", "ghost: não foi possível conectar: ", "nenhum servidor da lista respondeu"},
	} {
		t.Run(c.lang, func(t *testing.T) {
			var out bytes.Buffer
			err := newStatusIn(t, ref.Endpoint(), false, &out, c.lang).Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.failure) {
				t.Errorf("Run = %v, want %q", err, c.failure)
			}
			text := out.String()
			if !strings.Contains(text, "ghost") || !strings.Contains(text, c.state) {
				t.Errorf("table does not show ghost as %s:\n%s", c.state, text)
			}
			if !strings.Contains(text, c.problem) {
				t.Errorf("table does not explain ghost's error with %q:\n%s", c.problem, text)
			}
		})
	}

	// The JSON report keeps the transport's own English error in every
	// language.
	var out bytes.Buffer
	if err := newStatusIn(t, ref.Endpoint(), true, &out, lang.PT).Run(context.Background()); err == nil {
		t.Error("Run with --json succeeded although no server replied")
	}
	var report Report
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if len(report.Servers) != 1 {
		t.Fatalf("%d servers, want ghost alone:\n%s", len(report.Servers), out.String())
	}
	if got := report.Servers[0].Error; !strings.HasPrefix(got, proto.ErrUnreachable.Error()) {
		t.Errorf("JSON error = %q, want proto's %q", got, proto.ErrUnreachable)
	}
}

// TestStatusServerWithoutStatus lists a server that replies to status
// with an error for an unknown service, as a server of another
// implementation does. Its row shows "no status" rather than unreachable,
// and Run succeeds because the server replied.
func TestStatusServerWithoutStatus(t *testing.T) {
	ref := startReference(t)

	ln, err := proto.Listen("tcp://127.0.0.1:0", proto.Router, nil)
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := proto.Encode(proto.ServiceError, &proto.StatusReply{Status: proto.StatusError, Description: "unknown service: status"}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	run(t, "standard server", func(ctx context.Context) error {
		return ln.Serve(ctx, func(c *proto.Conn) {
			for {
				frames, err := c.Recv()
				if err != nil {
					return
				}
				if c.Send(append(frames[:len(frames)-1:len(frames)-1], unknown)...) != nil {
					return
				}
			}
		})
	})

	req := proto.NewRequester(ref.Endpoint())
	defer req.Close()
	frame, err := proto.Encode(proto.ServiceRank, &proto.RankRequest{User: "std-1", Addr: ln.Endpoint()}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := req.Request(context.Background(), frame, 5*time.Second); err != nil {
		t.Fatalf("rank: %v", err)
	}

	for _, c := range []struct{ lang, state string }{{lang.EN, "no status"}, {lang.PT, "sem status"}} {
		var out bytes.Buffer
		if err := newStatusIn(t, ref.Endpoint(), false, &out, c.lang).Run(context.Background()); err != nil {
			t.Errorf("%s: Run = %v, want success, the server replied", c.lang, err)
		}
		if !strings.Contains(out.String(), c.state) {
			t.Errorf("%s: table does not show std-1 as %q:\n%s", c.lang, c.state, out.String())
		}
	}
}

// TestStatusInvalidRegisteredAddr reads the list of a reference of
// another implementation, which lists a server under an address that is
// not tcp://HOST:PORT next to a msgsys server. The row of that server
// names the address in the person's language, and the other server is
// still read.
func TestStatusInvalidRegisteredAddr(t *testing.T) {
	c := startCluster(t, 1)
	c.waitSettled(t)
	const badAddr = "localhost:5560"
	list := proto.ListReply{List: []proto.ServerInfo{
		{Name: "alien", Rank: 1, Addr: badAddr},
		{Name: "server-1", Rank: 2, Addr: c.servers[0].Addr()},
	}}
	reply, err := proto.Encode(proto.ServiceList, &list, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := proto.Listen("tcp://127.0.0.1:0", proto.Router, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, "other reference", func(ctx context.Context) error {
		return ln.Serve(ctx, func(c *proto.Conn) {
			for {
				frames, err := c.Recv()
				if err != nil {
					return
				}
				if c.Send(append(frames[:len(frames)-1:len(frames)-1], reply)...) != nil {
					return
				}
			}
		})
	})

	for _, tc := range []struct{ lang, problem, serving string }{
		{lang.PT, `alien: endereço registrado inválido: "localhost:5560" não é tcp://HOST:PORTA`, "atendendo"},
		{lang.EN, `alien: invalid registered address: "localhost:5560" is not tcp://HOST:PORT`, "serving"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			var out bytes.Buffer
			if err := newStatusIn(t, ln.Endpoint(), false, &out, tc.lang).Run(context.Background()); err != nil {
				t.Errorf("Run = %v, want success, server-1 replied", err)
			}
			text := out.String()
			if !strings.Contains(text, tc.problem+"\n") {
				t.Errorf("table does not explain alien's address with %q:\n%s", tc.problem, text)
			}
			if strings.Contains(text, "proto:") {
				t.Errorf("table shows a proto error:\n%s", text)
			}
			if !regexp.MustCompile(`(?m)^server-1 .*` + tc.serving).MatchString(text) {
				t.Errorf("table does not show server-1 as %s:\n%s", tc.serving, text)
			}
		})
	}

	var out bytes.Buffer
	if err := newStatusIn(t, ln.Endpoint(), true, &out, lang.PT).Run(context.Background()); err != nil {
		t.Errorf("Run with --json = %v, want success", err)
	}
	var report Report
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if len(report.Servers) != 2 {
		t.Fatalf("%d servers, want alien and server-1:\n%s", len(report.Servers), out.String())
	}
	alien := report.Servers[0]
	if want := `invalid registered address: "localhost:5560" is not tcp://HOST:PORT`; alien.Error != want {
		t.Errorf("JSON error of alien = %q, want %q", alien.Error, want)
	}
	if alien.Reachable {
		t.Error("JSON shows alien as reachable")
	}
}

func TestStatusReferenceDown(t *testing.T) {
	endpoint := closedEndpoint(t)
	hints := map[string]string{
		lang.EN: "; check that the reference runs and that --reference points at it, or query the servers directly with --server tcp://HOST:PORT",
		lang.PT: "; verifique se a referência está rodando e se --reference aponta para ela, ou consulte os servidores direto com --server tcp://HOST:PORTA",
	}
	for l, want := range map[string]string{
		lang.EN: "status: reference at " + endpoint + ": cannot connect: ",
		lang.PT: "status: referência em " + endpoint + ": não foi possível conectar: ",
	} {
		t.Run(l, func(t *testing.T) {
			var out bytes.Buffer
			err := newStatusIn(t, endpoint, false, &out, l).Run(context.Background())
			if err == nil {
				t.Fatalf("Run succeeded without a reference:\n%s", out.String())
			}
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error = %q, want it to start with %q", err, want)
			}
			if !strings.HasSuffix(err.Error(), hints[l]) {
				t.Errorf("error = %q, want it to end with %q", err, hints[l])
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error = %q, want one line", err)
			}
			if !errors.Is(err, proto.ErrUnreachable) {
				t.Errorf("error %q does not wrap proto.ErrUnreachable", err)
			}
		})
	}
}

// TestStatusBrokerDown stops the broker under two serving servers: each
// still replies with its status, which shows that it started and lost the
// broker, not that it is starting.
func TestStatusBrokerDown(t *testing.T) {
	c := startCluster(t, 2)
	c.waitSettled(t)
	c.stopBroker()
	waitFor(t, 10*time.Second, "servers to notice the broker is gone", func() bool {
		return !c.servers[0].Serving() && !c.servers[1].Serving()
	})

	report, err := newStatus(t, c.reference.Endpoint(), false, nil).Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Servers) != 2 {
		t.Fatalf("%d rows, want 2", len(report.Servers))
	}
	for _, row := range report.Servers {
		if row.Status == nil {
			t.Fatalf("%s: no status (%s)", row.Name, row.Error)
		}
		if !row.Status.Started || row.Status.Serving {
			t.Errorf("%s: started %v, serving %v, want started and not serving", row.Name, row.Status.Started, row.Status.Serving)
		}
	}
	for l, want := range map[string]string{lang.EN: "no broker", lang.PT: "sem broker"} {
		var out bytes.Buffer
		if err := WriteTable(&out, report, l); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(out.String(), want); n != 2 {
			t.Errorf("%s table shows %q %d times, want 2:\n%s", l, want, n, out.String())
		}
	}
	var out bytes.Buffer
	if err := newStatus(t, c.reference.Endpoint(), true, &out).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), `"started": true`); n != 2 {
		t.Errorf("JSON has \"started\": true %d times, want 2:\n%s", n, out.String())
	}
}

// TestStatusServerFlagWithoutReference queries servers by endpoint while
// the reference is down. The rows of servers that reply carry their names
// and ranks, and the row of a server that does not reply shows its
// endpoint.
func TestStatusServerFlagWithoutReference(t *testing.T) {
	c := startCluster(t, 2)
	c.waitSettled(t)
	listed, err := newStatus(t, c.reference.Endpoint(), false, nil).Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.stopReference()

	down := closedEndpoint(t)
	cfg := DefaultConfig()
	cfg.Reference = c.reference.Endpoint()
	cfg.Servers = []string{listed.Servers[0].Addr, listed.Servers[1].Addr, down}
	var out bytes.Buffer
	cfg.Out, cfg.Lang = &out, lang.EN
	st, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	report, err := st.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range report.Servers[:2] {
		if row.Name != listed.Servers[i].Name || row.Rank != listed.Servers[i].Rank {
			t.Errorf("row %d = %s rank %d, want %s rank %d", i, row.Name, row.Rank, listed.Servers[i].Name, listed.Servers[i].Rank)
		}
	}
	if row := report.Servers[2]; row.Reachable || row.Name != "" {
		t.Errorf("row of %s = %+v, want unreachable without a name", down, row)
	}
	if !strings.Contains(out.String(), down+": cannot connect") {
		t.Errorf("table lacks the error of %s:\n%s", down, out.String())
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for l, want := range map[string][2]string{
		lang.EN: {"set --reference", "must be positive"},
		lang.PT: {"defina --reference", "deve ser positivo"},
	} {
		cfg := DefaultConfig()
		cfg.Lang = l
		cfg.Reference = ""
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted an empty reference", l)
		} else if !strings.Contains(err.Error(), want[0]) {
			t.Errorf("%s: empty reference error = %q, want %q in it", l, err, want[0])
		}

		cfg = DefaultConfig()
		cfg.Lang = l
		cfg.Timeout = 0
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted a zero timeout", l)
		} else if !strings.Contains(err.Error(), want[1]) {
			t.Errorf("%s: zero timeout error = %q, want %q in it", l, err, want[1])
		}

		cfg = DefaultConfig()
		cfg.Lang = l
		cfg.Servers = []string{"127.0.0.1:5560"}
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "--server") {
			t.Errorf("%s: New with a --server lacking tcp:// returned %v, want an error naming --server", l, err)
		}
	}
}

func TestNewRejectsInvalidReference(t *testing.T) {
	for _, c := range []struct{ lang, reference, want string }{
		{lang.EN, "foo", `status: invalid --reference "foo": use tcp://HOST:PORT`},
		{lang.PT, "foo", `status: --reference inválido: "foo"; use tcp://HOST:PORTA`},
		{lang.EN, "ipc:///tmp/reference", `invalid --reference "ipc:///tmp/reference"`},
		{lang.EN, "tcp://127.0.0.1:99999", `invalid --reference "tcp://127.0.0.1:99999"`},
		{lang.EN, "tcp://*:5559", `invalid --reference "tcp://*:5559"`},
	} {
		cfg := DefaultConfig()
		cfg.Lang = c.lang
		cfg.Reference = c.reference
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New with reference %q = %v, want an error containing %q", c.lang, c.reference, err, c.want)
		}
	}
}

// TestStatusFrozenServerNamesTimeout lists a server that accepts TCP
// connections but never completes a handshake, as a stopped (SIGSTOP)
// server does. Its row must name the timeout that was set, which is
// longer than the 2 s that a handshake would otherwise have.
func TestStatusFrozenServerNamesTimeout(t *testing.T) {
	ref := startReference(t)
	frozen, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { frozen.Close() })
	req := proto.NewRequester(ref.Endpoint())
	defer req.Close()
	frame, err := proto.Encode(proto.ServiceRank, &proto.RankRequest{User: "frozen", Addr: "tcp://" + frozen.Addr().String()}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := req.Request(context.Background(), frame, 5*time.Second); err != nil {
		t.Fatalf("rank: %v", err)
	}

	var out bytes.Buffer
	cfg := DefaultConfig()
	cfg.Reference = ref.Endpoint()
	cfg.Out = &out
	cfg.Lang = lang.EN
	cfg.Timeout = 2100 * time.Millisecond
	st, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	report, err := st.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Servers) != 1 {
		t.Fatalf("%d servers, want frozen alone", len(report.Servers))
	}
	row := report.Servers[0]
	if row.Reachable {
		t.Errorf("frozen server shown as reachable")
	}
	if row.problem == nil {
		t.Fatalf("frozen server has no problem; error %q", row.Error)
	}
	if got := row.problem.in(lang.EN); got != "no reply within 2.1s" {
		t.Errorf("problem = %q, want %q", got, "no reply within 2.1s")
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

// sampleReport is one catching-up server whose catch-up from server-3 is
// incomplete, and one server that did not reply.
func sampleReport() Report {
	millis := 12.5
	return Report{Servers: []Server{{
		Name: "server-1", Rank: 1, Addr: "tcp://127.0.0.1:5560", Reachable: true, OffsetMillis: &millis,
		Status: &server.StatusReply{
			Coordinator: "server-2", Epoch: 3, Lamport: 42, Users: 2, Channels: 1, Messages: 7,
			Replica: replica.Status{
				Sequence:   5,
				Version:    map[string]uint64{"server-1@a": 5, "server-2@b": 4},
				CatchingUp: true,
				Peers:      []replica.PeerStatus{{Name: "server-2", InSync: true}, {Name: "server-3"}},
				Unsynced:   []string{"server-3"},
			},
		},
	}, {
		Name: "server-3", Rank: 3, Addr: "tcp://127.0.0.1:5562",
		Error:   proto.ErrTimeout.Error(),
		problem: explain(proto.ErrTimeout, 2*time.Second),
	}}}
}

func TestTableInBothLanguages(t *testing.T) {
	cases := []struct {
		lang   string
		header []string // headings, left to right
		want   []string
	}{
		{lang.EN,
			[]string{"NAME", "ADDR", "COORDINATOR", "USERS", "STATE", "REPLICATION"},
			[]string{"server-2 (epoch 3)", "catching up", "unreachable", "seq 5, 9 ops held, 1/2 peers in sync, catch-up incomplete from server-3", "server-3: no reply within 2s"}},
		{lang.PT,
			[]string{"NOME", "ENDEREÇO", "COORDENADOR", "USUÁRIOS", "ESTADO", "REPLICAÇÃO"},
			[]string{"server-2 (época 3)", "em atualização", "inacessível", "seq 5, 9 operações guardadas, 1/2 pares em sincronia, atualização incompleta a partir de server-3", "server-3: sem resposta em 2s"}},
	}
	for _, c := range cases {
		t.Run(c.lang, func(t *testing.T) {
			var out bytes.Buffer
			if err := WriteTable(&out, sampleReport(), c.lang); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(out.String(), "\n")
			header := lines[0]
			last := -1
			for _, heading := range c.header {
				at := strings.Index(header, heading)
				if at <= last {
					t.Errorf("header %q lacks %q after column %d", header, heading, last)
				}
				last = at
			}
			for _, want := range c.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("table lacks %q:\n%s", want, out.String())
				}
			}

			// Accented headings must not shift the columns: the
			// coordinator cell starts in the same rune column as its
			// heading.
			heading := utf8.RuneCountInString(header[:strings.Index(header, c.header[2])])
			cell := utf8.RuneCountInString(lines[1][:strings.Index(lines[1], "server-2 (")])
			if heading != cell {
				t.Errorf("coordinator heading at column %d, cell at %d:\n%s", heading, cell, out.String())
			}
		})
	}
}

func TestTableReplicationSummary(t *testing.T) {
	report := sampleReport()
	var out bytes.Buffer
	if err := WriteTable(&out, report, lang.EN); err != nil {
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
	if err := WriteTable(&out, Report{}, lang.EN); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no server is available") {
		t.Errorf("empty report printed:\n%s", out.String())
	}

	out.Reset()
	if err := WriteTable(&out, Report{}, lang.PT); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "nenhum servidor disponível") {
		t.Errorf("empty report printed in Portuguese:\n%s", out.String())
	}
}

func TestFormatOffsetSignAndZero(t *testing.T) {
	cases := map[float64]string{0: "0.0ms", -0.04: "0.0ms", 0.04: "0.0ms", -1000: "-1000.0ms", 12.46: "+12.5ms"}
	for millis, want := range cases {
		if got := formatOffset(millis, lang.EN); got != want {
			t.Errorf("formatOffset(%v, en) = %q, want %q", millis, got, want)
		}
	}
	if got := formatOffset(12.46, lang.PT); got != "+12,5ms" {
		t.Errorf("formatOffset(12.46, pt) = %q, want +12,5ms", got)
	}
	if got := formatOffset(0, lang.PT); got != "0,0ms" {
		t.Errorf("formatOffset(0, pt) = %q, want 0,0ms", got)
	}
}

func TestExplainKeyAndRefusedErrors(t *testing.T) {
	cases := map[string]struct {
		err    error
		pt, en string
	}{
		"key mismatch": {fmt.Errorf("handshake: %w", proto.ErrKeyMismatch), "a chave do cluster não confere", "the cluster key does not match"},
		"bad key":      {proto.ErrBadKey, "recusou a chave do cluster", "rejected the cluster key"},
		"refused":      {&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, "conexão recusada", "connection refused"},
		"no route": {
			fmt.Errorf("%w: %w", proto.ErrUnreachable, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}),
			"não foi possível conectar: máquina inalcançável", "cannot connect: connect: no route to host",
		},
	}
	for name, c := range cases {
		f := explain(c.err, time.Second)
		if got := f.in(lang.PT); !strings.Contains(got, c.pt) {
			t.Errorf("%s in Portuguese: %q, want %q in it", name, got, c.pt)
		}
		if got := f.in(lang.EN); !strings.Contains(got, c.en) {
			t.Errorf("%s in English: %q, want %q in it", name, got, c.en)
		}
	}
}

// startReference runs a reference with no server until the test ends.
func startReference(t *testing.T) *reference.Reference {
	t.Helper()
	cfg := reference.DefaultConfig()
	cfg.Bind = "tcp://127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.HeartbeatExpiry = time.Minute
	ref, err := reference.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run(t, "reference", ref.Run)
	return ref
}

// TestStatusWithClusterKey reads a cluster whose reference and servers
// require a cluster key: status lists and reads them with the key, and
// explains the failure without it.
func TestStatusWithClusterKey(t *testing.T) {
	c := startKeyedCluster(t, 1, "segredo")
	c.waitSettled(t)

	keyed := newStatus(t, c.reference.Endpoint(), false, nil)
	keyed.cfg.ClusterKey = "segredo"
	report, err := keyed.Collect(context.Background())
	if err != nil {
		t.Fatalf("status with the key: %v", err)
	}
	if len(report.Servers) != 1 || report.Servers[0].Status == nil {
		t.Fatalf("status with the key: %+v, want server-1 with its status", report.Servers)
	}

	_, err = newStatus(t, c.reference.Endpoint(), false, nil).Collect(context.Background())
	if err == nil || !strings.Contains(err.Error(), "reference at") || !strings.Contains(err.Error(), "the cluster key does not match") {
		t.Errorf("status without the key: %v, want the reference's key mismatch explained", err)
	}
}
