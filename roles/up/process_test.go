//go:build unix

package up

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/common"
)

var waitFor = testkit.WaitFor

type syncBuffer = testkit.Buffer

// binary is the msgsys executable TestMain builds, and buildErr the reason
// it could not; the tests that run processes fail with it.
var (
	binary   string
	buildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "msgsys-up-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "msgsys")
	// "msgsys" is the module's main package, at the module root.
	args := append(append([]string{"build"}, buildFlags...), "-o", binary, "msgsys")
	build := exec.Command("go", args...)
	if out, err := build.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go build msgsys: %w\n%s", err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needBinary fails the test when the msgsys binary could not be built.
func needBinary(t *testing.T) {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// freePortBase finds n consecutive free loopback ports below the usual
// ephemeral range, so that other tests' port-0 listeners do not take
// them between the check and msgsys up's own check.
func freePortBase(t *testing.T, n int) int {
	t.Helper()
	for range 100 {
		base := 20000 + rand.IntN(10000)
		free := true
		for port := base; port < base+n && free; port++ {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				free = false
				continue
			}
			ln.Close()
		}
		if free {
			return base
		}
	}
	t.Fatalf("no block of %d free ports found", n)
	return 0
}

// upProcess is a running `msgsys up`.
type upProcess struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	base   int
	exited chan struct{} // closed when msgsys up has exited
	err    error         // Wait's result, set before exited is closed
}

// startUp runs msgsys up with args on a free block of ports, and kills it
// and every child it reported when the test ends, whatever happened.
func startUp(t *testing.T, servers int, args ...string) *upProcess {
	t.Helper()
	return startUpWith(t, t.TempDir(), servers, nil, args...)
}

