// Package common holds what every role's command shares: the logger, the
// signal-aware context and the clock flags.
package common

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"msgsys/clock"
	"msgsys/lang"
	"msgsys/proto"
)

// GlobalFlags are accepted before any command.
func GlobalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"MSGSYS_LOG_LEVEL"}, Usage: HelpText(lang.Text{
			PT: "nível de log: debug, info, warn ou error",
			EN: "log level: debug, info, warn or error",
		})},
		&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"MSGSYS_LOG_FORMAT"}, Usage: HelpText(lang.Text{
			PT: "formato do log: text ou json",
			EN: "log format: text or json",
		})},
	}
}

// Errors of the global flags, which name the values they accept.
var (
	textBadLogLevel = lang.Text{
		PT: "valor inválido %q para --log-level ou MSGSYS_LOG_LEVEL: use debug, info, warn ou error",
		EN: "invalid value %q for --log-level or MSGSYS_LOG_LEVEL: use debug, info, warn or error",
	}
	textBadLogFormat = lang.Text{
		PT: "valor inválido %q para --log-format ou MSGSYS_LOG_FORMAT: use text ou json",
		EN: "invalid value %q for --log-format or MSGSYS_LOG_FORMAT: use text or json",
	}
)

// CheckGlobalFlags rejects a --log-level or --log-format that Logger does
// not know, with an error in language l marked StartFailed. An empty value
// is the default, info or text.
func CheckGlobalFlags(c *cli.Context, l string) error {
	if value := c.String("log-level"); value != "" {
		if _, ok := parseLogLevel(value); !ok {
			return StartFailed(fmt.Errorf(textBadLogLevel.In(l), value))
		}
	}
	if value := c.String("log-format"); value != "" && !strings.EqualFold(value, "text") && !strings.EqualFold(value, "json") {
		return StartFailed(fmt.Errorf(textBadLogFormat.In(l), value))
	}
	return nil
}

// parseLogLevel reads a level as slog does: debug, info, warn or error in
// any case, with an optional offset such as info+2.
func parseLogLevel(value string) (slog.Level, bool) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(value)); err != nil {
		return slog.LevelInfo, false
	}
	return level, true
}

// Logger returns the process logger, writing one event per line to stderr
// and tagged with the role. main rejects the log flags' invalid values
// with CheckGlobalFlags, and Logger reads an empty one as info or text.
func Logger(c *cli.Context, role string) *slog.Logger {
	level, _ := parseLogLevel(c.String("log-level"))
	opts := &slog.HandlerOptions{Level: level}
	var handler slog.Handler
	if strings.EqualFold(c.String("log-format"), "json") {
		handler = slog.NewJSONHandler(os.Stderr, opts)
	} else {
		handler = slog.NewTextHandler(os.Stderr, opts)
	}
	return slog.New(handler).With("role", role)
}

// Context returns a context cancelled on SIGINT or SIGTERM, so every role
// stops cleanly under Ctrl-C, docker stop and msgsys up.
func Context(c *cli.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
}

// ClockFlags perturb a process's physical clock, to show that Berkeley
// synchronisation works.
func ClockFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "clock-skew", EnvVars: []string{"MSGSYS_CLOCK_SKEW"}, Usage: HelpText(lang.Text{
			PT: "desvio inicial do relógio deste processo, como 300ms ou -1s",
			EN: "initial offset of this process's clock, such as 300ms or -1s",
		})},
		&cli.DurationFlag{Name: "clock-jitter", EnvVars: []string{"MSGSYS_CLOCK_JITTER"}, Usage: HelpText(lang.Text{
			PT: "deriva aleatória máxima somada ao relógio a cada poucos segundos",
			EN: "maximum random drift added to the clock every few seconds",
		})},
	}
}

// Clocks builds the process's clocks from ClockFlags. The caller runs
// Physical.Run when jitter is set.
func Clocks(c *cli.Context, log *slog.Logger) proto.Clocks {
	return proto.Clocks{
		Lamport: new(clock.Lamport),
		Physical: clock.NewPhysical(clock.PhysicalConfig{
			Skew:   c.Duration("clock-skew"),
			Jitter: c.Duration("clock-jitter"),
			Logger: log,
		}),
	}
}

// Wait is a helper for commands that wait for a condition with a deadline.
func Wait(ctx context.Context, timeout time.Duration, every time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(every):
		}
	}
	return true
}

