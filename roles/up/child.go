package up

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"msgsys/roles/common"
)

// waitDelay bounds how long Wait keeps copying a child's output after the
// child has exited, in case a process it started still holds the pipes.
const waitDelay = 2 * time.Second

// childSpec is one process that msgsys up runs.
type childSpec struct {
	name    string
	args    []string // arguments after the executable, starting with the role
	restart bool     // restart after an exit that msgsys up did not cause
}

// role is the msgsys command the child runs.
func (s childSpec) role() string { return s.args[0] }

// child supervises one process: it waits for it, logs an unexpected exit,
// restarts it when its spec says so, and stops it when stop is closed.
type child struct {
	spec   childSpec
	exe    string
	env    []string
	stdout *lineWriter
	stderr *lineWriter
	log    *slog.Logger

	restartDelay time.Duration
	// stopTimeout is how long the process gets to exit after its SIGTERM
	// before it is killed.
	stopTimeout time.Duration
	stop        chan struct{} // closed to stop the process for good
	done        chan struct{} // closed when supervise returns
	// failed is called when the process exits with
	// common.ExitStartFailed at its first start, and restartFailed when a
	// restarted process does. Either ends the supervision: the child is
	// not restarted after it.
	failed        func(startFailure)
	restartFailed func(startFailure)

	mu         sync.Mutex // guards currentPID
	currentPID int        // process id of the running process, 0 while none runs
}

// flag returns the value that follows name in the child's arguments, or
// "".
func (c *child) flag(name string) string {
	i := slices.Index(c.spec.args, name)
	if i < 0 || i+1 >= len(c.spec.args) {
		return ""
	}
	return c.spec.args[i+1]
}

// pid returns the running process's id, or 0.
func (c *child) pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.currentPID
}

func (c *child) setPID(pid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.currentPID = pid
}

// startFailure is a child's exit with common.ExitStartFailed: it cannot
// start with its settings, and starting it again would fail the same way.
type startFailure struct {
	name string
	// message is the child's last line on stderr without main's "msgsys: "
	// in front, which is the description of its error, or its exit status
	// when it wrote nothing.
	message string
}

// running is one started process and the result of its Wait.
type running struct {
	cmd     *exec.Cmd
	started time.Time
	exited  chan error // receives Wait's result once
}

// start starts the process once.
func (c *child) start() (*running, error) {
	cmd := exec.Command(c.exe, c.spec.args...)
	cmd.Env = c.env
	cmd.Stdout = c.stdout
	cmd.Stderr = c.stderr
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("up: start %s: %w", c.spec.name, err)
	}
	c.log.Info("child started", "name", c.spec.name, "pid", cmd.Process.Pid)
	c.setPID(cmd.Process.Pid)
	r := &running{cmd: cmd, started: time.Now(), exited: make(chan error, 1)}
	go func() {
		// This goroutine ends when the process exits, which supervise
		// forces with SIGKILL when asked to stop.
		err := cmd.Wait()
		c.setPID(0)
		c.stdout.Flush()
		c.stderr.Flush()
		r.exited <- err
	}()
	return r, nil
}

// supervise owns the process that first started, and its restarts, until
// stop is closed or the process exits for good.
func (c *child) supervise(first *running) {
	defer close(c.done)
	r := first
	// Half the configured delay, so that a first quick exit, such as a
	// kill soon after the start, still waits only the configured delay.
	delay := c.restartDelay / 2
	for {
		select {
		case err := <-r.exited:
			if r.cmd.ProcessState != nil && r.cmd.ProcessState.ExitCode() == common.ExitStartFailed {
				c.reportStartFailure(r, err, r != first)
				return
			}
			// A child stopped from outside with SIGTERM or SIGINT exits
			// cleanly, which is unexpected here but no failure.
			level := slog.LevelError
			if err == nil {
				level = slog.LevelWarn
			}
			c.log.Log(context.Background(), level, "child exited unexpectedly", "name", c.spec.name, "pid", r.cmd.Process.Pid, "status", exitStatus(r.cmd, err))
			if !c.spec.restart {
				return
			}
			delay = nextRestartDelay(delay, c.restartDelay, time.Since(r.started))
			if r = c.restart(delay); r == nil {
				return
			}
		case <-c.stop:
			c.terminate(r)
			return
		}
	}
}

