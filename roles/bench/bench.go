// Package bench is `msgsys bench`: it measures msgsys end to end with
// real processes. Each scenario starts its own cluster of child processes
// of the msgsys executable on loopback ports, or uses a running cluster
// whose addresses it is given. It runs a workload, prints a table or one
// JSON object, and stops every process it started. The request and
// pub/sub scenarios also measure a minimal libzmq broker, echo servers and
// proxy in Python on the same machine in the same run, and report each
// figure as a ratio to that baseline.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"msgsys/proto"
)

// Scenarios.
const (
	ScenarioReqRep   = "reqrep"
	ScenarioPubSub   = "pubsub"
	ScenarioFailover = "failover"
	ScenarioBerkeley = "berkeley"
	ScenarioCatchup  = "catchup"
	ScenarioMemory   = "memory"
)

// Scenarios lists every scenario name.
var Scenarios = []string{ScenarioReqRep, ScenarioPubSub, ScenarioFailover, ScenarioBerkeley, ScenarioCatchup, ScenarioMemory}

// Services that reqrep can load.
var Services = []string{proto.ServiceLogin, proto.ServicePublish, proto.ServiceMessage, proto.ServiceUsers, proto.ServiceChannels, proto.ServiceHistory}

// Ways of storing messages before catchup and memory measure.
const (
	// FillPush sends batches of ops straight to each server's replicate
	// service, as a peer server would: the fastest way to store many.
	FillPush = "push"
	// FillClients publishes through the broker with concurrent clients,
	// the path every real message takes.
	FillClients = "clients"
)

// DefaultPython is the interpreter that runs the libzmq baseline: Debian's
// python3 with python3-zmq.
const DefaultPython = "/usr/bin/python3"

// Config configures one bench run. Zero numbers take the scenario's
// default, listed in DefaultConfig and in the command's help.
type Config struct {
	Scenario string
	// Executable is the msgsys binary the children run; empty means this
	// process's own executable.
	Executable string
	// Python runs the baseline scripts; Baseline turns the baseline on
	// for reqrep and pubsub. A Python without the zmq module skips the
	// baseline with a note in the report.
	Python   string
	Baseline bool
	// JSON prints one JSON object instead of a table.
	JSON bool
	// Out receives the report; nil means os.Stdout.
	Out io.Writer
	// Progress receives the progress bar; nil draws none.
	Progress io.Writer

	// Addresses of a running cluster. When set, the scenario uses that
	// cluster instead of starting one: reqrep needs Frontend, pubsub XSub
	// and XPub, berkeley Reference.
	Frontend  string
	XSub      string
	XPub      string
	Reference string

	Clients     int           // concurrent clients of reqrep and of the clients fill
	Duration    time.Duration // measured time of reqrep and pubsub
	Warmup      time.Duration // unmeasured load before Duration
	Timeout     time.Duration // deadline of one request
	Service     string        // the reqrep service
	Servers     int           // servers of a started cluster
	Subscribers int           // pubsub subscribers
	Publishers  int           // pubsub publishers
	// Size is the text of a post or direct message in bytes (reqrep and
	// fills), or the payload of a publication (pubsub).
	Size int
	// Window bounds the publications one publisher has in flight ahead of
	// the slowest subscriber; 0 publishes as fast as the local queue
	// takes them.
	Window int
	// Rate bounds each publisher's publications per second; 0 is no bound.
	Rate          int
	Kills         int             // failover: coordinator kills
	Messages      int             // catchup and memory: messages stored
	Fill          string          // catchup and memory: FillPush or FillClients
	MaxFill       time.Duration   // memory: stop filling after this and extrapolate; 0 is no limit
	Skews         []time.Duration // berkeley: one clock skew per server
	Rounds        int             // berkeley: rounds to observe
	BerkeleyEvery time.Duration   // berkeley: the servers' round period
	// ServerArgs are added to every started server's arguments, such as
	// "--check-every=50ms".
	ServerArgs []string
	// ChildLogLevel is the log level of started children; their logs go
	// to files in the cluster's temporary directory.
	ChildLogLevel string
	// Keep keeps the cluster's temporary directory, logs and data.
	Keep bool
	// ClusterKey is given to started children and presented to the
	// reference, to servers' endpoints and to the proxy's publisher side.
	// Empty means none.
	ClusterKey string

	Clocks proto.Clocks
	Log    *slog.Logger
}

// Scenario defaults.
const (
	DefaultClients         = 16
	DefaultDuration        = 10 * time.Second
	DefaultWarmup          = time.Second
	DefaultTimeout         = 5 * time.Second
	DefaultServers         = 3
	DefaultSubscribers     = 10
	DefaultPublishers      = 1
	DefaultTextSize        = 64
	DefaultPublicationSize = 100
	DefaultWindow          = 1000
	DefaultKills           = 5
	DefaultCatchupMessages = 100_000
	DefaultMemoryMessages  = 1_000_000
	DefaultRounds          = 5
	DefaultBerkeleyEvery   = time.Second
	DefaultChildLogLevel   = "warn"
)

