package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"msgsys/proto"
	"msgsys/roles/common"
)

// Child process timings.
const (
	// stopTimeout is how long a child gets to stop after SIGTERM before it
	// is killed.
	stopTimeout = 5 * time.Second
	// logTail is how much of a failed child's log an error quotes.
	logTail = 2048
)

// clusterOptions configures a cluster of child processes.
type clusterOptions struct {
	exe     string
	servers int
	// serverArgs are added to every server's arguments; perServer, when
	// set, adds arguments to server i (from 1).
	serverArgs []string
	perServer  func(i int) []string
	logLevel   string
	keep       bool
	clusterKey string // given to every child, empty for none
	log        *slog.Logger
	// onExit, when set, is called with every child that exits although
	// the bench did not stop it.
	onExit func(*process)
}

// cluster is a reference, a broker with its proxy, and servers, each a
// child process of the msgsys executable on its own loopback port, with
// their data and logs in one temporary directory.
type cluster struct {
	opts clusterOptions
	dir  string
	log  *slog.Logger

	frontend, backend, xsub, xpub, reference string
	servers                                  []*serverSpec

	// env is added to the environment of every child: a GOMAXPROCS share
	// of the CPUs, which the reference, the broker, the servers and the
	// bench itself share.
	env []string

	mu    sync.Mutex // guards procs
	procs map[string]*process
}

// serverSpec is one server of a cluster; Rank is its index from 1, so the
// last server is the coordinator while it runs.
type serverSpec struct {
	Name string
	Rank int
	Addr string
	Data string
}

// process is one started child.
type process struct {
	name     string
	cmd      *exec.Cmd
	log      string
	exited   chan struct{} // closed when the process has exited
	err      error         // Wait's result, set before exited is closed
	exitedAt time.Time     // set before exited is closed

	mu       sync.Mutex // guards stopping
	stopping bool       // the bench stopped or killed it on purpose
}

// pid returns the process id.
func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) expectExit() {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
}

// errChildExited is wrapped by the errors of unexpectedExit.
var errChildExited = errors.New("exited unexpectedly")

// unexpectedExit returns an error when the process exited although the
// bench did not stop it.
func (p *process) unexpectedExit() error {
	select {
	case <-p.exited:
	default:
		return nil
	}
	p.mu.Lock()
	stopping := p.stopping
	p.mu.Unlock()
	if stopping {
		return nil
	}
	return fmt.Errorf("bench: %s %w (%s); end of its log %s:\n%s", p.name, errChildExited, p.exitStatus(), p.log, tail(p.log))
}

// exitStatus describes how the exited process ended, such as
// "signal: killed" or "exit status 2".
func (p *process) exitStatus() string {
	if p.cmd.ProcessState != nil {
		return p.cmd.ProcessState.String()
	}
	return fmt.Sprint(p.err)
}

// wait waits for the process to exit, then closes logFile and exited,
// and calls onExit, when it is not nil, if the bench did not stop the
// process.
// NOTE: a process that dies on its own in the instant before the bench
// stops it, before this goroutine reads stopping, counts as stopped.
func (p *process) wait(logFile *os.File, onExit func(*process)) {
	p.err = p.cmd.Wait()
	p.exitedAt = time.Now()
	logFile.Close()
	close(p.exited)
	if onExit != nil && p.unexpectedExit() != nil {
		onExit(p)
	}
}

// startCluster starts the reference, the broker and the servers. It
// returns once they are started, not once they serve: see waitReady.
func startCluster(opts clusterOptions) (*cluster, error) {
	if opts.log == nil {
		opts.log = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "msgsys-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: temporary directory: %w", err)
	}
	ports, err := freePorts(5 + opts.servers)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &cluster{
		opts:      opts,
		dir:       dir,
		log:       opts.log,
		frontend:  endpoint(ports[0]),
		backend:   endpoint(ports[1]),
		xsub:      endpoint(ports[2]),
		xpub:      endpoint(ports[3]),
		reference: endpoint(ports[4]),
		procs:     make(map[string]*process),
		env:       common.ChildProcs(opts.servers + 3),
	}
	for i := 1; i <= opts.servers; i++ {
		name := "server-" + strconv.Itoa(i)
		c.servers = append(c.servers, &serverSpec{Name: name, Rank: i, Addr: endpoint(ports[4+i]), Data: filepath.Join(dir, name)})
	}

	if err := c.startChildren(); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *cluster) startChildren() error {
	_, err := c.spawn("reference", "reference", "--bind", c.reference, "--data", filepath.Join(c.dir, "reference"))
	if err != nil {
		return err
	}
	_, err = c.spawn("broker", "broker", "--frontend", c.frontend, "--backend", c.backend, "--xsub", c.xsub, "--xpub", c.xpub)
	if err != nil {
		return err
	}
	for _, s := range c.servers {
		if err := c.startServer(s); err != nil {
			return err
		}
	}
	return nil
}