// reportStartFailure logs the exit of r with common.ExitStartFailed and
// calls failed, or restartFailed when r is a restart. A failed restart
// leaves this child down but the rest of the cluster running, because the
// cluster already served with this child's settings.
func (c *child) reportStartFailure(r *running, err error, restarted bool) {
	failure := c.startFailure(r.cmd, err)
	if restarted {
		c.log.Error("child failed to restart, left down", "name", c.spec.name, "pid", r.cmd.Process.Pid,
			"status", exitStatus(r.cmd, err), "stderr", failure.message)
		c.restartFailed(failure)
		return
	}
	c.log.Error("child failed to start", "name", c.spec.name, "pid", r.cmd.Process.Pid, "status", exitStatus(r.cmd, err))
	c.failed(failure)
}

// A process that exits within quickExit of its start doubles the delay
// before its next restart, up to maxRestartDelay, so that one that fails
// at once is not started again every second for ever. One that ran longer
// is restarted after the configured delay, as after a kill in a class.
const (
	quickExit       = 10 * time.Second
	maxRestartDelay = 30 * time.Second
)

// nextRestartDelay returns the delay before the next restart of a process
// that ran for ran, after the previous delay, with base as the
// configured delay.
func nextRestartDelay(previous, base, ran time.Duration) time.Duration {
	if ran >= quickExit {
		return base
	}
	return min(max(2*previous, base), max(maxRestartDelay, base))
}

// restart starts the process again after delay, retrying while the start
// fails. It returns nil when stop is closed first.
func (c *child) restart(delay time.Duration) *running {
	if delay > c.restartDelay {
		c.log.Warn("child exits soon after each start, restart delayed", "name", c.spec.name, "delay", delay)
	}
	for {
		select {
		case <-c.stop:
			return nil
		case <-time.After(delay):
		}
		r, err := c.start()
		if err == nil {
			c.log.Info("child restarted", "name", c.spec.name, "pid", r.cmd.Process.Pid)
			return r
		}
		c.log.Error("child restart failed", "name", c.spec.name, "err", err)
	}
}

// startFailure describes the exit of cmd with common.ExitStartFailed.
func (c *child) startFailure(cmd *exec.Cmd, err error) startFailure {
	message := strings.TrimPrefix(c.stderr.LastLine(), "msgsys: ")
	if message == "" {
		message = exitStatus(cmd, err)
	}
	return startFailure{name: c.spec.name, message: message}
}

// terminate sends SIGTERM, then SIGKILL once stopTimeout has passed, and
// waits for the exit.
func (c *child) terminate(r *running) {
	pid := r.cmd.Process.Pid
	if err := terminate(r.cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
		c.log.Warn("child not signalled", "name", c.spec.name, "pid", pid, "err", err)
	}
	timer := time.NewTimer(c.stopTimeout)
	defer timer.Stop()
	select {
	case err := <-r.exited:
		c.log.Info("child stopped", "name", c.spec.name, "pid", pid, "status", exitStatus(r.cmd, err))
		return
	case <-timer.C:
	}
	c.log.Warn("child did not stop in time, killing it", "name", c.spec.name, "pid", pid)
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		c.log.Error("child not killed", "name", c.spec.name, "pid", pid, "err", err)
	}
	err := <-r.exited
	c.log.Info("child killed", "name", c.spec.name, "pid", pid, "status", exitStatus(r.cmd, err))
}

// exitStatus describes how a process ended: "exit status 1", "signal:
// killed", or Wait's own error when the process state is unknown.
func exitStatus(cmd *exec.Cmd, err error) string {
	if cmd.ProcessState != nil {
		return cmd.ProcessState.String()
	}
	if err != nil {
		return err.Error()
	}
	return "exited"
}
