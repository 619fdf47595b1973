// Package reference is the reference service: it gives each msgsys server a
// rank that stays the same for the server's name forever, and lists the
// servers whose heartbeats are recent. Servers, including other teams'
// servers with libzmq REQ sockets, reach it on one bound ROUTER socket.
//
// Services and their replies, which repeat the request's service name:
//
//	rank       data {user, addr?, rank?} -> {rank}
//	list       data {}                   -> {list: [{name, rank, addr?}, ...]} sorted by rank
//	heartbeat  data {user, addr?, rank?} -> {}
//
// Every reply's data also carries timestamp and clock. A request that cannot
// be served gets {status: "erro", description} under the request's service,
// or under "error" when the service is unreadable or unknown.
package reference

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/common"
)

// Defaults of Config.
const (
	DefaultBind            = "tcp://*:5559"
	DefaultDataDir         = "./data/reference"
	DefaultHeartbeatExpiry = 3 * time.Second
	// DefaultMaxServers is far above the servers of a classroom, where
	// every team runs a few, and keeps a flood of fake names from growing
	// the list replies that every server reads twice a second.
	DefaultMaxServers = 1024
)

// minCheckInterval bounds how often the expiry check runs, so a tiny expiry
// in a test does not make the ticker spin.
const minCheckInterval = 10 * time.Millisecond

// dbFile is the bbolt file inside Config.DataDir.
const dbFile = "reference.db"

// Errors of the reference package.
var (
	// ErrConfig wraps every validation failure of New.
	ErrConfig = errors.New("reference: invalid config")
	// ErrRunTwice is returned by a second call to Run, or by Run after Close.
	ErrRunTwice = errors.New("reference: Run was already called or the reference is closed")
)

// Config configures a reference.
type Config struct {
	// Bind is the endpoint of the ROUTER socket, such as "tcp://*:5559".
	Bind string
	// DataDir is the directory of the registration file. New creates it.
	DataDir string
	// HeartbeatExpiry is how long a server stays available after its last
	// heartbeat or rank request.
	HeartbeatExpiry time.Duration
	// MaxServers is the maximum number of names the registration file
	// holds. Once it holds that many, a rank or heartbeat request from a
	// new name gets an error reply, and registered names keep working.
	MaxServers int
	// ClusterKey, when set, is required of every connection with ZeroMQ's
	// PLAIN mechanism, so that only processes that know it can register,
	// send heartbeats or read the list.
	ClusterKey string
	// Lang is the language of New's errors and of the error descriptions
	// in replies to requests without a lang field: lang.PT or lang.EN.
	Lang string
	// Clocks stamp every reply and witness every request.
	Clocks proto.Clocks
	// Now returns the current time for heartbeat expiry and for
	// forgetting servers. Nil means time.Now. Tests set it to move time
	// forward.
	Now func() time.Time
	// Log receives the reference's events. A nil Log discards them.
	Log *slog.Logger
}

// DefaultConfig returns the configuration of a standard deployment, with
// fresh clocks and a discarding logger.
func DefaultConfig() Config {
	return Config{
		Bind:            DefaultBind,
		DataDir:         DefaultDataDir,
		HeartbeatExpiry: DefaultHeartbeatExpiry,
		MaxServers:      DefaultMaxServers,
		Lang:            lang.PT,
		Clocks:          proto.NewClocks(),
	}
}

// Errors of the configuration, which name the command's flags.
var (
	textBindEmpty = lang.Text{
		PT: "reference: --bind não pode ser vazio",
		EN: "reference: --bind must not be empty",
	}
	textDataEmpty = lang.Text{
		PT: "reference: --data não pode ser vazio",
		EN: "reference: --data must not be empty",
	}
	textExpiryInvalid = lang.Text{
		PT: "reference: --heartbeat-expiry precisa ser positivo, como 3s, e não %v",
		EN: "reference: --heartbeat-expiry must be positive, such as 3s, not %v",
	}
	textMaxServersInvalid = lang.Text{
		PT: "reference: --max-servers precisa ser pelo menos 1, e não %d",
		EN: "reference: --max-servers must be at least 1, not %d",
	}
)

// configError is a validation failure of New, in the language of
// Config.Lang. errors.Is matches it to ErrConfig.
type configError struct{ text string }

func (e *configError) Error() string { return e.text }

func (e *configError) Unwrap() error { return ErrConfig }

// validate checks cfg. The errors of fields that the command sets from
// its flags name the flags in the language of cfg.Lang, because a person
// reads them at start.
func (cfg Config) validate() error {
	// Only a program sets these wrongly: the command parses --lang and
	// makes the clocks.
	switch {
	case cfg.Lang != lang.PT && cfg.Lang != lang.EN:
		return fmt.Errorf("%w: Lang is %q, want %q or %q", ErrConfig, cfg.Lang, lang.PT, lang.EN)
	case cfg.Clocks.Lamport == nil || cfg.Clocks.Physical == nil:
		return fmt.Errorf("%w: Clocks has a nil clock, use proto.NewClocks", ErrConfig)
	}

	l := cfg.Lang
	switch {
	case cfg.Bind == "":
		return &configError{textBindEmpty.In(l)}
	case cfg.DataDir == "":
		return &configError{textDataEmpty.In(l)}
	case cfg.HeartbeatExpiry <= 0:
		return &configError{fmt.Sprintf(textExpiryInvalid.In(l), cfg.HeartbeatExpiry)}
	case cfg.MaxServers <= 0:
		return &configError{fmt.Sprintf(textMaxServersInvalid.In(l), cfg.MaxServers)}
	}
	return nil
}