// startServer starts a server with its data directory as it is.
func (c *cluster) startServer(s *serverSpec) error {
	args := []string{"server", "--name", s.Name, "--rank", strconv.Itoa(s.Rank), "--addr", s.Addr, "--data", s.Data,
		"--broker", c.backend, "--pub", c.xsub, "--sub", c.xpub, "--reference", c.reference, "--rate-limit", "0"}
	args = append(args, c.opts.serverArgs...)
	if c.opts.perServer != nil {
		args = append(args, c.opts.perServer(s.Rank)...)
	}
	_, err := c.spawn(s.Name, args...)
	return err
}

// spawn starts one child whose output goes to NAME.log in the cluster's
// directory.
func (c *cluster) spawn(name string, args ...string) (*process, error) {
	logPath := filepath.Join(c.dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("bench: log of %s: %w", name, err)
	}
	cmd := exec.Command(c.opts.exe, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The children get the bench's own key, which its requests present,
	// rather than the value in the environment.
	cmd.Env = append(os.Environ(), "MSGSYS_LOG_LEVEL="+c.opts.logLevel, "MSGSYS_LOG_FORMAT=text", "MSGSYS_CLUSTER_KEY="+c.opts.clusterKey)
	cmd.Env = append(cmd.Env, c.env...)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	// This goroutine ends when the process exits, which close guarantees
	// by killing every child it has not stopped.
	go p.wait(logFile, func(p *process) {
		c.log.Error("child exited unexpectedly", "name", name, "pid", p.pid(), "status", p.exitStatus(), "log", logPath)
		if c.opts.onExit != nil {
			c.opts.onExit(p)
		}
	})
	c.log.Debug("child started", "name", name, "pid", cmd.Process.Pid, "args", args)

	c.mu.Lock()
	c.procs[name] = p
	c.mu.Unlock()
	return p, nil
}

// process returns the running child called name, or nil.
func (c *cluster) process(name string) *process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[name]
}

// kill sends SIGKILL to a child and waits for it to exit.
func (c *cluster) kill(name string) {
	c.mu.Lock()
	p := c.procs[name]
	delete(c.procs, name)
	c.mu.Unlock()
	if p == nil {
		return
	}
	p.expectExit()
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// stop sends SIGTERM to a child, waits up to stopTimeout for it to exit,
// and kills it after that.
func (c *cluster) stop(name string) {
	c.mu.Lock()
	p := c.procs[name]
	delete(c.procs, name)
	c.mu.Unlock()
	if p != nil {
		stopProcesses([]*process{p}, c.log)
	}
}

// failed returns an error for the first child that exited unexpectedly.
func (c *cluster) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if err := p.unexpectedExit(); err != nil {
			return err
		}
	}
	return nil
}

// pid returns a running child's process id, or 0.
func (c *cluster) pid(name string) int {
	if p := c.process(name); p != nil {
		return p.pid()
	}
	return 0
}

// close stops every child and removes the directory unless the options
// keep it.
func (c *cluster) close() {
	c.mu.Lock()
	procs := make([]*process, 0, len(c.procs))
	for _, p := range c.procs {
		procs = append(procs, p)
	}
	c.procs = make(map[string]*process)
	c.mu.Unlock()
	stopProcesses(procs, c.log)

	if c.opts.keep {
		c.log.Info("cluster directory kept", "dir", c.dir)
		return
	}
	if err := os.RemoveAll(c.dir); err != nil {
		c.log.Warn("cluster directory not removed", "dir", c.dir, "err", err)
	}
}

// stopProcesses sends SIGTERM to every process at once, then kills those
// still running after stopTimeout.
func stopProcesses(procs []*process, log *slog.Logger) {
	for _, p := range procs {
		p.expectExit()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			_ = p.cmd.Process.Kill()
		}
	}
	deadline := time.After(stopTimeout)
	for _, p := range procs {
		select {
		case <-p.exited:
		case <-deadline:
			log.Warn("child did not stop on SIGTERM, killing it", "name", p.name)
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
}

// freePorts returns n loopback TCP ports that were free a moment ago, for
// the children to bind.
func freePorts(n int) ([]int, error) {
	ports, err := proto.FreePorts(n)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return ports, nil
}

func endpoint(port int) string { return "tcp://127.0.0.1:" + strconv.Itoa(port) }

// tail returns the last logTail bytes of a file, for error messages.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(log unreadable: " + err.Error() + ")"
	}
	if len(data) > logTail {
		data = data[len(data)-logTail:]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return string(data)
}

// errNotReady is wrapped by waits that ran out of time.
var errNotReady = errors.New("bench: cluster not ready")

// waitFor polls cond every interval until it returns true, ctx is done,
// timeout passes or a child exits unexpectedly.
func (c *cluster) waitFor(ctx context.Context, timeout, interval time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return nil
		}
		if err := c.failed(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s after %v (logs in %s)", errNotReady, what, timeout, c.dir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// startedCluster describes for the report a cluster that the bench started
// with b.cfg.Servers servers, which run with args and --server-arg.
func (b *Bench) startedCluster(args ...string) string {
	text := fmt.Sprintf("started: %d servers", b.cfg.Servers)
	if args = append(args, b.cfg.ServerArgs...); len(args) > 0 {
		text += ", servers run with " + strings.Join(args, " ")
	}
	return text
}
