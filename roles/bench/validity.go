package bench

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ChildExit is a process the bench started that exited while the
// scenario ran, although the bench did not stop or kill it.
type ChildExit struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// Status is the exit status as Go's os.ProcessState prints it, such
	// as "signal: killed" or "exit status 2".
	Status string `json:"status"`
	// AtSeconds is the time of the exit, from the start of the scenario.
	AtSeconds float64 `json:"at_seconds"`
	// Log is the process's log file. Its directory is kept.
	Log string `json:"log"`
}

// String describes the exit for the table and for errors.
func (e ChildExit) String() string {
	return fmt.Sprintf("%s (pid %d) exited unexpectedly %.1f s into the scenario: %s; its log is %s", e.Name, e.PID, e.AtSeconds, e.Status, e.Log)
}

// exitLog collects the started processes that exit unexpectedly while a
// scenario runs. Children's wait goroutines call record.
type exitLog struct {
	mu    sync.Mutex
	start time.Time
	exits []ChildExit
}

// reset empties the log and starts its clock.
func (l *exitLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.start = time.Now()
	l.exits = nil
}

// record adds p, which has exited.
func (l *exitLog) record(p *process) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.exits = append(l.exits, ChildExit{
		Name:      p.name,
		PID:       p.pid(),
		Status:    p.exitStatus(),
		AtSeconds: roundTo(p.exitedAt.Sub(l.start).Seconds(), 3),
		Log:       p.log,
	})
}

// list returns a copy of the exits recorded so far.
func (l *exitLog) list() []ChildExit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ChildExit(nil), l.exits...)
}

// secondTally marks the seconds of a measured load, from its start, in
// which a request succeeded and those in which a failed request was in
// flight. One goroutine owns it.
type secondTally struct {
	start     time.Time
	succeeded []bool
	failed    []bool
}

func newSecondTally(start time.Time, duration time.Duration) secondTally {
	n := measuredSeconds(duration)
	return secondTally{start: start, succeeded: make([]bool, n), failed: make([]bool, n)}
}

// measuredSeconds returns how many seconds, the last one maybe partial,
// a measured time of duration spans.
func measuredSeconds(duration time.Duration) int {
	return max(int((duration+time.Second-1)/time.Second), 1)
}

// second returns the index of the second that contains t, clamped to the
// measured seconds: a request that ends after the measured time counts
// in its last second.
func (s *secondTally) second(t time.Time) int {
	return min(max(int(t.Sub(s.start)/time.Second), 0), len(s.succeeded)-1)
}

// success marks the second in which a request's reply arrived at done.
func (s *secondTally) success(done time.Time) {
	s.succeeded[s.second(done)] = true
}

// failure marks every second during which a failed request, sent at sent
// and given up at done, was in flight.
func (s *secondTally) failure(sent, done time.Time) {
	for i := s.second(sent); i <= s.second(done); i++ {
		s.failed[i] = true
	}
}

func (s *secondTally) merge(other *secondTally) {
	for i := range s.succeeded {
		s.succeeded[i] = s.succeeded[i] || other.succeeded[i]
		s.failed[i] = s.failed[i] || other.failed[i]
	}
}

// outages counts the seconds in which requests failed or timed out and
// none succeeded.
func (s *secondTally) outages() int {
	n := 0
	for i := range s.succeeded {
		if s.failed[i] && !s.succeeded[i] {
			n++
		}
	}
	return n
}

// invalidReasons returns why the report's figures are not a valid
// result: started processes that exited unexpectedly, and measured
// seconds in which the load got no successful reply or delivery.
func (r *Report) invalidReasons() []string {
	var reasons []string
	for _, e := range r.ChildExits {
		reasons = append(reasons, e.String())
	}
	outage := func(label string, seconds int, condition string) {
		switch {
		case seconds == 1:
			reasons = append(reasons, fmt.Sprintf("%s: 1 measured second had %s", label, condition))
		case seconds > 1:
			reasons = append(reasons, fmt.Sprintf("%s: %d measured seconds had %s", label, seconds, condition))
		}
	}
	if r.ReqRep != nil {
		const failedRequests = "failed requests and no successful reply"
		outage("msgsys", r.ReqRep.Msgsys.OutageSeconds, failedRequests)
		if r.ReqRep.Baseline != nil {
			outage("libzmq baseline", r.ReqRep.Baseline.OutageSeconds, failedRequests)
		}
	}
	if r.PubSub != nil {
		const noDelivery = "no delivery to any subscriber"
		outage("msgsys", r.PubSub.Msgsys.OutageSeconds, noDelivery)
		if r.PubSub.Baseline != nil {
			outage("libzmq baseline", r.PubSub.Baseline.OutageSeconds, noDelivery)
		}
	}
	return reasons
}

// Err returns an error that lists why the figures are not a valid
// result, or nil when they are.
func (r *Report) Err() error {
	if len(r.Invalid) == 0 {
		return nil
	}
	return errors.New("bench: invalid run, its figures are not a valid result: " + strings.Join(r.Invalid, "; "))
}
