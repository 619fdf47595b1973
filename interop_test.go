package main

// Interoperability with other teams' implementations: peers written with
// libzmq (Debian's python3-zmq) and Python's msgpack talk to msgsys's real
// processes. The scripts live in testdata/interop, and each prints JSON
// lines.
// The Python peers run through testkit.StartPython. The helpers here for
// msgsys processes with a pipe on stdin serve robustness_test.go too.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/proto"
	"msgsys/roles/client"
)

var interopScripts = filepath.Join("testdata", "interop")

// requireLibzmq skips the test unless the system's Python imports zmq and
// msgpack.
func requireLibzmq(t *testing.T) {
	t.Helper()
	testkit.RequirePython(t, "zmq", "msgpack")
}

// safeBuffer collects a child's output, which os/exec copies from its own
// goroutine while the test reads it.
type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *safeBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// startPy runs script from testdata/interop with a hard deadline of
// timeout, as testkit.StartPython does.
func startPy(t *testing.T, timeout time.Duration, script string, args ...string) *testkit.PythonPeer {
	t.Helper()
	return testkit.StartPython(t, timeout, filepath.Join(interopScripts, script), args...)
}

// proc is a msgsys process started by a test, with a pipe on its stdin and
// its stdout and stderr collected.
type proc struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *safeBuffer

	exited  chan struct{}
	exitErr error
}

// startProc runs the msgsys binary with args and stops it with SIGTERM at
// the end of the test. env adds variables to the test's environment.
func startProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	p := &proc{t: t, name: name, cmd: cmd, out: &safeBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.Env = append(os.Environ(), env...)
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(5 * time.Second)
		if t.Failed() {
			t.Logf("--- %s output ---\n%s", name, p.out.String())
		}
	})
	return p
}

// send writes one line to the process's stdin.
func (p *proc) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatalf("write to %s: %v", p.name, err)
	}
}

// mark is the current length of the output, for waitAfter.
func (p *proc) mark() int { return p.out.Len() }

