package testkit

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// SystemPython is Debian's interpreter, which has python3-zmq and
// python3-msgpack. A python3 earlier on PATH may lack them.
const SystemPython = "/usr/bin/python3"

// RequirePython skips the test unless SystemPython imports every module
// named, such as "zmq" (Debian's python3-zmq) and "msgpack".
func RequirePython(tb testing.TB, modules ...string) {
	tb.Helper()
	if _, err := os.Stat(SystemPython); err != nil {
		tb.Skipf("skipping: %s is missing (%v)", SystemPython, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, module := range modules {
		out, err := exec.CommandContext(ctx, SystemPython, "-c", "import "+module).CombinedOutput()
		if err != nil {
			tb.Skipf("skipping: %s cannot import %s (Debian package python3-%s): %v: %s",
				SystemPython, module, module, err, strings.TrimSpace(string(out)))
		}
	}
}

// PythonPeer is a running Python script, such as a libzmq peer, that
// prints one JSON object per line. The lines are kept in order, and a line
// that is not a JSON object is kept as {"unparsed": TEXT}. The script's
// stdin stays open until Finish or the end of the test, and the
// long-running scripts exit when it closes.
type PythonPeer struct {
	tb     testing.TB
	script string
	stdin  io.WriteCloser
	stderr *Buffer

	mu     sync.Mutex
	lines  []map[string]any
	read   int           // lines consumed by Next
	eof    bool          // stdout closed
	change chan struct{} // closed and replaced when lines or eof change

	exited  chan struct{}
	exitErr error // set before exited is closed
}

// StartPython runs SystemPython with the script at path script and args,
// with a hard deadline of timeout. When the test ends it closes the
// script's stdin, kills the script if it is still running 5 seconds later,
// and logs its stderr if the test failed.
func StartPython(tb testing.TB, timeout time.Duration, script string, args ...string) *PythonPeer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, SystemPython, append([]string{script}, args...)...)
	cmd.WaitDelay = 2 * time.Second
	p := &PythonPeer{tb: tb, script: script, stderr: &Buffer{}, change: make(chan struct{}), exited: make(chan struct{})}

	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		cancel()
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		tb.Fatalf("start %s: %v", script, err)
	}

	go func() {
		p.readLines(stdout)
		// Wait only after the output is read to its end, as os/exec
		// requires for StdoutPipe.
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()

	tb.Cleanup(func() {
		p.stdin.Close()
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			cancel()
			<-p.exited
		}
		cancel()
		if tb.Failed() {
			tb.Logf("%s stderr:\n%s", script, p.stderr.String())
		}
	})
	return p
}

// readLines keeps every line of stdout until it closes.
func (p *PythonPeer) readLines(stdout io.Reader) {
	scanner := bufio.NewScanner(stdout)
	scanner.Buffer(nil, 16<<20)
	for scanner.Scan() {
		var line map[string]any
		if err := json.Unmarshal(scanner.Bytes(), &line); err != nil {
			line = map[string]any{"unparsed": scanner.Text()}
		}
		p.mu.Lock()
		p.lines = append(p.lines, line)
		p.notifyLocked()
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.eof = true
	p.notifyLocked()
	p.mu.Unlock()
}

func (p *PythonPeer) notifyLocked() {
	close(p.change)
	p.change = make(chan struct{})
}

// Next returns the next output line that Next has not returned yet. It
// fails the test after timeout, at the end of output, or on a line with
// the key "error", which the scripts print when they fail.
func (p *PythonPeer) Next(timeout time.Duration) map[string]any {
	p.tb.Helper()
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		if p.read < len(p.lines) {
			line := p.lines[p.read]
			p.read++
			p.mu.Unlock()
			if reason, failed := line["error"]; failed {
				p.tb.Fatalf("%s failed: %v\nstderr:\n%s", p.script, reason, p.stderr.String())
			}
			return line
		}
		eof, change := p.eof, p.change
		p.mu.Unlock()
		if eof {
			p.tb.Fatalf("%s ended without output; stderr:\n%s", p.script, p.stderr.String())
		}
		select {
		case <-change:
		case <-deadline:
			p.tb.Fatalf("no output from %s within %v", p.script, timeout)
		}
	}
}

// Count returns how many output lines so far satisfy match, whether Next
// has returned them or not.
func (p *PythonPeer) Count(match func(map[string]any) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, line := range p.lines {
		if match(line) {
			n++
		}
	}
	return n
}

// Find returns the first output line so far that satisfies match.
func (p *PythonPeer) Find(match func(map[string]any) bool) (map[string]any, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range p.lines {
		if match(line) {
			return line, true
		}
	}
	return nil, false
}

// Finish closes stdin, waits up to timeout for the script to exit and
// fails the test on a non-zero exit. Output lines not yet read stay
// readable with Count and Find.
func (p *PythonPeer) Finish(timeout time.Duration) {
	p.tb.Helper()
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.tb.Fatalf("%s still running %v after its input closed", p.script, timeout)
	}
	if p.exitErr != nil {
		p.tb.Fatalf("%s: %v\nstderr:\n%s", p.script, p.exitErr, p.stderr.String())
	}
}
