package bench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/proto"
)

type syncBuffer = testkit.Buffer

var waitUntil = testkit.WaitFor

// childPID returns the process id of this test's child that runs the
// msgsys binary as role, or 0. It reads /proc, so it needs Linux.
func childPID(t *testing.T, role string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc to find the %s process: %v", role, err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The fields after the command name, which is in brackets, start
		// with the state and the parent's process id.
		_, rest, ok := strings.Cut(string(stat), ") ")
		fields := strings.Fields(rest)
		if !ok || len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) >= 2 && args[0] == msgsysBinary && args[1] == role {
			return pid
		}
	}
	return 0
}

// killedRun is a bench run whose test kills a process once the measured
// load has started.
type killedRun struct {
	report Report
	out    []byte
	err    error // Run's result
}

// runAndKill runs cfg, waits until the progress bar shows label, which
// the load draws as it starts, calls kill, and returns the run's output
// and error.
func runAndKill(t *testing.T, cfg Config, label string, kill func()) killedRun {
	t.Helper()
	progress := &syncBuffer{}
	out := &syncBuffer{}
	cfg.Progress, cfg.Out = progress, out
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	result := make(chan error, 1)
	go func() { result <- b.Run(ctx) }()
	finished := false
	t.Cleanup(func() {
		cancel()
		if !finished {
			<-result
		}
	})

	waitUntil(t, time.Minute, "the load "+label+" to start", func() bool { return progress.Contains(label) })
	kill()
	run := killedRun{err: <-result}
	finished = true

	run.out = []byte(out.String())
	if err := json.Unmarshal(run.out, &run.report); err != nil {
		t.Fatalf("output is not one JSON object: %v (run error: %v)\n%s", err, run.err, run.out)
	}
	return run
}

// killChild sends SIGKILL to this test's child that runs role.
func killChild(t *testing.T, role string) int {
	t.Helper()
	pid := childPID(t, role)
	if pid == 0 {
		t.Fatalf("no child process runs %s", role)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s (pid %d): %v", role, pid, err)
	}
	return pid
}

// shortLoad returns a 2-second reqrep run with 2 clients and no
// baseline, measured from the start of the load.
func shortLoad() Config {
	cfg := smokeConfig(ScenarioReqRep)
	cfg.Servers = 1
	cfg.Clients = 2
	cfg.Baseline = false
	cfg.Warmup = 0
	cfg.Duration = 2 * time.Second
	cfg.Timeout = time.Second
	return cfg
}

func TestReqRepReportsKilledBroker(t *testing.T) {
	var pid int
	run := runAndKill(t, shortLoad(), "msgsys publish", func() { pid = killChild(t, "broker") })

	if run.err == nil {
		t.Fatalf("Run returned no error although the broker died during the load:\n%s", run.out)
	}
	if !strings.Contains(run.err.Error(), "broker") {
		t.Errorf("Run error %q does not name the broker", run.err)
	}
	if !strings.Contains(run.err.Error(), "signal: killed") {
		t.Errorf("Run error %q does not give the broker's exit status", run.err)
	}
	exits := brokerExit(t, &run.report)
	if exits[0].PID != pid {
		t.Errorf("child exit pid = %d, want the killed %d", exits[0].PID, pid)
	}
	if exits[0].Status != "signal: killed" {
		t.Errorf("child exit status = %q, want signal: killed", exits[0].Status)
	}
	if _, err := os.Stat(exits[0].Log); err != nil {
		t.Errorf("the broker's log was not kept: %v", err)
	}
	if len(run.report.Invalid) == 0 {
		t.Error("the report lists no reason why it is invalid")
	}
	if n := run.report.ReqRep.Msgsys.OutageSeconds; n < 1 {
		t.Errorf("outage_seconds = %d, want at least 1 of 2 without a broker", n)
	}
}