// DefaultSkews are berkeley's default clock skews, one per server.
var DefaultSkews = []time.Duration{-time.Second, 0, time.Second}

// DefaultConfig returns the defaults of `msgsys bench` for scenario.
func DefaultConfig(scenario string) Config {
	cfg := Config{
		Scenario:      scenario,
		Python:        DefaultPython,
		Baseline:      true,
		Clients:       DefaultClients,
		Duration:      DefaultDuration,
		Warmup:        DefaultWarmup,
		Timeout:       DefaultTimeout,
		Service:       proto.ServicePublish,
		Servers:       DefaultServers,
		Subscribers:   DefaultSubscribers,
		Publishers:    DefaultPublishers,
		Window:        DefaultWindow,
		Kills:         DefaultKills,
		Fill:          FillPush,
		Skews:         slices.Clone(DefaultSkews),
		Rounds:        DefaultRounds,
		BerkeleyEvery: DefaultBerkeleyEvery,
		ChildLogLevel: DefaultChildLogLevel,
		Clocks:        proto.NewClocks(),
	}
	switch scenario {
	case ScenarioPubSub:
		cfg.Size = DefaultPublicationSize
	default:
		cfg.Size = DefaultTextSize
	}
	switch scenario {
	case ScenarioMemory:
		cfg.Messages = DefaultMemoryMessages
	default:
		cfg.Messages = DefaultCatchupMessages
	}
	return cfg
}

// Bench runs one scenario.
type Bench struct {
	cfg      Config
	log      *slog.Logger
	progress *progress
	run      string   // random tag of this run, part of user and topic names
	childEnv []string // entries startCluster added to the children's environment
	// exits collects the started processes, of clusters and baselines,
	// that exit while the scenario runs although the bench did not stop
	// them.
	exits exitLog
}

// New validates cfg and finds the executable. It starts and binds
// nothing.
func New(cfg Config) (*Bench, error) {
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	if cfg.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("bench: cannot find the msgsys executable to start children: %w", err)
		}
		cfg.Executable = exe
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clocks.Lamport == nil || cfg.Clocks.Physical == nil {
		cfg.Clocks = proto.NewClocks()
	}
	return &Bench{cfg: cfg, log: cfg.Log, progress: newProgress(cfg.Progress), run: requestID()[:4]}, nil
}

func validate(cfg *Config) error {
	if !slices.Contains(Scenarios, cfg.Scenario) {
		return fmt.Errorf("bench: unknown scenario %q: use one of %s", cfg.Scenario, strings.Join(Scenarios, ", "))
	}
	defaults := DefaultConfig(cfg.Scenario)
	positive := []struct {
		name  string
		value *int
		def   int
	}{
		{"--clients", &cfg.Clients, defaults.Clients},
		{"--servers", &cfg.Servers, defaults.Servers},
		{"--subscribers", &cfg.Subscribers, defaults.Subscribers},
		{"--publishers", &cfg.Publishers, defaults.Publishers},
		{"--size", &cfg.Size, defaults.Size},
		{"--kills", &cfg.Kills, defaults.Kills},
		{"--messages", &cfg.Messages, defaults.Messages},
		{"--rounds", &cfg.Rounds, defaults.Rounds},
	}
	for _, p := range positive {
		if *p.value < 0 {
			return fmt.Errorf("bench: %s is %d, want a positive number", p.name, *p.value)
		}
		if *p.value == 0 {
			*p.value = p.def
		}
	}
	durations := []struct {
		name  string
		value *time.Duration
		def   time.Duration
	}{
		{"--duration", &cfg.Duration, defaults.Duration},
		{"--timeout", &cfg.Timeout, defaults.Timeout},
		{"--berkeley-every", &cfg.BerkeleyEvery, defaults.BerkeleyEvery},
	}
	for _, d := range durations {
		if *d.value < 0 {
			return fmt.Errorf("bench: %s is %v, want a positive duration", d.name, *d.value)
		}
		if *d.value == 0 {
			*d.value = d.def
		}
	}
	switch {
	case cfg.Warmup < 0 || cfg.MaxFill < 0:
		return errors.New("bench: --warmup and --max-fill must not be negative")
	case cfg.Window < 0 || cfg.Rate < 0:
		return errors.New("bench: --window and --rate must not be negative")
	case !slices.Contains(Services, cfg.Service):
		return fmt.Errorf("bench: unknown service %q: use one of %s", cfg.Service, strings.Join(Services, ", "))
	case cfg.Fill != FillPush && cfg.Fill != FillClients:
		return fmt.Errorf("bench: unknown fill %q: use %s or %s", cfg.Fill, FillPush, FillClients)
	case cfg.Scenario == ScenarioPubSub && cfg.Size < payloadHeader:
		return fmt.Errorf("bench: --size %d is too small for a publication: the send time and sequence number take %d bytes", cfg.Size, payloadHeader)
	case cfg.Scenario == ScenarioFailover && cfg.Servers < 2:
		return fmt.Errorf("bench: failover needs at least 2 servers, --servers is %d", cfg.Servers)
	case cfg.Scenario == ScenarioCatchup && cfg.Servers < 2:
		return fmt.Errorf("bench: catchup needs at least 2 servers, --servers is %d", cfg.Servers)
	case cfg.Scenario == ScenarioBerkeley && len(cfg.Skews) < 2 && cfg.Reference == "":
		return fmt.Errorf("bench: berkeley needs at least 2 skews, one per server; --skews has %d", len(cfg.Skews))
	}
	if cfg.Size > proto.MaxTextBytes && cfg.Scenario != ScenarioPubSub {
		return fmt.Errorf("bench: --size %d exceeds the longest message text, %d bytes", cfg.Size, proto.MaxTextBytes)
	}
	if cfg.ChildLogLevel == "" {
		cfg.ChildLogLevel = DefaultChildLogLevel
	}
	return nil
}

