package bench

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"msgsys/roles/common"
)

// Command is `msgsys bench SCENARIO [flags]`, one subcommand per
// scenario.
func Command() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure msgsys with real processes on this machine, beside a libzmq baseline",
		Description: "Each scenario starts its own cluster of msgsys processes on loopback ports, or uses a running\n" +
			"one given by its addresses, prints a table (or one JSON object with --json), and stops every\n" +
			"process it started. reqrep and pubsub also measure a libzmq broker and proxy in Python\n" +
			"(python3-zmq) and state each figure as a ratio to it. When a started process exits on its own,\n" +
			"or a measured second passes with failed requests and no successful one (reqrep) or without\n" +
			"any delivery (pubsub), the report marks its figures INVALID and the command exits non-zero.",
		Subcommands: []*cli.Command{
			scenarioCommand(ScenarioReqRep, "requests per second and latency of one service through the broker",
				flagService, flagClients, flagDuration, flagWarmup, flagSize, flagFrontend, flagBaseline, flagPython),
			scenarioCommand(ScenarioPubSub, "publications delivered per second, loss and latency through the proxy",
				flagSubscribers, flagPublishers, flagDuration, flagWarmup, flagSize, flagWindow, flagRate, flagXSub, flagXPub, flagBaseline, flagPython),
			scenarioCommand(ScenarioFailover, "time until every server agrees on a new coordinator after kill -9",
				flagKills),
			scenarioCommand(ScenarioBerkeley, "residual clock offsets after each Berkeley round",
				flagSkews, flagRounds, flagBerkeleyEvery, flagReference),
			scenarioCommand(ScenarioCatchup, "time until a server restarted with an empty directory has caught up",
				flagMessages, flagFill, flagClients, flagSize),
			scenarioCommand(ScenarioMemory, "a server's resident memory after storing many messages",
				flagMessages, flagFill, flagClients, flagSize, flagMaxFill),
		},
		// Without a scenario the command shows its help. For an unknown
		// one urfave/cli prints "No help topic", which names no scenario.
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.ShowSubcommandHelp(c)
			}
			return fmt.Errorf("unknown scenario %q: use one of %s", c.Args().First(), strings.Join(scenarioNames(), ", "))
		},
	}
}

// scenarioNames lists the scenarios in the order of the help.
func scenarioNames() []string {
	return []string{ScenarioReqRep, ScenarioPubSub, ScenarioFailover, ScenarioBerkeley, ScenarioCatchup, ScenarioMemory}
}

// Flag names, so a scenario lists the flags it reads.
const (
	flagJSON          = "json"
	flagServers       = "servers"
	flagServerArg     = "server-arg"
	flagChildLogLevel = "child-log-level"
	flagKeep          = "keep"
	flagTimeout       = "timeout"
	flagExecutable    = "executable"
	flagClusterKey    = "cluster-key"
	flagService       = "service"
	flagClients       = "clients"
	flagDuration      = "duration"
	flagWarmup        = "warmup"
	flagSize          = "size"
	flagFrontend      = "frontend"
	flagBaseline      = "baseline"
	flagPython        = "python"
	flagSubscribers   = "subscribers"
	flagPublishers    = "publishers"
	flagWindow        = "window"
	flagRate          = "rate"
	flagXSub          = "xsub"
	flagXPub          = "xpub"
	flagKills         = "kills"
	flagSkews         = "skews"
	flagRounds        = "rounds"
	flagBerkeleyEvery = "berkeley-every"
	flagReference     = "reference"
	flagMessages      = "messages"
	flagFill          = "fill"
	flagMaxFill       = "max-fill"
)

// commonFlags are the flags of every scenario.
var commonFlags = []string{flagJSON, flagServers, flagServerArg, flagChildLogLevel, flagKeep, flagTimeout, flagExecutable, flagClusterKey}