// TestReqRepFlagsRunningClusterOutage loads a cluster that the bench did
// not start, so it cannot watch its processes: the seconds without a
// successful reply are what make the run invalid.
func TestReqRepFlagsRunningClusterOutage(t *testing.T) {
	c, err := startCluster(clusterOptions{exe: msgsysBinary, servers: 1, logLevel: "warn"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	poller := newStatusPoller(proto.NewClocks(), "")
	defer poller.close()
	if err := c.waitReady(context.Background(), poller, proto.NewClocks()); err != nil {
		t.Fatal(err)
	}
	cfg := shortLoad()
	cfg.Frontend = c.frontend
	run := runAndKill(t, cfg, "msgsys publish", func() { c.kill("broker") })

	if run.err == nil {
		t.Fatalf("Run returned no error although the broker died during the load:\n%s", run.out)
	}
	if n := run.report.ReqRep.Msgsys.OutageSeconds; n < 1 {
		t.Errorf("outage_seconds = %d, want at least 1 of 2 without a broker", n)
	}
	if len(run.report.ChildExits) != 0 {
		t.Errorf("child_exits = %+v for a cluster the bench did not start", run.report.ChildExits)
	}
	if len(run.report.Invalid) != 1 || !strings.Contains(run.report.Invalid[0], "no successful reply") {
		t.Errorf("invalid = %q, want one reason naming the seconds without a successful reply", run.report.Invalid)
	}
}

func TestPubSubReportsKilledBroker(t *testing.T) {
	cfg := smokeConfig(ScenarioPubSub)
	cfg.Subscribers = 2
	cfg.Baseline = false
	cfg.Warmup = 0
	cfg.Duration = 2 * time.Second
	run := runAndKill(t, cfg, "msgsys pubsub", func() { killChild(t, "broker") })

	if run.err == nil {
		t.Fatalf("Run returned no error although the broker died during the load:\n%s", run.out)
	}
	exits := brokerExit(t, &run.report)
	if exits[0].Status != "signal: killed" {
		t.Errorf("child exit status = %q, want signal: killed", exits[0].Status)
	}
	if n := run.report.PubSub.Msgsys.OutageSeconds; n < 1 {
		t.Errorf("outage_seconds = %d, want at least 1 of 2 without a proxy", n)
	}
}

// TestIntentionalKillsAreValid runs the scenarios that kill or stop a
// server on purpose: their runs stay valid.
func TestIntentionalKillsAreValid(t *testing.T) {
	for _, scenario := range []string{ScenarioFailover, ScenarioCatchup} {
		t.Run(scenario, func(t *testing.T) {
			cfg := smokeConfig(scenario)
			cfg.Servers = 2
			cfg.Kills = 1
			cfg.Messages = 100
			report, out := runJSON(t, cfg)
			if len(report.ChildExits) != 0 {
				t.Errorf("a planned kill counts as a child exit:\n%s", out)
			}
			if len(report.Invalid) != 0 {
				t.Errorf("a planned kill made the run invalid:\n%s", out)
			}
		})
	}
}

func TestSecondTallyOutages(t *testing.T) {
	start := time.Now()
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	s := newSecondTally(start, 4500*time.Millisecond)
	if got := len(s.succeeded); got != 5 {
		t.Fatalf("a tally of 4.5 s has %d seconds, want 5", got)
	}

	s.success(at(100))
	s.failure(at(200), at(300))   // second 0 also had a success
	s.failure(at(900), at(2100))  // in flight through seconds 0, 1 and 2
	s.success(at(2500))           // second 2 has a success, second 1 none
	s.failure(at(4400), at(6000)) // ends after the measured time: second 4
	s.failure(at(-500), at(-100)) // in the warm-up: clamped to second 0
	other := newSecondTally(start, 4500*time.Millisecond)
	other.success(at(3200)) // second 3: a success and no failure
	s.merge(&other)

	if got := s.outages(); got != 2 {
		t.Errorf("outages = %d, want 2 (seconds 1 and 4)", got)
	}
	if !s.succeeded[3] {
		t.Error("second 3 has no success after the merge")
	}
	if s.failed[3] {
		t.Error("second 3 has a failure after the merge, want none")
	}
}

// brokerExit checks that the report names the broker as the one child
// that exited, removes the kept logs when the test ends, and returns the
// exits.
func brokerExit(t *testing.T, report *Report) []ChildExit {
	t.Helper()
	exits := report.ChildExits
	if len(exits) != 1 {
		t.Fatalf("child_exits = %+v, want the broker alone", exits)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(exits[0].Log)) })
	if exits[0].Name != "broker" {
		t.Errorf("child exit name = %q, want broker", exits[0].Name)
	}
	return exits
}