// Run runs the scenario and prints its report.
func (b *Bench) Run(ctx context.Context) error {
	report, err := b.Measure(ctx)
	if err != nil {
		return err
	}
	if b.cfg.JSON {
		enc := json.NewEncoder(b.cfg.Out)
		enc.SetIndent("", "  ")
		err = enc.Encode(report)
	} else {
		err = report.WriteTable(b.cfg.Out)
	}
	if err != nil {
		return err
	}
	// The figures are printed even when they are invalid, marked so, and
	// the error makes the command exit non-zero.
	return report.Err()
}

// Measure runs the scenario and returns its report without printing it.
// A report whose Err is not nil has figures that are not a valid result.
func (b *Bench) Measure(ctx context.Context) (*Report, error) {
	report := &Report{
		Scenario: b.cfg.Scenario,
		Started:  time.Now().UTC().Format(time.RFC3339),
		Machine:  machine(),
	}
	b.exits.reset()
	var err error
	switch b.cfg.Scenario {
	case ScenarioReqRep:
		report.ReqRep, err = b.reqrep(ctx, report)
	case ScenarioPubSub:
		report.PubSub, err = b.pubsub(ctx, report)
	case ScenarioFailover:
		report.Failover, err = b.failover(ctx, report)
	case ScenarioBerkeley:
		report.Berkeley, err = b.berkeley(ctx, report)
	case ScenarioCatchup:
		report.Catchup, err = b.catchup(ctx, report)
	case ScenarioMemory:
		report.Memory, err = b.memory(ctx, report)
	}
	exits := b.exits.list()
	if err != nil {
		// A failure caused by a dead child may not say so, as when the
		// broker's death fails the clients' logins.
		if len(exits) > 0 && !errors.Is(err, errChildExited) {
			err = fmt.Errorf("%w (meanwhile %s)", err, exits[0])
		}
		return nil, err
	}
	if len(b.childEnv) > 0 {
		report.Notes = append(report.Notes, "the started processes ran with "+strings.Join(b.childEnv, " "))
	}
	report.ChildExits = exits
	report.Invalid = report.invalidReasons()
	return report, nil
}

// startCluster starts a cluster with the configured servers and waits
// until it serves. The caller closes it; closeCluster keeps the
// directory of a failed run for its logs.
func (b *Bench) startCluster(ctx context.Context, servers int, perServer func(int) []string, poller *statusPoller) (*cluster, error) {
	b.log.Debug("starting cluster", "servers", servers)
	stop := b.progress.track("starting cluster", func() float64 { return 0 })
	defer stop()
	c, err := startCluster(clusterOptions{
		exe:        b.cfg.Executable,
		servers:    servers,
		serverArgs: b.cfg.ServerArgs,
		perServer:  perServer,
		logLevel:   b.cfg.ChildLogLevel,
		keep:       b.cfg.Keep,
		clusterKey: b.cfg.ClusterKey,
		log:        b.log,
		onExit:     b.exits.record,
	})
	if err != nil {
		return nil, err
	}
	b.childEnv = c.env
	if err := c.waitReady(ctx, poller, b.cfg.Clocks); err != nil {
		c.opts.keep = true
		c.close()
		return nil, err
	}
	b.log.Debug("cluster ready", "dir", c.dir)
	return c, nil
}

// closeCluster stops c, and keeps its directory when err is set or a
// child exited unexpectedly, so the children's logs can explain the
// failure.
func (b *Bench) closeCluster(c *cluster, err *error) {
	if (*err != nil && ctxErr(*err) == nil) || len(b.exits.list()) > 0 {
		c.opts.keep = true
	}
	c.close()
}

// ctxErr returns err when it is a context cancellation, so a Ctrl-C does
// not keep the directory.
func ctxErr(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