// startUpWith is startUp with the data directory data and env added to
// msgsys up's environment.
func startUpWith(t *testing.T, data string, servers int, env []string, args ...string) *upProcess {
	t.Helper()
	needBinary(t)

	base := freePortBase(t, offsetServers+servers)
	args = append([]string{"up", "--port-base", strconv.Itoa(base), "--servers", strconv.Itoa(servers), "--data", data}, args...)
	cmd := exec.Command(binary, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "LANG=C", "MSGSYS_LOG_FORMAT=text", "MSGSYS_LOG_LEVEL=info")
	cmd.Env = append(cmd.Env, env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	p := &upProcess{cmd: cmd, out: out, base: base, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("msgsys up output:\n%s", out.String())
		}
		select {
		case <-p.exited:
			if !t.Failed() {
				return
			}
		default:
			// msgsys up is still running because the test failed
			// early.
			_ = cmd.Process.Kill()
			select {
			case <-p.exited:
			case <-time.After(10 * time.Second):
				t.Error("msgsys up did not exit after SIGKILL")
			}
		}
		// Kill any child a failing msgsys up left behind.
		for _, pid := range p.pids() {
			if alive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return p
}

// waitLog waits until the output has a line matching pattern and returns
// the line's submatches.
func (p *upProcess) waitLog(t *testing.T, timeout time.Duration, pattern string) []string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	var match []string
	waitFor(t, timeout, "a line matching "+pattern, func() bool {
		match = re.FindStringSubmatch(p.out.String())
		return match != nil
	})
	return match
}

var startedLine = regexp.MustCompile(`msg="child (?:started|restarted)" role=up name=(\S+) pid=(\d+)`)

// pids returns the process id of every child msgsys up reported starting.
func (p *upProcess) pids() []int {
	var pids []int
	for _, m := range startedLine.FindAllStringSubmatch(p.out.String(), -1) {
		pid, _ := strconv.Atoi(m[2])
		pids = append(pids, pid)
	}
	return pids
}

// pidOf returns the process id msgsys up last reported for child name.
func (p *upProcess) pidOf(t *testing.T, name string) int {
	t.Helper()
	pid := 0
	for _, m := range startedLine.FindAllStringSubmatch(p.out.String(), -1) {
		if m[1] == name {
			pid, _ = strconv.Atoi(m[2])
		}
	}
	if pid == 0 {
		t.Fatalf("no pid reported for %s", name)
	}
	return pid
}

// checkNoRace fails the test when a process built with the race detector
// reported a data race. The report's lines carry the tag of the child that
// raced, or none for msgsys up itself.
func (p *upProcess) checkNoRace(t *testing.T) {
	t.Helper()
	for line := range strings.SplitSeq(p.out.String(), "\n") {
		if strings.Contains(line, "WARNING: DATA RACE") {
			t.Errorf("data race reported: %q", line)
		}
	}
}

// alive reports whether a process with id pid exists, zombies included.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// testClient sends requests through the cluster's broker.
type testClient struct {
	req    *proto.Requester
	clocks proto.Clocks
}

func newClient(t *testing.T, base int) *testClient {
	req := proto.NewRequester("tcp://127.0.0.1:" + strconv.Itoa(base+offsetFrontend))
	t.Cleanup(req.Close)
	return &testClient{req: req, clocks: proto.NewClocks()}
}

// call sends one request and returns an error unless it succeeds.
func (c *testClient) call(service string, data any) error {
	frame, err := proto.Encode(service, data, c.clocks.Meta())
	if err != nil {
		return err
	}
	payload, err := c.req.Request(context.Background(), frame, 5*time.Second)
	if err != nil {
		return err
	}
	env, err := proto.Decode(payload)
	if err != nil {
		return err
	}
	if status, _, _ := env.Data.OptString("status"); !proto.IsSuccess(status) {
		return fmt.Errorf("%s rejected: %v", service, env.Data)
	}
	return nil
}

// eventually retries call until it succeeds, failing the test after
// timeout.
func (c *testClient) eventually(t *testing.T, timeout time.Duration, service string, data any) {
	t.Helper()
	var err error
	waitFor(t, timeout, service+" succeeding", func() bool {
		err = c.call(service, data)
		return err == nil
	})
}

func TestUpRunsAndStopsCluster(t *testing.T) {
	p := startUp(t, 3, "--bots", "1", "--lang", "en")
	p.waitLog(t, 30*time.Second, `msg="cluster ready"`)
	p.waitLog(t, 5*time.Second, `To connect a client`)

	c := newClient(t, p.base)
	c.eventually(t, 10*time.Second, proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	// Creating a channel needs a coordinator, which may still be elected.
	c.eventually(t, 10*time.Second, proto.ServiceChannel, &proto.ChannelRequest{Channel: "testes"})
	if err := c.call(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "testes", Message: "olá"}); err != nil {
		t.Fatalf("publish: %v", err)
	}

	// Every process's lines carry its padded tag.
	p.waitLog(t, 10*time.Second, `(?m)^bot-1 +\| `)
	for _, name := range []string{"up", "reference", "broker", "server-1", "server-2", "server-3", "bot-1"} {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(fmt.Sprintf("%-9s | ", name)))
		if !re.MatchString(p.out.String()) {
			t.Errorf("no line tagged %q", name)
		}
	}

	// A server killed with SIGKILL stays down, and the rest keep serving.
	victim := p.pidOf(t, "server-2")
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, 10*time.Second, `level=ERROR msg="child exited unexpectedly" role=up name=server-2 pid=`+strconv.Itoa(victim))
	for i := range 10 {
		c.eventually(t, 10*time.Second, proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "testes", Message: fmt.Sprintf("after the crash %d", i)})
	}
	if strings.Contains(p.out.String(), `msg="child restarted"`) {
		t.Error("server-2 restarted without --restart")
	}

	// A bot stopped with SIGTERM exits cleanly: a warning, not an error.
	bot := p.pidOf(t, "bot-1")
	if err := syscall.Kill(bot, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, 10*time.Second, `level=WARN msg="child exited unexpectedly" role=up name=bot-1 pid=`+strconv.Itoa(bot)+` status="exit status 0"`)

	// SIGINT stops every child, then msgsys up itself.
	pids := p.pids()
	if len(pids) != 6 {
		t.Fatalf("%d children reported, want 6", len(pids))
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("msgsys up exited with %v", p.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("msgsys up did not exit within 20s of SIGINT")
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("child %d still exists after msgsys up exited", pid)
		}
	}
	out := p.out.String()
	for _, want := range []string{`msg="cluster stopped"`, `msg="child stopped" role=up name=server-1`, `msg="child stopped" role=up name=reference`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s", want)
		}
	}
	if strings.Contains(out, "killing it") {
		t.Error("a child needed SIGKILL to stop")
	}
	p.checkNoRace(t)
}