// ChildProcs returns the GOMAXPROCS setting for each of n msgsys processes
// that one command starts on this machine, as an environment entry, or
// nothing when the environment already sets GOMAXPROCS. Each process gets
// its share of the CPUs, at least one. A Go process with more processors
// than it keeps busy wakes idle ones to look for work at every hand-off
// between goroutines. On two cores shared by six processes that spinning
// cost about 8 % of the CPU per write (docs/benchmarks.md).
func ChildProcs(n int) []string {
	if _, set := os.LookupEnv("GOMAXPROCS"); set || n < 1 {
		return nil
	}
	share := max(1, (runtime.NumCPU()+n-1)/n)
	return []string{"GOMAXPROCS=" + strconv.Itoa(share)}
}

// gcPercent is the GOGC of servers unless the environment sets GOGC.
// Their live heap is small, so Go's default of collecting each
// time the heap doubles ran a cycle every few hundred writes under load,
// and with one processor per process each cycle held up the requests in
// flight. Collecting at five times the live heap gave publishes a p99 of
// 4.95 ms instead of 5.3 to 5.7 ms, and a server's peak memory during a
// fill of a million messages of about 250 MB instead of 130 MB. The store
// returns the memory once it is idle (docs/benchmarks.md). Brokers keep
// Go's default: a broker relays large publications, and at GOGC=400 one
// grew by 56 MB while it streamed 80 MB past a stuck subscriber.
const gcPercent = 400

// TuneGC applies gcPercent.
func TuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}

// ClusterKeyFlag is the --cluster-key flag of every command that talks to
// servers' server-to-server endpoints or to the reference. See
// proto.DialKey.
func ClusterKeyFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "cluster-key",
		EnvVars: []string{"MSGSYS_CLUSTER_KEY"},
		Usage: HelpText(lang.Text{
			PT: "segredo compartilhado do cluster (ZeroMQ PLAIN), exigido nos endpoints entre servidores, na referência e nos lados do broker e do proxy em que os servidores se conectam; vazio: nenhum",
			EN: "shared secret of the cluster (ZeroMQ PLAIN), required on the server-to-server endpoints, on the reference and on the broker's and proxy's sides that servers connect to; empty: none",
		}),
	}
}

// Dialable reports whether endpoint is tcp://HOST:PORT with a host to
// connect to and a port from 1 to 65535. Any other value would only fail
// on the first request, with an error that retrying cannot fix.
func Dialable(endpoint string) bool {
	hostPort, ok := strings.CutPrefix(endpoint, "tcp://")
	if !ok {
		return false
	}
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil || host == "" || host == "*" {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// textClusterKeyTooLong is the error of a cluster key longer than
// proto.MaxKeyBytes, given as source.
var textClusterKeyTooLong = lang.Text{
	PT: "%s: a chave do cluster em %s tem %d bytes, mas o ZeroMQ PLAIN aceita no máximo %d: use uma chave mais curta",
	EN: "%s: the cluster key in %s is %d bytes long, but ZeroMQ PLAIN accepts at most %d: use a shorter key",
}

// Lang returns the value of the command's --lang flag, "pt" or "en". An
// unsupported value is an error marked StartFailed.
func Lang(c *cli.Context) (string, error) {
	language, err := lang.Parse(c.String("lang"))
	if err != nil {
		return "", StartFailed(err)
	}
	return language, nil
}

// ClusterKey returns the value of ClusterKeyFlag. A key longer than
// proto.MaxKeyBytes is an error of role in language l, marked
// StartFailed, because no peer would ever accept it.
func ClusterKey(c *cli.Context, role, l string) (string, error) {
	key := c.String("cluster-key")
	source := lang.Text{PT: "--cluster-key ou MSGSYS_CLUSTER_KEY", EN: "--cluster-key or MSGSYS_CLUSTER_KEY"}.In(l)
	return key, CheckClusterKey(key, role, source, l)
}

// CheckClusterKey returns an error of role in language l, marked
// StartFailed, when key is longer than proto.MaxKeyBytes. source names
// where the key came from, such as MSGSYS_CLUSTER_KEY.
func CheckClusterKey(key, role, source, l string) error {
	if len(key) <= proto.MaxKeyBytes {
		return nil
	}
	return StartFailed(fmt.Errorf(textClusterKeyTooLong.In(l), role, source, len(key), proto.MaxKeyBytes))
}