// waitAfter waits until the output written after mark contains want, and
// returns the output after mark.
func (p *proc) waitAfter(mark int, want string, timeout time.Duration) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		all := p.out.String()
		if after := all[min(mark, len(all)):]; strings.Contains(after, want) {
			return after
		}
		select {
		case <-p.exited:
			p.t.Fatalf("%s exited (%v) before printing %q", p.name, p.exitErr, want)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s did not print %q within %v; output after mark:\n%s", p.name, want, timeout, all[min(mark, len(all)):])
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

// seen waits up to timeout for want in the output after mark, and returns
// the output after mark and whether want was in it.
func (p *proc) seen(mark int, want string, timeout time.Duration) (string, bool) {
	deadline := time.Now().Add(timeout)
	for {
		all := p.out.String()
		after := all[min(mark, len(all)):]
		if strings.Contains(after, want) {
			return after, true
		}
		if time.Now().After(deadline) {
			return "", false
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

// command sends a line and waits for want in what follows it.
func (p *proc) command(line, want string, timeout time.Duration) string {
	p.t.Helper()
	mark := p.mark()
	p.send(line)
	return p.waitAfter(mark, want, timeout)
}

// stop sends SIGTERM, waits up to timeout and kills the process after
// that. It returns the exit error, and may be called more than once.
func (p *proc) stop(timeout time.Duration) error {
	select {
	case <-p.exited:
		return p.exitErr
	default:
	}
	p.stdin.Close()
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Errorf("%s did not stop within %v of SIGTERM", p.name, timeout)
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	return p.exitErr
}

// startClient runs `msgsys client` in English with stdin on a pipe.
func startClient(t *testing.T, frontend, xpub string, env ...string) *proc {
	t.Helper()
	c := startProc(t, "client", env, "client", "--broker", frontend, "--sub", xpub, "--lang", "en", "--timeout", "2s")
	c.waitAfter(0, "Type /help", 10*time.Second)
	return c
}

// session returns a client.Session for a Go-side user of the broker.
func session(t *testing.T, frontend string) *client.Session {
	t.Helper()
	s := client.NewSession(client.SessionConfig{Broker: frontend, Timeout: 2 * time.Second, Lang: "en"})
	t.Cleanup(s.Close)
	return s
}

// waitUntil polls cond until it holds, failing the test after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

// startBrokerProc runs a broker process with both relays.
func startBrokerProc(t *testing.T, frontend, backend, xsub, xpub string) *proc {
	t.Helper()
	return startProc(t, "broker", []string{"MSGSYS_LOG_LEVEL=debug"}, "broker", "--frontend", frontend, "--backend", backend,
		"--xsub", xsub, "--xpub", xpub, "--request-timeout", "2s")
}

// waitAnswered waits until a users request through frontend succeeds,
// which needs a server behind the broker.
func waitAnswered(t *testing.T, frontend string) {
	t.Helper()
	s := session(t, frontend)
	waitUntil(t, 15*time.Second, "a server answering through "+frontend, func() bool {
		_, err := s.Users(context.Background())
		return err == nil
	})
}

func TestInteropLibzmqClientThroughBroker(t *testing.T) {
	requireLibzmq(t)
	s := startReadyStack(t, 2)
	peer := startPy(t, 60*time.Second, "libzmq_client.py", "session", s.frontend, s.xpub, "py_ana", "py_bob", "py_geral")
	result := peer.Next(45 * time.Second)
	peer.Finish(10 * time.Second)

	post, _ := result["post"].(map[string]any)
	if post["user"] != "py_ana" || post["channel"] != "py_geral" {
		t.Errorf("post as libzmq received it: %v", post)
	}
	if _, ok := post["clock"].(float64); !ok {
		t.Errorf("post clock %#v is not a number", post["clock"])
	}
	direct, _ := result["direct"].(map[string]any)
	if direct["src"] != "py_ana" || direct["from"] != "py_ana" || direct["dst"] != "py_bob" {
		t.Errorf("direct message as libzmq received it: %v", direct)
	}
	// Every reply carries msgsys's RFC 3339 UTC timestamp.
	stamps, _ := result["timestamps"].([]any)
	if len(stamps) == 0 {
		t.Fatal("no reply timestamps reported")
	}
	for _, stamp := range stamps {
		text, _ := stamp.(string)
		if _, err := time.Parse(time.RFC3339, text); err != nil || !strings.HasSuffix(text, "Z") {
			t.Errorf("reply timestamp %#v is not RFC 3339 UTC", stamp)
		}
	}
}

func TestInteropLibzmqHeartbeatClient(t *testing.T) {
	requireLibzmq(t)
	s := startReadyStack(t, 1)
	const requests = 10
	peer := startPy(t, 60*time.Second, "libzmq_client.py", "heartbeat", s.frontend, fmt.Sprint(requests))
	result := peer.Next(45 * time.Second)
	peer.Finish(10 * time.Second)
	if ok, _ := result["ok"].(float64); ok != requests {
		t.Errorf("%v of %d requests succeeded; failed: %v", result["ok"], requests, result["failed"])
	}
	if n, _ := result["disconnects"].(float64); n != 0 {
		t.Errorf("libzmq dropped the connection %v times: its PINGs went unanswered", n)
	}
}

// stdVariant is one way a standard server built on libzmq may differ.
type stdVariant struct {
	name  string
	flags []string
}

var stdVariants = []stdVariant{
	{"standard", nil},
	{"channels-under-users-only", []string{"--channels-key", "users"}},
	{"sender-as-from-only", []string{"--sender", "from"}},
	{"iso-timestamps-without-zone", []string{"--timestamps", "iso-naive"}},
}

func TestInteropLibzmqStandardServer(t *testing.T) {
	requireLibzmq(t)
	for _, variant := range stdVariants {
		t.Run(variant.name, func(t *testing.T) {
			ports := freePorts(t, 4)
			frontend, backend, xsub, xpub := endpoint(ports[0]), endpoint(ports[1]), endpoint(ports[2]), endpoint(ports[3])
			startBrokerProc(t, frontend, backend, xsub, xpub)
			server := startPy(t, 90*time.Second, "std_server.py", append([]string{backend, xsub}, variant.flags...)...)
			server.Next(20 * time.Second) // ready
			waitAnswered(t, frontend)
			checkClientWithStandardServer(t, frontend, xpub, variant.name == "iso-timestamps-without-zone")
			checkBotWithStandardServer(t, frontend, xpub, server)
		})
	}
}

// liveStamp matches the time a client prints before a live message.
var liveStamp = regexp.MustCompile(`\[(\d\d):(\d\d):(\d\d)\] `)

func checkClientWithStandardServer(t *testing.T, frontend, xpub string, checkZone bool) {
	t.Helper()
	// The client prints times in its local zone; a zone far from UTC shows
	// whether a timestamp without a zone was read as UTC.
	c := startClient(t, frontend, xpub, "TZ=America/Sao_Paulo")
	c.command("/login ana", "Welcome, ana!", 10*time.Second)
	c.command("/create geral", "Channel #geral created.", 10*time.Second)
	c.command("/channels", "Channels (1): #geral", 10*time.Second)
	c.command("/join geral", "What you type now goes to #geral", 10*time.Second)

	// The subscription reaches the proxy a moment after /join: post until
	// the client shows a post of its own coming back live.
	var shown string
	for i := 1; shown == ""; i++ {
		if i > 30 {
			t.Fatal("the client never showed its own post live")
		}
		mark := c.mark()
		text := fmt.Sprintf("olá %d", i)
		c.send("/post geral " + text)
		c.waitAfter(mark, "Message posted to #geral.", 10*time.Second)
		shown, _ = c.seen(mark, "#geral ana: "+text, 500*time.Millisecond)
	}
	if checkZone {
		checkShownTime(t, shown, "America/Sao_Paulo")
	}

	// A direct message from bob, sent by a Go session, must be shown with
	// whichever sender key the server used.
	bob := session(t, frontend)
	if _, err := bob.Login(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	mark := c.mark()
	waitUntil(t, 10*time.Second, "the direct message from bob shown by the client", func() bool {
		if _, err := bob.Send(context.Background(), "ana", "oi ana"); err != nil {
			t.Fatalf("direct message: %v", err)
		}
		return strings.Contains(c.out.String()[mark:], "@bob → you: oi ana")
	})
	c.command("/users", "Users (2): ana, bob", 10*time.Second)
	c.command("/quit", "Bye!", 10*time.Second)
	select {
	case <-c.exited:
		if c.exitErr != nil {
			t.Errorf("client exited with %v", c.exitErr)
		}
	case <-time.After(10 * time.Second):
		t.Error("client still running after /quit")
	}
}

// checkShownTime checks that the first time printed in out is within two
// minutes of now in zone.
func checkShownTime(t *testing.T, out, zone string) {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Skipf("skipping the time zone check: %v", err)
	}
	m := liveStamp.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no time shown in %q", out)
	}
	now := time.Now().In(loc)
	var hour, minute, second int
	if _, err := fmt.Sscanf(m[1]+" "+m[2]+" "+m[3], "%d %d %d", &hour, &minute, &second); err != nil {
		t.Fatalf("time %q: %v", m[0], err)
	}
	shown := time.Date(now.Year(), now.Month(), now.Day(), hour, minute, second, 0, loc)
	diff := now.Sub(shown)
	for diff > 12*time.Hour {
		diff -= 24 * time.Hour
	}
	for diff < -12*time.Hour {
		diff += 24 * time.Hour
	}
	if diff > 2*time.Minute || diff < -2*time.Minute {
		t.Errorf("client showed %s:%s:%s, now is %s in %s: a timestamp without a zone was not read as UTC", m[1], m[2], m[3], now.Format("15:04:05"), zone)
	}
}

func checkBotWithStandardServer(t *testing.T, frontend, xpub string, server *testkit.PythonPeer) {
	t.Helper()
	okFrom := func(service, user string) func(map[string]any) bool {
		return func(line map[string]any) bool {
			data, _ := line["data"].(map[string]any)
			sender := data["user"]
			if service == proto.ServiceMessage {
				sender = data["src"]
			}
			return line["service"] == service && sender == user && line["status"] == proto.StatusOK
		}
	}
	bot := startProc(t, "bot", nil, "bot", "--broker", frontend, "--sub", xpub, "--user", "robo", "--messages", "3",
		"--interval", "50ms", "--direct-chance", "1", "--timeout", "2s", "--lang", "en")
	waitUntil(t, 20*time.Second, "three posts and a direct message from the bot", func() bool {
		return server.Count(okFrom(proto.ServicePublish, "robo")) >= 3 && server.Count(okFrom(proto.ServiceMessage, "robo")) >= 1
	})
	if err := bot.stop(10 * time.Second); err != nil {
		t.Errorf("bot exited with %v", err)
	}
	if posts := server.Count(okFrom(proto.ServicePublish, "robo")); posts < 3 {
		t.Errorf("server accepted %d posts from the bot", posts)
	}
}

// startLibzmqProxies runs a zmq.proxy(ROUTER, DEALER) broker and a
// zmq.proxy(XSUB, XPUB) proxy in Python.
func startLibzmqProxies(t *testing.T) (frontend, backend, xsub, xpub string) {
	t.Helper()
	reqrep := startPy(t, 120*time.Second, "libzmq_proxy.py", "reqrep").Next(20 * time.Second)
	pubsub := startPy(t, 120*time.Second, "libzmq_proxy.py", "pubsub").Next(20 * time.Second)
	frontend, _ = reqrep["frontend"].(string)
	backend, _ = reqrep["backend"].(string)
	xsub, _ = pubsub["xsub"].(string)
	xpub, _ = pubsub["xpub"].(string)
	if frontend == "" || backend == "" || xsub == "" || xpub == "" {
		t.Fatalf("proxies printed %v and %v", reqrep, pubsub)
	}
	return frontend, backend, xsub, xpub
}

func TestInteropLibzmqProxies(t *testing.T) {
	requireLibzmq(t)
	frontend, backend, xsub, xpub := startLibzmqProxies(t)
	ports := freePorts(t, 3)
	s := &stack{
		t: t, dir: t.TempDir(),
		frontend: frontend, backend: backend, xsub: xsub, xpub: xpub, refEnd: endpoint(ports[0]),
		procs: map[string]*exec.Cmd{}, serverAddr: map[string]string{}, logs: map[string]*strings.Builder{},
	}
	t.Cleanup(s.stopAll)
	s.spawn("reference", "reference", "--bind", s.refEnd, "--data", filepath.Join(s.dir, "reference"), "--heartbeat-expiry", "3s")
	for i := 1; i <= 2; i++ {
		name := fmt.Sprintf("server-%d", i)
		s.serverAddr[name] = endpoint(ports[i])
		s.startServer(name, i)
	}
	// Coordinator announcements travel through libzmq's XSUB/XPUB.
	s.waitAgreement(15*time.Second, "server-2", 2)
	waitAnswered(t, frontend)

	ana := session(t, frontend)
	ctx := context.Background()
	if _, err := ana.Login(ctx, "ana"); err != nil {
		t.Fatal(err)
	}
	if _, err := ana.CreateChannel(ctx, "geral"); err != nil {
		t.Fatal(err)
	}
	// libzmq's DEALER spreads requests over both servers, so each must
	// reply and see the other's writes.
	for i := range 6 {
		if _, err := ana.Publish(ctx, "geral", fmt.Sprintf("via libzmq %d", i)); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	page, err := ana.History(ctx, client.HistoryQuery{Channel: "geral"})
	if err != nil || len(page.Messages) != 6 {
		t.Fatalf("history through libzmq: %d messages, %v", len(page.Messages), err)
	}

	// A msgsys client subscribes through libzmq's XPUB and shows bob's
	// posts live.
	c := startClient(t, frontend, xpub)
	c.command("/login carla", "Welcome, carla!", 10*time.Second)
	c.command("/join geral", "What you type now goes to #geral", 10*time.Second)
	bob := session(t, frontend)
	if _, err := bob.Login(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	mark := c.mark()
	i := 0
	waitUntil(t, 10*time.Second, "bob's post shown live through libzmq's proxy", func() bool {
		i++
		if _, err := bob.Publish(ctx, "geral", fmt.Sprintf("live %d", i)); err != nil {
			t.Fatalf("bob's post: %v", err)
		}
		return strings.Contains(c.out.String()[mark:], "#geral bob: live")
	})
	// And a direct message reaches carla on her own topic.
	mark = c.mark()
	waitUntil(t, 10*time.Second, "bob's direct message shown through libzmq's proxy", func() bool {
		if _, err := bob.Send(ctx, "carla", "oi carla"); err != nil {
			t.Fatalf("direct message: %v", err)
		}
		return strings.Contains(c.out.String()[mark:], "@bob → you: oi carla")
	})
}