func TestUpRestartsCrashedServer(t *testing.T) {
	p := startUp(t, 1, "--bots", "0", "--restart")
	p.waitLog(t, 30*time.Second, `msg="cluster ready"`)

	victim := p.pidOf(t, "server-1")
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	m := p.waitLog(t, 15*time.Second, `msg="child restarted" role=up name=server-1 pid=(\d+)`)
	if m[1] == strconv.Itoa(victim) {
		t.Errorf("restarted server has the old pid %s", m[1])
	}
	c := newClient(t, p.base)
	c.eventually(t, 15*time.Second, proto.ServiceLogin, &proto.LoginRequest{User: "bia"})

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("msgsys up exited with %v", p.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("msgsys up did not exit within 20s of SIGTERM")
	}
	for _, pid := range p.pids() {
		if alive(pid) {
			t.Errorf("child %d still exists after msgsys up exited", pid)
		}
	}
	p.checkNoRace(t)
}

// TestUpRestartsCrashedBrokerAndReference kills the broker, then the
// reference, with SIGKILL. With --restart, msgsys up must start each again,
// so that clients are served through the broker once more and the
// reference lists the server again.
func TestUpRestartsCrashedBrokerAndReference(t *testing.T) {
	p := startUp(t, 1, "--bots", "0", "--restart")
	p.waitLog(t, 30*time.Second, `msg="cluster ready"`)
	c := newClient(t, p.base)
	c.eventually(t, 10*time.Second, proto.ServiceLogin, &proto.LoginRequest{User: "ana"})

	broker := p.pidOf(t, "broker")
	if err := syscall.Kill(broker, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, 10*time.Second, `level=ERROR msg="child exited unexpectedly" role=up name=broker pid=`+strconv.Itoa(broker))
	m := p.waitLog(t, 15*time.Second, `msg="child restarted" role=up name=broker pid=(\d+)`)
	if m[1] == strconv.Itoa(broker) {
		t.Errorf("restarted broker has the old pid %s", m[1])
	}
	// A login goes through the new broker to server-1, so it also shows
	// that the server connected to the new broker.
	c.eventually(t, 15*time.Second, proto.ServiceLogin, &proto.LoginRequest{User: "bia"})

	reference := p.pidOf(t, "reference")
	if err := syscall.Kill(reference, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, 10*time.Second, `level=ERROR msg="child exited unexpectedly" role=up name=reference pid=`+strconv.Itoa(reference))
	m = p.waitLog(t, 15*time.Second, `msg="child restarted" role=up name=reference pid=(\d+)`)
	if m[1] == strconv.Itoa(reference) {
		t.Errorf("restarted reference has the old pid %s", m[1])
	}
	ref := proto.NewRequester("tcp://127.0.0.1:" + strconv.Itoa(p.base+offsetReference))
	defer ref.Close()
	waitFor(t, 15*time.Second, "the restarted reference to list server-1", func() bool {
		return slices.Contains(listedServers(ref), "server-1")
	})
	c.eventually(t, 15*time.Second, proto.ServiceLogin, &proto.LoginRequest{User: "caio"})

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 20*time.Second, "SIGTERM")
	if p.err != nil {
		t.Errorf("msgsys up exited with %v", p.err)
	}
	for _, pid := range p.pids() {
		if alive(pid) {
			t.Errorf("child %d still exists after msgsys up exited", pid)
		}
	}
	p.checkNoRace(t)
}

// listedServers returns the names in the reference's reply to list, or
// nil when the request fails.
func listedServers(ref *proto.Requester) []string {
	frame, err := proto.Encode(proto.ServiceList, &proto.EmptyRequest{}, proto.NewClocks().Meta())
	if err != nil {
		return nil
	}
	payload, err := ref.Request(context.Background(), frame, 2*time.Second)
	if err != nil {
		return nil
	}
	var reply proto.ListReply
	if _, err := proto.DecodeInto(payload, &reply); err != nil {
		return nil
	}
	var names []string
	for _, server := range reply.List {
		names = append(names, server.Name)
	}
	return names
}

