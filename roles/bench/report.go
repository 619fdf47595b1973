package bench

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Report is the outcome of one scenario. Exactly one of the scenario
// fields is set.
type Report struct {
	Scenario string  `json:"scenario"`
	Started  string  `json:"started"`
	Machine  Machine `json:"machine"`
	// Cluster is "started" for a cluster the bench started, or the
	// addresses of the running cluster it used.
	Cluster string   `json:"cluster"`
	Notes   []string `json:"notes,omitempty"`
	// ChildExits are the started processes that exited while the scenario
	// ran, although the bench did not stop or kill them.
	ChildExits []ChildExit `json:"child_exits,omitempty"`
	// Invalid lists why the figures are not a valid result: the child
	// exits, and measured seconds without a successful reply or delivery.
	// Run exits with an error when it is not empty.
	Invalid []string `json:"invalid,omitempty"`

	ReqRep   *ReqRepResult   `json:"reqrep,omitempty"`
	PubSub   *PubSubResult   `json:"pubsub,omitempty"`
	Failover *FailoverResult `json:"failover,omitempty"`
	Berkeley *BerkeleyResult `json:"berkeley,omitempty"`
	Catchup  *CatchupResult  `json:"catchup,omitempty"`
	Memory   *MemoryResult   `json:"memory,omitempty"`
}

// Machine describes where the figures were measured.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	MemoryMB int64  `json:"memory_mb"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// machine reads the CPU model and memory from /proc where it exists.
func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if key, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(key) == "model name" {
				m.CPUModel = strings.TrimSpace(value)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				fields := strings.Fields(rest)
				if len(fields) > 0 {
					kb, _ := strconv.ParseInt(fields[0], 10, 64)
					m.MemoryMB = kb >> 10
				}
			}
		}
	}
	return m
}

// WriteTable prints the report for people.
func (r *Report) WriteTable(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "scenario %s, %s, %d CPUs (%s), %d MB, %s\n", r.Scenario, r.Started, r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemoryMB, r.Machine.Go)
	fmt.Fprintf(w, "cluster: %s\n\n", r.Cluster)
	for _, reason := range r.Invalid {
		fmt.Fprintf(w, "INVALID: %s\n", reason)
	}
	if len(r.Invalid) > 0 {
		fmt.Fprintln(w)
	}
	switch {
	case r.ReqRep != nil:
		r.ReqRep.writeTable(w)
	case r.PubSub != nil:
		r.PubSub.writeTable(w)
	case r.Failover != nil:
		r.Failover.writeTable(w)
	case r.Berkeley != nil:
		r.Berkeley.writeTable(w)
	case r.Catchup != nil:
		r.Catchup.writeTable(w)
	case r.Memory != nil:
		r.Memory.writeTable(w)
	}
	for _, note := range r.Notes {
		fmt.Fprintf(w, "\nnote: %s\n", note)
	}
	return w.Flush()
}

// Ratio compares a msgsys figure with the libzmq baseline's: throughput
// is msgsys's rate over the baseline's (1 is as fast as libzmq), and the
// latencies are msgsys's over the baseline's (1 is as quick).
type Ratio struct {
	Throughput float64 `json:"throughput"`
	P50        float64 `json:"p50"`
	P99        float64 `json:"p99"`
}

func ratio(value, base float64) float64 {
	if base == 0 {
		return 0
	}
	return roundTo(value/base, 3)
}

// roundTo rounds v to digits decimals, to keep reports readable.
func roundTo(v float64, digits int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', digits, 64), 64)
	return f
}

// fmtRatio renders a ratio for a table, or "-" without a baseline.
func fmtRatio(r *Ratio, pick func(*Ratio) float64) string {
	if r == nil {
		return "-"
	}
	return strconv.FormatFloat(pick(r), 'f', 2, 64)
}