// Reference is a running or ready reference service.
type Reference struct {
	cfg      Config
	log      *slog.Logger
	listener *proto.Listener
	registry *registry
	rejects  rejectLog
	rankKept proto.RateLog // heartbeats that requested another rank for a registered name
	full     fullLog       // new names rejected because the registry holds MaxServers names
	shared   sharedNames   // names whose heartbeats come from two addresses in turn

	started   atomic.Bool // set by the first Run or by Close
	closeOnce sync.Once
	closeErr  error

	// awake is when, in Unix nanoseconds of the process's own clock, the
	// reference last ran its expiry loop or served a request (see
	// noticeStop).
	awake atomic.Int64
}

// New validates cfg, opens the registration file in cfg.DataDir (creating
// the directory) and binds the ROUTER socket, so Endpoint is known before
// Run. Run releases both when it returns, and Close releases them when
// Run is never called.
func New(cfg Config) (*Reference, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	// The registration file is opened before the port is bound, so an
	// invalid endpoint is rejected before anything is created on disk.
	if err := proto.CheckBind(cfg.Bind); err != nil {
		return nil, &common.StartError{
			Role: "reference", Context: "reference", Failure: common.InvalidEndpoint,
			Resource: common.ServerPort, Target: cfg.Bind, Err: err,
		}
	}
	reg, err := openRegistry(filepath.Join(cfg.DataDir, dbFile), cfg.MaxServers, cfg.Now())
	if err != nil {
		return nil, err
	}
	ln, err := proto.Listen(cfg.Bind, proto.Router, log)
	if err != nil {
		reg.close()
		return nil, &common.StartError{
			Role: "reference", Context: "reference",
			Resource: common.ServerPort, Target: cfg.Bind, Err: err,
		}
	}
	ln.RequireKey(cfg.ClusterKey)

	r := &Reference{cfg: cfg, log: log, listener: ln, registry: reg}
	r.rejects.log = log
	r.full.log = log
	return r, nil
}

// Endpoint is the bound address as a connectable endpoint, with the port
// the system chose when Bind asked for port 0.
func (r *Reference) Endpoint() string { return r.listener.Endpoint() }

// Run serves requests and expires silent servers until ctx is cancelled,
// then stops its goroutines, closes the socket and the registration file,
// and returns. It may be called once.
func (r *Reference) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	r.log.Info("reference started",
		"endpoint", r.listener.Bound(),
		"data", r.cfg.DataDir,
		"servers", r.registry.count(),
		"max_servers", r.cfg.MaxServers,
		"heartbeat_expiry", r.cfg.HeartbeatExpiry,
		"cluster_key", r.cfg.ClusterKey != "",
		"clock", r.lamport())
	if n := r.registry.count(); n >= r.cfg.MaxServers {
		r.log.Warn("registry full, new names will be rejected",
			"servers", n, "max_servers", r.cfg.MaxServers, "clock", r.lamport())
	}

	var wg sync.WaitGroup
	wg.Go(func() { r.cfg.Clocks.Physical.Run(ctx) })
	wg.Go(func() { r.expireLoop(ctx) })
	wg.Go(func() {
		// Serve returns after ctx is done, once every connection is closed
		// and its handler has returned.
		_ = r.listener.Serve(ctx, r.serveConn)
	})
	wg.Wait()
	r.rejects.flush(r.lamport())
	r.full.flush(true, r.lamport())

	err := r.release()
	if err != nil {
		r.log.Error("close registration file failed", "err", err, "clock", r.lamport())
	}
	r.log.Info("reference stopped", "clock", r.lamport())
	return err
}

// Close releases the socket and the registration file of a reference whose
// Run was never called. It does not stop a running Run: cancel its context.
func (r *Reference) Close() error {
	if r.started.CompareAndSwap(false, true) {
		return r.release()
	}
	return nil
}

func (r *Reference) release() error {
	r.closeOnce.Do(func() {
		_ = r.listener.Close()
		r.closeErr = r.registry.close()
	})
	return r.closeErr
}

// expireLoop logs each available server that stops sending heartbeats. The
// list service checks expiry itself, so the loop only decides when the log
// line appears, checking four times per expiry period. It also logs the
// count of registry full rejections that fullLog held back.
func (r *Reference) expireLoop(ctx context.Context) {
	ticker := time.NewTicker(max(r.cfg.HeartbeatExpiry/4, minCheckInterval))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			r.noticeStop()
			for _, s := range r.registry.expire(r.cfg.Now(), r.cfg.HeartbeatExpiry) {
				r.log.Info("server expired", "name", s.Name, "rank", s.Rank, "clock", r.lamport())
			}
			r.full.flush(false, r.lamport())
		}
	}
}

// noticeStop finds out whether the reference itself stood still, stopped
// with SIGSTOP or on a suspended machine, for longer than the heartbeat
// expiry since it last ran. The heartbeats that the servers sent
// meanwhile wait in its sockets, so without a new period every available
// server would expire at once and list replies would name none until
// those heartbeats are read. The process's own clock measures the stop,
// because Config.Now may be a test's.
func (r *Reference) noticeStop() {
	now := time.Now().UnixNano()
	last := r.awake.Swap(now)
	if last == 0 || time.Duration(now-last) <= r.cfg.HeartbeatExpiry {
		return
	}
	renewed := r.registry.renew(r.cfg.Now())
	r.log.Warn("reference resumed after a stop, heartbeats expire anew", "stop_ms", time.Duration(now-last).Milliseconds(), "servers", renewed, "clock", r.lamport())
}

// lamport is the current Lamport clock, for log lines.
func (r *Reference) lamport() uint64 { return r.cfg.Clocks.Lamport.Value() }
