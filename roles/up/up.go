// Package up is `msgsys up`, which runs a whole cluster on 127.0.0.1: the
// reference, the broker with its proxy, the servers and the bots, each a
// child process of the same binary. It merges their logs under one tag per
// process, prints how to connect once the cluster replies to requests, and
// stops every child on Ctrl-C. Each child is a real process, so any one of them
// can be killed with kill -9 to watch the others cope.
package up

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/common"
)

// Defaults of Config.
const (
	DefaultPortBase     = 5555
	DefaultData         = "data"
	DefaultServers      = 3
	DefaultBots         = 2
	DefaultReadyTimeout = 10 * time.Second
	DefaultStopTimeout  = 5 * time.Second
	DefaultRestartDelay = time.Second
	// SkewSpread is the largest clock skew --skew gives a server: the
	// servers' skews are spread evenly from -SkewSpread to +SkewSpread.
	SkewSpread = time.Second
)

// Offsets from the port base of the standard ports. Server i (from 1)
// listens for its peers on base+offsetServers+i-1.
const (
	offsetFrontend  = 0
	offsetBackend   = 1
	offsetXSub      = 2
	offsetXPub      = 3
	offsetReference = 4
	offsetServers   = 5
)

// Config configures msgsys up.
type Config struct {
	// Executable is the msgsys binary every child runs; empty means this
	// process's own executable.
	Executable string
	// PortBase is the broker's frontend port; the other ports follow it.
	PortBase int
	// Data is the directory that holds data/reference and data/server-N.
	Data    string
	Servers int
	Bots    int
	// Skew starts the servers with clock skews spread over ±SkewSpread,
	// for Berkeley rounds to correct.
	Skew bool
	// Restart restarts the reference, the broker or a server that exits
	// unexpectedly, after RestartDelay. A bot that exits stays down.
	Restart bool
	// Lang is the language of the instructions and of every child's text
	// for people: "pt" or "en" (see lang.Pick).
	Lang string

	// Output receives the merged, tagged lines of every child and of
	// msgsys up itself; nil means os.Stdout.
	Output io.Writer
	// Color colours the tags with ANSI escapes.
	Color bool
	// LogLevel and LogFormat are passed to every child as
	// MSGSYS_LOG_LEVEL and MSGSYS_LOG_FORMAT, and set up's own logger
	// when Log is nil.
	LogLevel  string
	LogFormat string
	// Env is added to the environment every child inherits.
	Env []string

	// ReadyTimeout bounds the wait for the cluster's first reply. After
	// it, the cluster keeps running and up keeps retrying.
	ReadyTimeout time.Duration
	// StopTimeout is how long children get to stop after SIGTERM before
	// they are killed.
	StopTimeout  time.Duration
	RestartDelay time.Duration

	// Clocks stamp the readiness checks.
	Clocks proto.Clocks
	// Log receives up's own events; nil logs them to Output under the tag
	// "up".
	Log *slog.Logger
}

// DefaultConfig returns the settings of `msgsys up` without flags.
func DefaultConfig() Config {
	return Config{
		PortBase:     DefaultPortBase,
		Data:         DefaultData,
		Servers:      DefaultServers,
		Bots:         DefaultBots,
		LogLevel:     "info",
		LogFormat:    "text",
		ReadyTimeout: DefaultReadyTimeout,
		StopTimeout:  DefaultStopTimeout,
		RestartDelay: DefaultRestartDelay,
	}
}

// Up runs one cluster.
type Up struct {
	cfg  Config
	out  *output
	log  *slog.Logger
	lang string
}

// New validates cfg and finds the executable. It starts and binds
// nothing.
func New(cfg Config) (*Up, error) {
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	if cfg.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("up: cannot find the msgsys executable to start children: %w", err)
		}
		cfg.Executable = exe
	}
	if cfg.Output == nil {
		cfg.Output = os.Stdout
	}
	if cfg.Clocks.Lamport == nil || cfg.Clocks.Physical == nil {
		cfg.Clocks = proto.NewClocks()
	}
	u := &Up{cfg: cfg, lang: lang.Pick(cfg.Lang)}
	names := []string{"up"}
	for _, spec := range u.specs() {
		names = append(names, spec.name)
	}
	u.out = newOutput(cfg.Output, tagWidth(names), cfg.Color)
	u.log = cfg.Log
	if u.log == nil {
		u.log = newLogger(u.out.writer("up", 0), cfg.LogLevel, cfg.LogFormat)
	}
	return u, nil
}

