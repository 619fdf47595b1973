package bench

import (
	"bufio"
	"context"
	"embed"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// baselineScripts are the libzmq baseline programs, written to a
// temporary directory at run time so the binary needs no source tree.
//
//go:embed baseline/*.py
var baselineScripts embed.FS

// baselineReadyTimeout bounds the wait for a script's ready line.
const baselineReadyTimeout = 10 * time.Second

// pythonZMQ reports why python cannot run the baseline, or nil when it
// can import zmq.
func pythonZMQ(ctx context.Context, python string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", "import zmq").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import zmq (%v): %s", python, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// pythonProcs runs baseline scripts as child processes.
type pythonProcs struct {
	python string
	dir    string
	log    *slog.Logger
	// onExit, when set, is called with every script that exits after its
	// ready line although close did not stop it.
	onExit func(*process)

	mu    sync.Mutex // guards procs and exited
	procs []*process
	// exited is set when a script exited after its ready line although
	// close did not stop it. close then keeps the directory for its log.
	exited bool
}

// startPython writes the scripts to a temporary directory.
func startPython(python string, log *slog.Logger, onExit func(*process)) (*pythonProcs, error) {
	dir, err := os.MkdirTemp("", "msgsys-baseline-")
	if err != nil {
		return nil, fmt.Errorf("bench: temporary directory: %w", err)
	}
	entries, err := baselineScripts.ReadDir("baseline")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for _, e := range entries {
		data, err := baselineScripts.ReadFile("baseline/" + e.Name())
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("bench: write baseline script: %w", err)
		}
	}
	return &pythonProcs{python: python, dir: dir, log: log, onExit: onExit}, nil
}

// spawn starts a script and waits for its first line, which must start
// with "ready"; it returns the line's other fields.
func (p *pythonProcs) spawn(ctx context.Context, script string, args ...string) ([]string, error) {
	logPath := filepath.Join(p.dir, strings.TrimSuffix(script, ".py")+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	readEnd, writeEnd, err := os.Pipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	defer readEnd.Close()

	cmd := exec.Command(p.python, append([]string{filepath.Join(p.dir, script)}, args...)...)
	cmd.Stdout, cmd.Stderr = writeEnd, logFile
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	writeEnd.Close()
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("bench: start %s: %w", script, err)
	}
	proc := &process{name: script, cmd: cmd, log: logPath, exited: make(chan struct{})}
	// A script that exits before its ready line fails spawn, which
	// reports it, so only a later exit counts as unexpected.
	var ready atomic.Bool
	// The wait ends when the process exits, and close stops every
	// process.
	go proc.wait(logFile, func(proc *process) {
		if !ready.Load() {
			return
		}
		p.log.Error("baseline script exited unexpectedly", "script", script, "pid", proc.pid(), "status", proc.exitStatus(), "log", logPath)
		p.mu.Lock()
		p.exited = true
		p.mu.Unlock()
		if p.onExit != nil {
			p.onExit(proc)
		}
	})
	p.mu.Lock()
	p.procs = append(p.procs, proc)
	p.mu.Unlock()

	lines := make(chan string, 1)
	go func() {
		// The read ends at the first line, at the end of file when the
		// process exits, or when the deferred Close of readEnd runs after
		// the wait below gave up.
		line, _ := bufio.NewReader(readEnd).ReadString('\n')
		lines <- line
	}()
	select {
	case line := <-lines:
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "ready" {
			return nil, fmt.Errorf("bench: baseline %s did not start: %s", script, tail(logPath))
		}
		ready.Store(true)
		p.log.Debug("baseline started", "script", script, "pid", cmd.Process.Pid, "ready", line)
		return fields[1:], nil
	case <-time.After(baselineReadyTimeout):
		return nil, fmt.Errorf("bench: baseline %s not ready after %v: %s", script, baselineReadyTimeout, tail(logPath))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// close stops every script and removes the directory, unless a script
// exited unexpectedly: then the directory stays for its log.
func (p *pythonProcs) close() {
	p.mu.Lock()
	procs := p.procs
	p.procs = nil
	keep := p.exited
	p.mu.Unlock()
	stopProcesses(procs, p.log)
	if keep {
		p.log.Info("baseline directory kept", "dir", p.dir)
		return
	}
	os.RemoveAll(p.dir)
}

// echoBaseline is a running libzmq broker with echo servers.
type echoBaseline struct {
	procs    *pythonProcs
	frontend string
	version  string
}

// startEchoBaseline starts the baseline broker and servers echo servers.
// onExit, when set, is called with every script that exits before close.
func startEchoBaseline(ctx context.Context, python string, servers int, log *slog.Logger, onExit func(*process)) (*echoBaseline, error) {
	procs, err := startPython(python, log, onExit)
	if err != nil {
		return nil, err
	}
	fields, err := procs.spawn(ctx, "echo_broker.py")
	if err == nil && len(fields) < 3 {
		err = fmt.Errorf("bench: baseline broker printed %q, want endpoints and version", fields)
	}
	if err != nil {
		procs.close()
		return nil, err
	}
	for range servers {
		if _, err := procs.spawn(ctx, "echo_server.py", fields[1]); err != nil {
			procs.close()
			return nil, err
		}
	}
	return &echoBaseline{procs: procs, frontend: fields[0], version: fields[2]}, nil
}

// proxyBaseline is a running libzmq XSUB/XPUB proxy.
type proxyBaseline struct {
	procs   *pythonProcs
	xsub    string
	xpub    string
	version string
}

// startProxyBaseline starts the baseline proxy. onExit, when set, is
// called if the script exits before close.
func startProxyBaseline(ctx context.Context, python string, log *slog.Logger, onExit func(*process)) (*proxyBaseline, error) {
	procs, err := startPython(python, log, onExit)
	if err != nil {
		return nil, err
	}
	fields, err := procs.spawn(ctx, "pubsub_proxy.py")
	if err == nil && len(fields) < 3 {
		err = fmt.Errorf("bench: baseline proxy printed %q, want endpoints and version", fields)
	}
	if err != nil {
		procs.close()
		return nil, err
	}
	return &proxyBaseline{procs: procs, xsub: fields[0], xpub: fields[1], version: fields[2]}, nil
}