// TestUpPassesClusterKey runs msgsys up with MSGSYS_CLUSTER_KEY set. Its
// reference must require the key, and its servers must present it there,
// or the cluster would never be ready.
func TestUpPassesClusterKey(t *testing.T) {
	p := startUpWith(t, t.TempDir(), 1, []string{"MSGSYS_CLUSTER_KEY=chave da turma"}, "--bots", "0")
	p.waitLog(t, 30*time.Second, `msg="cluster ready"`)
	p.waitLog(t, 5*time.Second, `(?m)^O cluster exige uma chave, então defina MSGSYS_CLUSTER_KEY com a mesma chave nesse terminal`)
	if strings.Contains(p.out.String(), "chave da turma") {
		t.Error("msgsys up printed the cluster key")
	}

	ref := "tcp://127.0.0.1:" + strconv.Itoa(p.base+offsetReference)
	frame, err := proto.Encode(proto.ServiceList, &proto.EmptyRequest{}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	keyed := proto.NewKeyedRequester(ref, "chave da turma")
	defer keyed.Close()
	payload, err := keyed.Request(context.Background(), frame, 5*time.Second)
	if err != nil {
		t.Fatalf("list with the key: %v", err)
	}
	var reply proto.ListReply
	if _, err := proto.DecodeInto(payload, &reply); err != nil {
		t.Fatal(err)
	}
	if len(reply.List) != 1 || reply.List[0].Name != "server-1" {
		t.Errorf("list with the key = %v, want server-1", reply.List)
	}
	open := proto.NewRequester(ref)
	defer open.Close()
	if _, err := open.Request(context.Background(), frame, 5*time.Second); !errors.Is(err, proto.ErrKeyMismatch) {
		t.Errorf("list without the key: %v, want %v", err, proto.ErrKeyMismatch)
	}

	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("msgsys up exited with %v", p.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("msgsys up did not exit within 20s of SIGINT")
	}
	p.checkNoRace(t)
}

// TestUpStopsCleanlyAfterOutputCloses checks that msgsys up still stops its
// servers cleanly when the reader of its output has gone first, as tee
// does when Ctrl-C reaches the whole pipeline.
func TestUpStopsCleanlyAfterOutputCloses(t *testing.T) {
	needBinary(t)
	base := freePortBase(t, offsetServers+1)
	data := t.TempDir()
	cmd := exec.Command(binary, "up", "--port-base", strconv.Itoa(base), "--servers", "1", "--bots", "0", "--data", data)
	cmd.Env = append(os.Environ(), "LANG=C", "MSGSYS_LOG_FORMAT=text", "MSGSYS_LOG_LEVEL=info")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	out := &syncBuffer{}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, r)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		for _, m := range startedLine.FindAllStringSubmatch(out.String(), -1) {
			if pid, _ := strconv.Atoi(m[2]); pid > 0 && alive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})

	newClient(t, base).eventually(t, 30*time.Second, proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	r.Close()
	<-copied

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("msgsys up exited with %v after its output closed", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("msgsys up did not exit within 20s of SIGINT")
	}
	if _, err := os.Stat(filepath.Join(data, "server-1", "server.db.wal", "open")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("server-1 did not close its store cleanly: open marker %v", err)
	}
}

// wait waits up to timeout for msgsys up to exit, and fails the test when
// it does not.
func (p *upProcess) wait(t *testing.T, timeout time.Duration, after string) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		t.Fatalf("msgsys up did not exit within %v of %s", timeout, after)
	}
}