// Errors of the configuration, which name the command's flags.
var (
	textServersInvalid = lang.Text{
		PT: "up: --servers precisa ser pelo menos 1, e não %d",
		EN: "up: --servers must be at least 1, not %d",
	}
	textBotsInvalid = lang.Text{
		PT: "up: --bots precisa ser 0 ou mais, e não %d",
		EN: "up: --bots must be 0 or more, not %d",
	}
	textPortBaseInvalid = lang.Text{
		PT: "up: --port-base precisa estar entre 1 e %d com %s, porque o cluster usa as portas de base a base+%d, e não %d",
		EN: "up: --port-base must be from 1 to %d with %s, because the cluster uses the ports from base to base+%d, not %d",
	}
	textDataEmpty = lang.Text{
		PT: "up: --data não pode ser vazio",
		EN: "up: --data must not be empty",
	}
)

// validate checks cfg. Its errors name the command's flags in the language
// of cfg.Lang, because a person reads them at start.
func validate(cfg *Config) error {
	l, err := lang.Parse(cfg.Lang)
	if err != nil {
		return fmt.Errorf("up: --lang: %w", err)
	}
	lastOffset := offsetServers + cfg.Servers - 1
	switch {
	case cfg.Servers < 1:
		return fmt.Errorf(textServersInvalid.In(l), cfg.Servers)
	case cfg.Bots < 0:
		return fmt.Errorf(textBotsInvalid.In(l), cfg.Bots)
	case cfg.PortBase < 1 || cfg.PortBase+lastOffset > 65535:
		return fmt.Errorf(textPortBaseInvalid.In(l), 65535-lastOffset, count(cfg.Servers, textServer, textServers, l), lastOffset, cfg.PortBase)
	case cfg.Data == "":
		return errors.New(textDataEmpty.In(l))
	case cfg.ReadyTimeout <= 0 || cfg.StopTimeout <= 0 || cfg.RestartDelay <= 0:
		// Config fields without flags: only a program sets them.
		return errors.New("up: ready, stop and restart durations must be positive")
	}
	return nil
}

// endpoint is a loopback endpoint at base+offset.
func (u *Up) endpoint(offset int) string {
	return "tcp://127.0.0.1:" + strconv.Itoa(u.cfg.PortBase+offset)
}

// ports lists every port the cluster binds.
func (u *Up) ports() []int {
	var ports []int
	for offset := range offsetServers + u.cfg.Servers {
		ports = append(ports, u.cfg.PortBase+offset)
	}
	return ports
}

// specs lists the children in start order: the reference and the broker,
// then the servers, then the bots.
func (u *Up) specs() []childSpec {
	specs := []childSpec{
		{name: "reference", args: []string{"reference",
			"--bind", u.endpoint(offsetReference),
			"--data", filepath.Join(u.cfg.Data, "reference"),
			"--lang", u.lang},
			restart: u.cfg.Restart},
		{name: "broker", args: []string{"broker",
			"--frontend", u.endpoint(offsetFrontend),
			"--backend", u.endpoint(offsetBackend),
			"--xsub", u.endpoint(offsetXSub),
			"--xpub", u.endpoint(offsetXPub),
			"--lang", u.lang},
			restart: u.cfg.Restart},
	}
	for i := 1; i <= u.cfg.Servers; i++ {
		name := fmt.Sprintf("server-%d", i)
		addr := u.endpoint(offsetServers + i - 1)
		args := []string{"server",
			"--name", name,
			// server-N gets rank N, so the last server coordinates, as
			// people expect when they stop and start it.
			"--rank", strconv.Itoa(i),
			"--addr", addr,
			"--bind", addr,
			"--data", filepath.Join(u.cfg.Data, name),
			"--broker", u.endpoint(offsetBackend),
			"--pub", u.endpoint(offsetXSub),
			"--sub", u.endpoint(offsetXPub),
			"--reference", u.endpoint(offsetReference),
			"--lang", u.lang}
		if u.cfg.Skew {
			args = append(args, "--clock-skew="+skew(i, u.cfg.Servers).String())
		}
		specs = append(specs, childSpec{name: name, args: args, restart: u.cfg.Restart})
	}
	for i := 1; i <= u.cfg.Bots; i++ {
		specs = append(specs, childSpec{name: fmt.Sprintf("bot-%d", i), args: []string{"bot",
			"--user", fmt.Sprintf("bot_%d", i),
			"--broker", u.endpoint(offsetFrontend),
			"--sub", u.endpoint(offsetXPub),
			"--lang", u.lang}})
	}
	return specs
}