// flagFor declares one flag with the scenario's default.
func flagFor(name string, d Config) cli.Flag {
	env := []string{"MSGSYS_BENCH_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
	switch name {
	case flagJSON:
		return &cli.BoolFlag{Name: name, EnvVars: env, Usage: "print one JSON object instead of a table"}
	case flagClusterKey:
		// The variable every other command reads, so that one export
		// serves the whole cluster.
		return &cli.StringFlag{Name: name, EnvVars: []string{"MSGSYS_CLUSTER_KEY"}, Usage: "cluster key (ZeroMQ PLAIN) given to started servers and broker, and presented to the servers and proxy of a running cluster; empty: none"}
	case flagServers:
		return &cli.IntFlag{Name: name, Value: d.Servers, EnvVars: env, Usage: "servers of the started cluster"}
	case flagServerArg:
		return &cli.StringSliceFlag{Name: name, EnvVars: env, Usage: "extra argument for every started server, such as --server-arg=--check-every=50ms (repeatable)"}
	case flagChildLogLevel:
		return &cli.StringFlag{Name: name, Value: d.ChildLogLevel, EnvVars: env, Usage: "log level of the started processes, whose logs go to files in the cluster's directory"}
	case flagKeep:
		return &cli.BoolFlag{Name: name, EnvVars: env, Usage: "keep the cluster's temporary directory with its logs and data (it is always kept when the run fails)"}
	case flagTimeout:
		return &cli.DurationFlag{Name: name, Value: d.Timeout, EnvVars: env, Usage: "deadline of one request"}
	case flagExecutable:
		return &cli.StringFlag{Name: name, EnvVars: env, Usage: "msgsys binary the started processes run (default: this one)"}
	case flagService:
		return &cli.StringFlag{Name: name, Value: d.Service, EnvVars: env, Usage: "service to load: " + strings.Join(Services, ", ")}
	case flagClients:
		return &cli.IntFlag{Name: name, Value: d.Clients, EnvVars: env, Usage: "concurrent clients, each its own user, each waiting for its reply before the next request"}
	case flagDuration:
		return &cli.DurationFlag{Name: name, Value: d.Duration, EnvVars: env, Usage: "measured time"}
	case flagWarmup:
		return &cli.DurationFlag{Name: name, Value: d.Warmup, EnvVars: env, Usage: "unmeasured load before the measured time"}
	case flagSize:
		return &cli.IntFlag{Name: name, Value: d.Size, EnvVars: env, Usage: "bytes of message text (reqrep, fills) or of publication payload (pubsub)"}
	case flagFrontend:
		return &cli.StringFlag{Name: name, EnvVars: env, Usage: "broker frontend of a running cluster to load instead of starting one"}
	case flagBaseline:
		return &cli.BoolFlag{Name: name, Value: d.Baseline, EnvVars: env, Usage: "also measure the libzmq baseline (skipped with a note when Python lacks zmq)"}
	case flagPython:
		return &cli.StringFlag{Name: name, Value: d.Python, EnvVars: env, Usage: "Python interpreter with the zmq module, for the baseline"}
	case flagSubscribers:
		return &cli.IntFlag{Name: name, Value: d.Subscribers, EnvVars: env, Usage: "subscribers, all on one topic"}
	case flagPublishers:
		return &cli.IntFlag{Name: name, Value: d.Publishers, EnvVars: env, Usage: "publishers, each connected to the proxy's publisher side"}
	case flagWindow:
		return &cli.IntFlag{Name: name, Value: d.Window, EnvVars: env, Usage: "publications a publisher may have in flight ahead of the slowest subscriber (0: no bound)"}
	case flagRate:
		return &cli.IntFlag{Name: name, EnvVars: env, Usage: "publications per second per publisher (0: as fast as the window allows)"}
	case flagXSub:
		return &cli.StringFlag{Name: name, EnvVars: env, Usage: "proxy publisher side (XSUB) of a running cluster; needs --xpub"}
	case flagXPub:
		return &cli.StringFlag{Name: name, EnvVars: env, Usage: "proxy subscriber side (XPUB) of a running cluster; needs --xsub"}
	case flagKills:
		return &cli.IntFlag{Name: name, Value: d.Kills, EnvVars: env, Usage: "times the coordinator is killed with SIGKILL and restarted"}
	case flagSkews:
		return &cli.StringFlag{Name: name, Value: formatSkews(d.Skews), EnvVars: env, Usage: "comma-separated clock skews, one server each, such as -1s,0,+1s"}
	case flagRounds:
		return &cli.IntFlag{Name: name, Value: d.Rounds, EnvVars: env, Usage: "Berkeley rounds to record"}
	case flagBerkeleyEvery:
		return &cli.DurationFlag{Name: name, Value: d.BerkeleyEvery, EnvVars: env, Usage: "period of the servers' Berkeley rounds: set on started servers, and expected of a running cluster's"}
	case flagReference:
		return &cli.StringFlag{Name: name, EnvVars: env, Usage: "reference of a running cluster whose servers to watch instead of starting some"}
	case flagMessages:
		return &cli.IntFlag{Name: name, Value: d.Messages, EnvVars: env, Usage: "messages to store"}
	case flagFill:
		return &cli.StringFlag{Name: name, Value: d.Fill, EnvVars: env, Usage: "how to store them: push (batches to each server's replicate service, as a peer does) or clients (publish through the broker)"}
	case flagMaxFill:
		return &cli.DurationFlag{Name: name, EnvVars: env, Usage: "stop storing after this long and extrapolate to --messages (0: no limit)"}
	}
	panic("bench: no flag " + name)
}

func scenarioCommand(scenario, usage string, names ...string) *cli.Command {
	defaults := DefaultConfig(scenario)
	names = append(names, commonFlags...)
	flags := make([]cli.Flag, len(names))
	for i, name := range names {
		flags[i] = flagFor(name, defaults)
	}
	return &cli.Command{
		Name:  scenario,
		Usage: usage,
		Flags: flags,
		Action: func(c *cli.Context) error {
			cfg, err := configFrom(c, scenario)
			if err != nil {
				return err
			}
			cfg.Log = common.Logger(c, "bench")
			cfg.Progress = terminalStderr()
			b, err := New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := common.Context(c)
			defer stop()
			return b.Run(ctx)
		},
	}
}

// configFrom reads the flags the scenario declares.
func configFrom(c *cli.Context, scenario string) (Config, error) {
	cfg := DefaultConfig(scenario)
	cfg.JSON = c.Bool(flagJSON)
	cfg.Servers = c.Int(flagServers)
	cfg.ServerArgs = c.StringSlice(flagServerArg)
	cfg.ChildLogLevel = c.String(flagChildLogLevel)
	cfg.Keep = c.Bool(flagKeep)
	cfg.Timeout = c.Duration(flagTimeout)
	cfg.Executable = c.String(flagExecutable)
	cfg.ClusterKey = c.String(flagClusterKey)

	// set applies a flag only when this scenario declares it.
	set := func(name string, apply func()) {
		for _, f := range c.Command.Flags {
			if f.Names()[0] == name {
				apply()
				return
			}
		}
	}

	set(flagService, func() { cfg.Service = c.String(flagService) })
	set(flagClients, func() { cfg.Clients = c.Int(flagClients) })
	set(flagDuration, func() { cfg.Duration = c.Duration(flagDuration) })
	set(flagWarmup, func() { cfg.Warmup = c.Duration(flagWarmup) })
	set(flagSize, func() { cfg.Size = c.Int(flagSize) })
	set(flagFrontend, func() { cfg.Frontend = c.String(flagFrontend) })
	set(flagBaseline, func() { cfg.Baseline = c.Bool(flagBaseline) })
	set(flagPython, func() { cfg.Python = c.String(flagPython) })
	set(flagSubscribers, func() { cfg.Subscribers = c.Int(flagSubscribers) })
	set(flagPublishers, func() { cfg.Publishers = c.Int(flagPublishers) })
	set(flagWindow, func() { cfg.Window = c.Int(flagWindow) })
	set(flagRate, func() { cfg.Rate = c.Int(flagRate) })
	set(flagXSub, func() { cfg.XSub = c.String(flagXSub) })
	set(flagXPub, func() { cfg.XPub = c.String(flagXPub) })
	set(flagKills, func() { cfg.Kills = c.Int(flagKills) })
	set(flagRounds, func() { cfg.Rounds = c.Int(flagRounds) })
	set(flagBerkeleyEvery, func() { cfg.BerkeleyEvery = c.Duration(flagBerkeleyEvery) })
	set(flagReference, func() { cfg.Reference = c.String(flagReference) })
	set(flagMessages, func() { cfg.Messages = c.Int(flagMessages) })
	set(flagFill, func() { cfg.Fill = c.String(flagFill) })
	set(flagMaxFill, func() { cfg.MaxFill = c.Duration(flagMaxFill) })

	var err error
	set(flagSkews, func() { cfg.Skews, err = parseSkews(c.String(flagSkews)) })
	return cfg, err
}

// parseSkews reads "-1s,0,+1s".
func parseSkews(value string) ([]time.Duration, error) {
	var skews []time.Duration
	for part := range strings.SplitSeq(value, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := time.ParseDuration(part)
		if err != nil {
			return nil, fmt.Errorf("bench: invalid skew %q in --skews: %w", part, err)
		}
		skews = append(skews, d)
	}
	return skews, nil
}

func formatSkews(skews []time.Duration) string {
	parts := make([]string, len(skews))
	for i, d := range skews {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}