// TestUpStopsFrozenServerAlone freezes a server with SIGSTOP before Ctrl-C.
// Only that server may need SIGKILL: the reference and the broker, stopped
// after it, get their own SIGTERM and time to exit.
func TestUpStopsFrozenServerAlone(t *testing.T) {
	p := startUp(t, 2, "--bots", "0")
	p.waitLog(t, 30*time.Second, `msg="cluster ready"`)

	frozen := p.pidOf(t, "server-2")
	if err := syscall.Kill(frozen, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// DefaultStopTimeout for the frozen server, then the core's own stop.
	p.wait(t, DefaultStopTimeout+15*time.Second, "SIGINT")
	if p.err != nil {
		t.Errorf("msgsys up exited with %v", p.err)
	}

	out := p.out.String()
	if !strings.Contains(out, `msg="child did not stop in time, killing it" role=up name=server-2`) {
		t.Error("the frozen server-2 was not killed")
	}
	for _, name := range []string{"server-1", "reference", "broker"} {
		if strings.Contains(out, `msg="child did not stop in time, killing it" role=up name=`+name+` `) {
			t.Errorf("%s was killed", name)
		}
		if !regexp.MustCompile(`msg="child stopped" role=up name=` + name + ` pid=\d+ status="exit status 0"`).MatchString(out) {
			t.Errorf("%s did not stop with status 0", name)
		}
	}
	p.checkNoRace(t)
}

// TestUpStopsWhenDataDirectoryInUse starts a second msgsys up on the data
// directory of a running one. Its reference and servers cannot lock their
// data, which no restart fixes, so it must stop everything and exit with
// the first such child's error, in the language of --lang.
func TestUpStopsWhenDataDirectoryInUse(t *testing.T) {
	data := t.TempDir()
	first := startUpWith(t, data, 1, nil, "--bots", "0")
	first.waitLog(t, 30*time.Second, `msg="cluster ready"`)

	cases := []struct {
		lang string
		want *regexp.Regexp
	}{
		{"pt", regexp.MustCompile(`(?m)^msgsys: up: (reference|server-1) não pôde iniciar, e o cluster foi encerrado: ` +
			`(reference|server): o diretório de dados \S+ está em uso por outro processo`)},
		{"en", regexp.MustCompile(`(?m)^msgsys: up: (reference|server-1) could not start, so the cluster was stopped: ` +
			`(reference|server): the data directory \S+ is in use by another process`)},
	}
	for _, c := range cases {
		t.Run(c.lang, func(t *testing.T) {
			second := startUpWith(t, data, 1, nil, "--bots", "0", "--lang", c.lang)
			// The reference and the servers wait 2 s for the lock.
			second.wait(t, 30*time.Second, "its start")

			var exit *exec.ExitError
			if !errors.As(second.err, &exit) || exit.ExitCode() != common.ExitStartFailed {
				t.Errorf("second msgsys up exited with %v, want status %d", second.err, common.ExitStartFailed)
			}
			out := second.out.String()
			if !c.want.MatchString(out) {
				t.Errorf("output lacks a line matching %s", c.want)
			}
			if !strings.Contains(out, `msg="cluster stopped"`) {
				t.Error("output lacks cluster stopped")
			}
			for _, pid := range second.pids() {
				if alive(pid) {
					t.Errorf("child %d still exists after msgsys up exited", pid)
				}
			}
			second.checkNoRace(t)
		})
	}

	// The first cluster still serves.
	newClient(t, first.base).eventually(t, 10*time.Second, proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	first.wait(t, 20*time.Second, "SIGTERM")
	if first.err != nil {
		t.Errorf("first msgsys up exited with %v", first.err)
	}
}

// TestUpDataUnderFileInPortuguese runs msgsys up with --data under a
// regular file. The data directory cannot be created, and the error names
// it in Portuguese, with the system's reason in Portuguese too.
func TestUpDataUnderFileInPortuguese(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(file, "data")
	for l, want := range map[string]string{
		lang.PT: "up: não foi possível criar o diretório de dados " + data + ": " + file + ": não é um diretório",
		lang.EN: "up: cannot create the data directory " + data + ": " + file + ": not a directory",
	} {
		cfg := DefaultConfig()
		cfg.Executable = "/bin/true"
		cfg.Output = io.Discard
		cfg.PortBase = freePortBase(t, offsetServers+cfg.Servers)
		cfg.Data = data
		cfg.Lang = l
		u, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = u.Run(t.Context())
		if err == nil {
			t.Fatalf("%s: Run succeeded with --data under a file", l)
		}
		if got := lang.Describe(err, l); got != want {
			t.Errorf("%s: error %q, want %q", l, got, want)
		}
		if !common.IsStartFailure(err) {
			t.Errorf("%s: error %q is not a start failure", l, err)
		}
	}
}

// TestUpAllExitedInPortuguese kills every child of a cluster without
// --restart. msgsys up then ends with an error in the person's language.
func TestUpAllExitedInPortuguese(t *testing.T) {
	p := startUp(t, 1, "--bots", "0")
	p.waitLog(t, 30*time.Second, `msg="cluster ready"`)
	for _, name := range []string{"reference", "broker", "server-1"} {
		if err := syscall.Kill(p.pidOf(t, name), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	p.wait(t, 20*time.Second, "every child's death")

	var exit *exec.ExitError
	if !errors.As(p.err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("msgsys up exited with %v, want status 1", p.err)
	}
	if want := "\nmsgsys: up: todos os servidores, o broker e a referência terminaram\n"; !strings.Contains(p.out.String(), want) {
		t.Errorf("output lacks %q", want)
	}
}

// TestUpLeavesFailedRestartDown kills server-2 after its data directory
// has become a file, so that its restart cannot start and exits with
// common.ExitStartFailed. msgsys up must leave server-2 down, print its
// error, not restart it again, and keep serving with server-1.
func TestUpLeavesFailedRestartDown(t *testing.T) {
	data := t.TempDir()
	p := startUpWith(t, data, 2, nil, "--bots", "0", "--restart", "--lang", "en")
	p.waitLog(t, 30*time.Second, `msg="cluster ready"`)

	// Freeze server-2 while its data directory is replaced, so that it
	// neither writes there nor exits before the replacement is done.
	victim := p.pidOf(t, "server-2")
	if err := syscall.Kill(victim, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(data, "server-2")
	if err := os.Rename(dir, dir+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	p.waitLog(t, 30*time.Second, `msg="child failed to restart, left down" role=up name=server-2 pid=\d+ status="exit status 78" stderr=".*server: .*not a directory`)
	p.waitLog(t, 5*time.Second, `(?m)^up: server-2 could not restart and stays down, while the rest of the cluster keeps running: server: .*not a directory`)
	newClient(t, p.base).eventually(t, 15*time.Second, proto.ServiceLogin, &proto.LoginRequest{User: "bia"})

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 20*time.Second, "SIGTERM")
	if p.err != nil {
		t.Errorf("msgsys up exited with %v, want a clean exit", p.err)
	}
	out := p.out.String()
	if n := strings.Count(out, `msg="child restarted" role=up name=server-2 `); n != 1 {
		t.Errorf("server-2 restarted %d times, want 1", n)
	}
	if strings.Contains(out, "so the cluster was stopped") {
		t.Error("msgsys up stopped the cluster after a failed restart")
	}
	p.checkNoRace(t)
}

// TestUpPrintsBannerOnlyWhenAllServe links server-2's data directory to
// the directory of a server that another msgsys up runs. server-1 serves
// at once, but server-2 waits 2 s for the lock and fails, so msgsys up
// must stop without printing the banner that counts both servers.
func TestUpPrintsBannerOnlyWhenAllServe(t *testing.T) {
	first := startUp(t, 1, "--bots", "0")
	first.waitLog(t, 30*time.Second, `msg="cluster ready"`)
	firstData := first.cmd.Args[slices.Index(first.cmd.Args, "--data")+1]

	data := t.TempDir()
	if err := os.Symlink(filepath.Join(firstData, "server-1"), filepath.Join(data, "server-2")); err != nil {
		t.Fatal(err)
	}
	second := startUpWith(t, data, 2, nil, "--bots", "0", "--lang", "en")
	second.wait(t, 30*time.Second, "its start")

	var exit *exec.ExitError
	if !errors.As(second.err, &exit) || exit.ExitCode() != common.ExitStartFailed {
		t.Errorf("second msgsys up exited with %v, want status %d", second.err, common.ExitStartFailed)
	}
	out := second.out.String()
	if !strings.Contains(out, "up: server-2 could not start, so the cluster was stopped") {
		t.Error("output lacks server-2's start failure")
	}
	if strings.Contains(out, "msgsys is up") {
		t.Error("msgsys up printed the banner before server-2 served")
	}
	if strings.Contains(out, `msg="cluster ready"`) {
		t.Error("msgsys up logged cluster ready before server-2 served")
	}
	second.checkNoRace(t)

	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	first.wait(t, 20*time.Second, "SIGTERM")
}