// skew is server i's clock skew out of n: evenly spread from -SkewSpread
// to +SkewSpread, and 0 for a single server.
func skew(i, n int) time.Duration {
	if n == 1 {
		return 0
	}
	step := 2 * SkewSpread / time.Duration(n-1)
	return -SkewSpread + time.Duration(i-1)*step
}

// Run starts the cluster, waits for it to serve a login, prints how to
// connect, starts the bots, and runs until ctx is cancelled. It then stops
// the bots, the servers, and last the broker and the reference, and
// returns once every child has exited. A child that exits with
// common.ExitStartFailed at its first start stops the cluster at once, and
// Run returns that child's error. One that exits with it after a restart
// stays down, and the rest of the cluster keeps running.
func (u *Up) Run(ctx context.Context) error {
	if err := u.checkPorts(); err != nil {
		return common.StartFailed(err)
	}
	if err := os.MkdirAll(u.cfg.Data, 0o755); err != nil {
		return &common.StartError{
			Role: "up", Context: "up: failed to create data directory " + u.cfg.Data, Failure: common.CreateFailed,
			Resource: common.DataDirectory, Target: u.cfg.Data, Err: err,
		}
	}
	u.log.Info("starting cluster", "servers", u.cfg.Servers, "bots", u.cfg.Bots, "port_base", u.cfg.PortBase,
		"data", u.cfg.Data, "skew", u.cfg.Skew, "restart", u.cfg.Restart)

	specs := u.specs()
	// The first child that cannot start with its settings stops the
	// cluster, with its error as the cause.
	ctx, stopCluster := context.WithCancelCause(ctx)
	defer stopCluster(nil)
	failed := func(f startFailure) {
		stopCluster(common.StartFailed(fmt.Errorf(textChildStartFailed.In(u.lang), f.name, f.message)))
	}

	var core, servers, bots []*child
	defer func() {
		u.log.Info("stopping cluster")
		// Bots first, so they do not report the servers' departure, then
		// the servers, then the broker and the reference they use.
		u.stopInOrder(bots, servers, core)
		u.log.Info("cluster stopped")
	}()

	for i, spec := range specs {
		if spec.role() == "bot" {
			continue
		}
		c, err := u.startChild(spec, i+1, failed)
		if err != nil {
			return common.StartFailed(err)
		}
		if spec.role() == "server" {
			servers = append(servers, c)
		} else {
			core = append(core, c)
		}
	}

	if !u.waitReady(ctx) {
		return startFailureCause(ctx)
	}
	serving, ok := u.waitServersServing(ctx, servers)
	if !ok {
		return startFailureCause(ctx)
	}
	for i, spec := range specs {
		if spec.role() != "bot" {
			continue
		}
		c, err := u.startChild(spec, i+1, failed)
		if err != nil {
			u.log.Error("bot not started", "name", spec.name, "err", err)
			continue
		}
		bots = append(bots, c)
	}
	u.printReady(slices.Concat(core, servers, bots), serving)

	// With the reference, the broker and every server gone for good, there
	// is no cluster left to keep bots for.
	gone := make(chan struct{})
	go func() {
		for _, c := range slices.Concat(core, servers) {
			<-c.done
		}
		close(gone)
	}()
	select {
	case <-ctx.Done():
		return startFailureCause(ctx)
	case <-gone:
		// A child calls failed before it counts as gone.
		if err := startFailureCause(ctx); err != nil {
			return err
		}
		u.log.Error("every server, the broker and the reference have exited")
		return errors.New(textAllExited.In(u.lang))
	}
}

