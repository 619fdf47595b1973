package main

// Tests of the real binary as separate processes: failures that only a
// process can have (kill -9, SIGSTOP) and the wiring of main.go.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/proto"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "msgsys-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "msgsys")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		// The race detector needs cgo; fall back to a plain build.
		build = exec.Command("go", "build", "-o", binary, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out2, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build failed: %v\n%s\n%s", err, out, out2)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePorts returns n TCP ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports, err := proto.FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

func endpoint(port int) string { return fmt.Sprintf("tcp://127.0.0.1:%d", port) }

// stack is a reference, a broker and servers running as processes.
type stack struct {
	t                                     *testing.T
	dir                                   string
	frontend, backend, xsub, xpub, refEnd string
	mu                                    sync.Mutex
	procs                                 map[string]*exec.Cmd
	serverAddr                            map[string]string
	logs                                  map[string]*strings.Builder
	serverArgs                            []string // added to every server's arguments
}

func startStack(t *testing.T, servers int) *stack {
	t.Helper()
	return startStackWith(t, servers)
}

// startStackWith is startStack with serverArgs added to the arguments of
// every server it starts, restarts included.
func startStackWith(t *testing.T, servers int, serverArgs ...string) *stack {
	t.Helper()
	ports := freePorts(t, 5+servers)
	s := &stack{
		t: t, dir: t.TempDir(), serverArgs: serverArgs,
		frontend: endpoint(ports[0]), backend: endpoint(ports[1]), xsub: endpoint(ports[2]), xpub: endpoint(ports[3]), refEnd: endpoint(ports[4]),
		procs: map[string]*exec.Cmd{}, serverAddr: map[string]string{}, logs: map[string]*strings.Builder{},
	}
	t.Cleanup(s.stopAll)
	s.spawn("reference", "reference", "--bind", s.refEnd, "--data", filepath.Join(s.dir, "reference"), "--heartbeat-expiry", "3s")
	s.spawn("broker", s.brokerArgs()...)
	for i := 1; i <= servers; i++ {
		name := fmt.Sprintf("server-%d", i)
		s.serverAddr[name] = endpoint(ports[4+i])
		s.startServer(name, i)
	}
	s.waitAgreement(10*time.Second, fmt.Sprintf("server-%d", servers), servers)
	waitAnswered(t, s.frontend)
	return s
}

func (s *stack) startServer(name string, rank int, extra ...string) {
	args := []string{"server", "--name", name, "--rank", fmt.Sprint(rank), "--addr", s.serverAddr[name],
		"--data", filepath.Join(s.dir, name), "--broker", s.backend, "--pub", s.xsub, "--sub", s.xpub, "--reference", s.refEnd,
		"--check-every", "50ms", "--check-timeout", "100ms", "--election-timeout", "100ms", "--ack-timeout", "300ms"}
	args = append(args, s.serverArgs...)
	s.spawn(name, append(args, extra...)...)
}

func (s *stack) spawn(name string, args ...string) {
	s.t.Helper()
	cmd := exec.Command(binary, args...)
	log := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = &lockedWriter{mu: &s.mu, b: log}, &lockedWriter{mu: &s.mu, b: log}
	cmd.Env = append(os.Environ(), "MSGSYS_LOG_LEVEL=debug")
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.procs[name] = cmd
	s.logs[name] = log
	s.mu.Unlock()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// signal sends sig to a process; kill waits for it to exit.
func (s *stack) signal(name string, sig syscall.Signal) {
	s.mu.Lock()
	cmd := s.procs[name]
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(sig)
	}
}

func (s *stack) kill(name string) {
	s.mu.Lock()
	cmd := s.procs[name]
	delete(s.procs, name)
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

func (s *stack) stopAll() {
	s.mu.Lock()
	procs := s.procs
	s.procs = map[string]*exec.Cmd{}
	s.mu.Unlock()
	for _, cmd := range procs {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	for name, cmd := range procs {
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			s.t.Errorf("%s did not stop on SIGTERM", name)
			_ = cmd.Process.Kill()
			<-done
		}
	}
	if s.t.Failed() {
		s.mu.Lock()
		for name, log := range s.logs {
			s.t.Logf("--- %s ---\n%s", name, log.String())
		}
		s.mu.Unlock()
	}
}

// serverStatus requests a server's status.
func serverStatus(addr string, timeout time.Duration) (proto.Data, error) {
	req := proto.NewRequester(addr)
	defer req.Close()
	frame, err := proto.Encode("status", &proto.EmptyRequest{}, proto.NewClocks().Meta())
	if err != nil {
		return nil, err
	}
	payload, err := req.Request(context.Background(), frame, timeout)
	if err != nil {
		return nil, err
	}
	env, err := proto.Decode(payload)
	if err != nil {
		return nil, err
	}
	return env.Data, nil
}

// coordinators returns what each reachable server sees as coordinator.
func (s *stack) coordinators(names ...string) map[string]string {
	seen := map[string]string{}
	for _, name := range names {
		data, err := serverStatus(s.serverAddr[name], 300*time.Millisecond)
		if err != nil {
			continue
		}
		coordinator, _, _ := data.OptString("coordinator")
		seen[name] = coordinator
	}
	return seen
}

// waitAgreement waits until count servers reply and all see want.
func (s *stack) waitAgreement(timeout time.Duration, want string, count int) time.Duration {
	s.t.Helper()
	start := time.Now()
	names := make([]string, 0, len(s.serverAddr))
	for name := range s.serverAddr {
		names = append(names, name)
	}
	for {
		seen := s.coordinators(names...)
		agree := len(seen) == count
		for _, coordinator := range seen {
			agree = agree && coordinator == want
		}
		if agree {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			s.t.Fatalf("after %v servers see %v, want %d servers on %s", timeout, seen, count, want)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

func TestProcessCoordinatorKilledAndRestarted(t *testing.T) {
	s := startStack(t, 3)
	s.kill("server-3")
	took := s.waitAgreement(3*time.Second, "server-2", 2)
	t.Logf("agreement on server-2 %v after kill -9", took)
	if took > time.Second {
		t.Errorf("failover took %v, want under 1s", took)
	}
	s.startServer("server-3", 3)
	s.waitAgreement(10*time.Second, "server-3", 3)
}

func TestProcessFrozenCoordinatorResumes(t *testing.T) {
	s := startStack(t, 3)
	s.signal("server-3", syscall.SIGSTOP)
	s.waitAgreement(3*time.Second, "server-2", 2)
	s.signal("server-3", syscall.SIGCONT)
	// Once resumed, server-3 outranks everyone again and takes over; no
	// server may stay with a stale coordinator.
	s.waitAgreement(10*time.Second, "server-3", 3)
}

// TestProcessServerStoppedWhileRegistering stops a server that still waits
// for its rank from a reference that does not run. It must stop as cleanly
// as a server that serves.
func TestProcessServerStoppedWhileRegistering(t *testing.T) {
	ports := testkit.LoopbackPorts(t, 5)
	cmd := exec.Command(binary, "server", "--name", "lone", "--addr", endpoint(ports[0]), "--reference", endpoint(ports[1]),
		"--broker", endpoint(ports[2]), "--pub", endpoint(ports[3]), "--sub", endpoint(ports[4]),
		"--data", filepath.Join(t.TempDir(), "lone"))
	out := &testkit.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "MSGSYS_LOG_FORMAT=text", "MSGSYS_LOG_LEVEL=info")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	testkit.WaitFor(t, 10*time.Second, "the server retrying the reference", func() bool {
		return out.Contains(`msg="reference unavailable"`)
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("server exited with %v, want status 0\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("server did not exit within 10s of SIGTERM\n%s", out.String())
	}
	if !out.Contains(`msg="server stopped"`) {
		t.Errorf("output lacks the server stopped line:\n%s", out.String())
	}
	if out.Contains("context canceled") {
		t.Errorf("output shows the cancellation as an error:\n%s", out.String())
	}
}

// TestStrayArgumentRejected types a role twice, as a person might. The
// command must fail with the reason, not run with its flags ignored.
func TestStrayArgumentRejected(t *testing.T) {
	cmd := exec.Command(binary, "broker", "broker", "--frontend", "tcp://127.0.0.1:1")
	cmd.Env = append(os.Environ(), "LANG=en_US.UTF-8", "LC_ALL=", "LC_MESSAGES=")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("msgsys broker broker succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), `unexpected argument "broker"`) {
		t.Errorf("output does not name the stray argument:\n%s", out)
	}
}

func TestUnknownBenchScenarioNamed(t *testing.T) {
	out, err := exec.Command(binary, "bench", "nosuch").CombinedOutput()
	if err == nil {
		t.Fatalf("msgsys bench nosuch succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), `unknown scenario "nosuch": use one of reqrep`) {
		t.Errorf("output does not name the unknown scenario and the known ones:\n%s", out)
	}
}