var textAllExited = lang.Text{
	PT: "up: todos os servidores, o broker e a referência terminaram",
	EN: "up: every server, the broker and the reference have exited",
}

var textChildStartFailed = lang.Text{
	PT: "up: %s não pôde iniciar, e o cluster foi encerrado: %s",
	EN: "up: %s could not start, so the cluster was stopped: %s",
}

var textChildRestartFailed = lang.Text{
	PT: "up: %s não pôde reiniciar e fica parado, enquanto o resto do cluster continua: %s",
	EN: "up: %s could not restart and stays down, while the rest of the cluster keeps running: %s",
}

// startFailureCause returns the error of the child whose start failure
// cancelled ctx, or nil when ctx ended for another reason, such as Ctrl-C.
func startFailureCause(ctx context.Context) error {
	if cause := context.Cause(ctx); common.IsStartFailure(cause) {
		return cause
	}
	return nil
}

var textPortTaken = lang.Text{
	PT: "up: a porta %d não está livre (outro msgsys up está rodando? escolha outras portas com --port-base): %s",
	EN: "up: port %d is not free (is another msgsys up running? choose other ports with --port-base): %s",
}

// checkPorts fails early, with the port named, when a port the cluster
// needs is taken, such as by another msgsys up.
func (u *Up) checkPorts() error {
	for _, port := range u.ports() {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf(textPortTaken.In(u.lang), port, lang.SystemError(err, u.lang))
		}
		ln.Close()
	}
	return nil
}

// startChild starts one child and its supervisor, which calls failed when
// the child cannot start with its settings. index picks the tag's colour.
func (u *Up) startChild(spec childSpec, index int, failed func(startFailure)) (*child, error) {
	c := &child{
		spec:         spec,
		exe:          u.cfg.Executable,
		env:          u.childEnv(),
		stdout:       u.out.writer(spec.name, index),
		stderr:       u.out.writer(spec.name, index),
		log:          u.log,
		restartDelay: u.cfg.RestartDelay,
		stopTimeout:  u.cfg.StopTimeout,
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
		failed:       failed,
		restartFailed: func(f startFailure) {
			u.out.writeText(fmt.Sprintf(textChildRestartFailed.In(u.lang), f.name, f.message) + "\n")
		},
	}
	r, err := c.start()
	if err != nil {
		return nil, err
	}
	go c.supervise(r)
	return c, nil
}

// childEnv is this process's environment with the log settings and
// Config.Env added; later entries win.
func (u *Up) childEnv() []string {
	env := append(os.Environ(),
		"MSGSYS_LOG_LEVEL="+u.cfg.LogLevel,
		"MSGSYS_LOG_FORMAT="+u.cfg.LogFormat)
	// The reference, the broker, the servers and the bots share the CPUs.
	env = append(env, common.ChildProcs(u.cfg.Servers+u.cfg.Bots+2)...)
	return append(env, u.cfg.Env...)
}

// stopInOrder stops each group of children after the previous group has
// exited. The children of a group stop in parallel, and each gets SIGKILL
// only when it has not exited StopTimeout after its own SIGTERM.
func (u *Up) stopInOrder(groups ...[]*child) {
	for _, group := range groups {
		var wg sync.WaitGroup
		for _, c := range group {
			close(c.stop)
			wg.Go(func() { <-c.done })
		}
		wg.Wait()
	}
}

// newLogger is a logger like every role's, written to w.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	if strings.EqualFold(format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts)).With("role", "up")
	}
	return slog.New(slog.NewTextHandler(w, opts)).With("role", "up")
}
