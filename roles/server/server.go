// Package server is the msgsys server role: it serves the client services
// behind the broker, replicates every write to its peers, takes part in
// Bully elections and Berkeley rounds, and registers with the reference.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"msgsys/election"
	"msgsys/lang"
	"msgsys/proto"
	"msgsys/replica"
	"msgsys/roles/common"
	"msgsys/store"
)

// Config configures a server.
type Config struct {
	Name      string // unique server name, such as server-1
	Rank      int64  // 0: ask the reference
	Addr      string // server-to-server endpoint other servers connect to
	Bind      string // endpoint to bind for Addr; empty: Addr's port on every interface
	Data      string // data directory
	Broker    string // broker's backend endpoint
	Pub       string // proxy's publisher side
	Sub       string // proxy's subscriber side
	Reference string // reference service endpoint
	Lang      string // language of error descriptions and of New's errors: "pt" or "en"
	// ClusterKey, when set, is required of every connection to Addr and
	// presented to other servers' endpoints and to the reference
	// (proto.DialKey).
	ClusterKey string

	Clocks proto.Clocks
	Log    *slog.Logger

	// Workers bounds the client requests served at once.
	Workers int
	// HeartbeatEvery is how often the server sends a heartbeat to the
	// reference and refreshes its list of available servers.
	HeartbeatEvery time.Duration
	// RequestTimeout bounds a request to the reference or a peer.
	RequestTimeout time.Duration
	// CatchUpTimeout bounds the catch-up before serving.
	CatchUpTimeout time.Duration
	// MaxPeers is the maximum number of other servers that the server
	// takes from each list reply of the reference as replication peers and
	// election members, and waits for in its catch-up. It keeps those of
	// lowest rank. Each peer costs a connection and a sender of its own.
	// Zero means DefaultMaxPeers, and New rejects values below MinMaxPeers.
	// NOTE: replication keeps a peer for 3 s after it leaves the list, so
	// while listed servers come and go it may track more for those seconds.
	MaxPeers int
	// CatchUpWait bounds how long the catch-up before serving waits for
	// registered servers that are not available or refuse connections.
	// After a restart of the whole cluster they may be starting at the
	// same moment and hold writes this server lacks.
	CatchUpWait time.Duration
	// BerkeleyEvery is the coordinator's synchronisation period; a round
	// also runs after every BerkeleyMessages client messages.
	BerkeleyEvery    time.Duration
	BerkeleyMessages int
	// BerkeleyBound leaves out of the average the readings that stray
	// further than this from the median.
	BerkeleyBound time.Duration
	// AntiEntropyEvery is how often the server pulls what it lacks from
	// one of its peers, a different one each time.
	AntiEntropyEvery time.Duration
	// QuietAfterStop is how long a coordinator decides no channel name
	// after a stop of at least half a second (quietAfterStop).
	QuietAfterStop time.Duration
	// RateLimit is how many writes per second one user may make, with
	// bursts of RateBurst.
	RateLimit float64
	RateBurst int
	// SyncEvery, when positive, acknowledges a write that a peer holds
	// before this server's log is synced, and syncs the log every
	// SyncEvery instead. Zero waits for the sync of each write
	// (docs/replication.md, "Durability choices").
	SyncEvery time.Duration

	Election election.Config
	Replica  replica.Config
}

// DefaultMaxPeers is the default of Config.MaxPeers: several times the
// servers of a classroom where every team registers a few with one
// reference, and a bound on what a flood of fake registrations costs.
const DefaultMaxPeers = 256

// MinMaxPeers is the lowest Config.MaxPeers that a server accepts. A
// server that leaves out a server of higher rank than its own elects a
// coordinator that the others do not, so a cluster of more than
// MaxPeers+1 servers can end up with two coordinators. This minimum keeps
// a limit from being set below a cluster's usual size by mistake.
const MinMaxPeers = 16

// DefaultConfig returns the production settings.
func DefaultConfig() Config {
	return Config{
		Lang:             "pt",
		Workers:          256,
		HeartbeatEvery:   time.Second,
		RequestTimeout:   2 * time.Second,
		CatchUpTimeout:   30 * time.Second,
		CatchUpWait:      3 * time.Second,
		MaxPeers:         DefaultMaxPeers,
		BerkeleyEvery:    10 * time.Second,
		BerkeleyMessages: 10,
		BerkeleyBound:    2 * time.Second,
		AntiEntropyEvery: time.Second,
		QuietAfterStop:   250 * time.Millisecond,
		RateLimit:        200,
		RateBurst:        400,
		Election:         election.DefaultConfig(),
		Replica:          replica.DefaultConfig(),
	}
}

// Server is one running server.
type Server struct {
	cfg    Config
	log    *slog.Logger
	store  *store.Store
	peerLn *proto.Listener
	rank   int64
	origin string

	replica   *replica.Replicator
	node      *election.Node
	publisher *proto.Publisher
	reference *proto.Requester
	peers     *peerClients
	limiter   *rateLimiter

	channelMu sync.Mutex // serialises channel decisions on the coordinator
	serving   atomic.Bool
	started   atomic.Bool // registered and caught up once; serveBroker runs
	// healed carries requests for a catch-up after a partition to
	// catchUpAfterHeals. Its capacity of 1 merges requests.
	healed chan struct{}
	// catchingUp is set while serveBroker catches up after a pause, when
	// the watchdog must not ask for another catch-up.
	catchingUp atomic.Bool
	messages   atomic.Int64 // client posts and direct messages applied
	berkeley   chan struct{}
	ready      chan struct{} // closed once replica and node are set
	awake      atomic.Int64  // Unix nanoseconds of the watchdog's last run
	resumed    *atomic.Int64 // Unix nanoseconds of the last continue after a stop, 0 if none
	lastGap    atomic.Int64  // nanoseconds between the watchdog's last two runs
	// roundLogged is the Unix nanoseconds of the last Berkeley round logged
	// at info level.
	roundLogged atomic.Int64
	quietUntil  atomic.Int64  // Unix nanoseconds until which no channel is decided (quietAfterStop)
	resync      chan struct{} // requests that serveBroker stop serving and catch up
	pauses      atomic.Int64  // pauses followed by a catch-up since the start

	// badInput and rejected hold back log lines about requests that fail,
	// so that a client or a peer sending them in a loop cannot flood the
	// log: malformed requests, and well-formed ones a check rejects.
	badInput   proto.RateLog
	rejected   proto.RateLog
	clockAhead proto.RateLog
	// claimFailed holds back warnings about claims the coordinator did
	// not reply to, one for each channel creation while it is down.
	claimFailed proto.RateLog
	// claimRejected holds back warnings about claims this server rejected
	// because it does not coordinate.
	claimRejected proto.RateLog
	// berkeleyFailed holds back warnings about clocks that a Berkeley
	// round could not read or correct. Rounds follow every 10 messages,
	// so a server that is down but still listed would fill the log.
	berkeleyFailed proto.RateLog

	// noAdjust holds the servers whose last adjust failed with an error
	// reply, left out of Berkeley rounds. noClaims holds the coordinators
	// that replied to claim with an unknown-service error (standard.go).
	noAdjust *peerMarks
	noClaims *peerMarks

	deputyMu          sync.Mutex // guards deputyCoordinator and deputy
	deputyCoordinator string     // coordinator at the last noteDeputy
	deputy            string     // its deputy, or "" when it decides channels itself

	// ignoredPeers is how many servers the last list reply had beyond
	// MaxPeers, and peersIgnored holds back the warnings about them.
	ignoredMu    sync.Mutex
	ignoredPeers int
	peersIgnored proto.RateLog

	// nameShared holds back the warnings that the reference lists this
	// server's name at another address: a second server uses the name.
	nameShared proto.RateLog

	// unknownPeerService holds back warnings about peer requests for a
	// service no server serves, apart from badInput so that a flood of
	// malformed requests cannot hide them.
	unknownPeerService proto.RateLog
}

// New validates cfg, opens the store and binds the server-to-server
// endpoint. Run starts everything else.
func New(cfg Config) (*Server, error) {
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
		return nil, &common.StartError{
			Role: "server", Context: "server: data directory", Failure: common.CreateFailed,
			Resource: common.DataDirectory, Target: cfg.Data, Err: err,
		}
	}
	resumed := new(atomic.Int64)
	storePath := filepath.Join(cfg.Data, "server.db")
	st, err := store.Open(storePath, store.Options{
		Timeout:   2 * time.Second,
		Log:       cfg.Log.With("server", cfg.Name),
		Resumed:   func() time.Time { return time.Unix(0, resumed.Load()) },
		SyncEvery: cfg.SyncEvery,
	})
	if errors.Is(err, store.ErrLocked) {
		return nil, &common.StartError{
			Role: "server", Context: fmt.Sprintf("server: open store in %s (is another server using it?)", cfg.Data),
			Failure: common.Locked, Resource: common.DataDirectory, Target: cfg.Data, Holder: common.AnotherServer, Err: err,
		}
	}
	if errors.Is(err, store.ErrDamaged) {
		return nil, &common.StartError{
			Role: "server", Context: "server: open store in " + cfg.Data, Failure: common.Damaged,
			Resource: common.Database, Target: cfg.Data, Err: err,
			Hint: "move or remove the directory " + cfg.Data + ": at start-up the server copies all data from any other server that is up",
		}
	}
	if err != nil {
		return nil, &common.StartError{
			Role: "server", Context: "server: open store in " + cfg.Data,
			Resource: common.Database, Target: storePath, Err: err,
		}
	}
	logRecovery(cfg.Log.With("server", cfg.Name), storePath, st.Recovery())
	// The clock goes on from the history stored: after a restart of every
	// server, no peer's message would raise it.
	highest, err := st.HighestClock()
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("server: read the stored clock in %s: %w", cfg.Data, err)
	}
	cfg.Clocks.Lamport.Witness(highest)

	ln, err := proto.Listen(cfg.Bind, proto.Router, cfg.Log)
	if err != nil {
		st.Close()
		return nil, &common.StartError{
			Role: "server", Context: "server",
			Resource: common.PeerPort, Target: cfg.Bind, Err: err,
		}
	}
	ln.RequireKey(cfg.ClusterKey)
	if strings.HasSuffix(cfg.Addr, ":0") {
		cfg.Addr = ln.Endpoint()
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Log.With("server", cfg.Name),
		store:     st,
		peerLn:    ln,
		origin:    cfg.Name + "@" + randomID(),
		reference: proto.NewKeyedRequester(cfg.Reference, cfg.ClusterKey),
		publisher: proto.NewPublisher(cfg.Pub, cfg.Log.With("server", cfg.Name, "socket", "pub")),
		limiter:   newRateLimiter(cfg.RateLimit, cfg.RateBurst),
		berkeley:  make(chan struct{}, 1),
		ready:     make(chan struct{}),
		resync:    make(chan struct{}, 1),
		healed:    make(chan struct{}, 1),
		resumed:   resumed,
		noAdjust:  newPeerMarks(),
		noClaims:  newPeerMarks(),
	}
	s.peers = newPeerClients(cfg.ClusterKey)
	return s, nil
}

// logRecovery logs what store.Open did to recover the store at path. Damage
// goes to WARN, because the server then lacks ops until catch-up or
// anti-entropy brings them back from its peers.
func logRecovery(log *slog.Logger, path string, rec store.Recovery) {
	if rec.IsZero() {
		return
	}
	if rec.DamagedFile != "" {
		log.Warn("store file damaged, rebuilt from the log", "path", path, "kept", rec.DamagedFile, "err", rec.FileDamage)
	}
	for _, d := range rec.LogDamage {
		if d.Missing {
			log.Warn("store log segment missing", "segment", d.Segment)
			continue
		}
		log.Warn("store log damaged, records cut", "segment", d.Segment, "offset", d.Offset, "cut_bytes", d.Bytes, "kept", d.Copy)
	}
	log.Info("store recovered", "unclean", rec.Unclean, "rebuilt", rec.Rebuilt, "replayed", rec.Replayed, "seeded", rec.Seeded, "refilled", rec.Refilled, "tail_cut_bytes", rec.TailCut)
}

// MaxSyncEvery bounds Config.SyncEvery, and so the acknowledged writes
// that a crash of every machine holding them at once could lose.
const MaxSyncEvery = time.Second

// Errors of the configuration, which name the command's flags.
var (
	textSettingsMissing = lang.Text{
		PT: "server: faltam valores para %s",
		EN: "server: missing settings: %s",
	}
	textEndpointInvalid = lang.Text{
		PT: "server: %s inválido: %q; use tcp://HOST:PORTA com uma porta de 1 a 65535",
		EN: "server: invalid %s %q: use tcp://HOST:PORT with a port from 1 to 65535",
	}
	textSyncEveryInvalid = lang.Text{
		PT: "server: --sync-every precisa estar entre 0 e %v, e não %v",
		EN: "server: --sync-every must be from 0 to %v, not %v",
	}
)

// peerDialable reports whether peers can dial addr. Port 0 is allowed:
// the server then binds an ephemeral port and registers that one.
func peerDialable(addr string) bool {
	if base, ok := strings.CutSuffix(addr, ":0"); ok {
		addr = base + ":1"
	}
	return common.Dialable(addr)
}

// validate checks cfg and fills its optional fields. Its errors name the
// command's flags in the language of cfg.Lang, because a person reads them
// at start.
func validate(cfg *Config) error {
	l := lang.Pick(cfg.Lang)
	// The server only dials these endpoints.
	dialed := []struct{ flag, value string }{
		{"--broker", cfg.Broker}, {"--pub", cfg.Pub}, {"--sub", cfg.Sub}, {"--reference", cfg.Reference},
	}
	settings := append([]struct{ flag, value string }{
		{"--name", cfg.Name}, {"--addr", cfg.Addr}, {"--data", cfg.Data},
	}, dialed...)
	var missing []string
	for _, setting := range settings {
		if setting.value == "" {
			missing = append(missing, setting.flag)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf(textSettingsMissing.In(l), strings.Join(missing, ", "))
	}
	if _, err := proto.NormalizeName(cfg.Name); err != nil {
		// describe gives the reason as the server's replies to clients do.
		return fmt.Errorf("server: --name %q: %s", cfg.Name, describe(err, l))
	}
	// The server would retry an endpoint that cannot be dialled for ever.
	for _, endpoint := range dialed {
		if !common.Dialable(endpoint.value) {
			return fmt.Errorf(textEndpointInvalid.In(l), endpoint.flag, endpoint.value)
		}
	}
	if cfg.Bind == "" {
		i := strings.LastIndex(cfg.Addr, ":")
		if i < 0 || !strings.HasPrefix(cfg.Addr, "tcp://") {
			return &common.StartError{
				Role: "server", Context: "server", Failure: common.InvalidEndpoint,
				Resource: common.PeerPort, Target: cfg.Addr,
				Err: fmt.Errorf("invalid addr %q: want tcp://HOST:PORT", cfg.Addr),
			}
		}
		cfg.Bind = "tcp://*" + cfg.Addr[i:]
	}
	// New opens the store before it binds the port, so an invalid
	// endpoint is rejected here, before anything is created on disk.
	if err := proto.CheckBind(cfg.Bind); err != nil {
		return &common.StartError{
			Role: "server", Context: "server", Failure: common.InvalidEndpoint,
			Resource: common.PeerPort, Target: cfg.Bind, Err: err,
		}
	}
	// Peers dial --addr, and the reference rejects the registration of an
	// address they cannot dial, such as tcp://*:5560. The server would
	// retry it for ever.
	if !peerDialable(cfg.Addr) {
		return fmt.Errorf(textEndpointInvalid.In(l), "--addr", cfg.Addr)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clocks.Lamport == nil {
		cfg.Clocks = proto.NewClocks()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultConfig().Workers
	}
	if cfg.MaxPeers == 0 {
		cfg.MaxPeers = DefaultMaxPeers
	}
	if cfg.MaxPeers < MinMaxPeers {
		return fmt.Errorf("server: invalid max-peers %d: want at least %d", cfg.MaxPeers, MinMaxPeers)
	}
	if cfg.QuietAfterStop <= 0 {
		cfg.QuietAfterStop = DefaultConfig().QuietAfterStop
	}
	if cfg.SyncEvery < 0 || cfg.SyncEvery > MaxSyncEvery {
		return fmt.Errorf(textSyncEveryInvalid.In(l), MaxSyncEvery, cfg.SyncEvery)
	}
	return nil
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Addr is the server-to-server endpoint peers connect to.
func (s *Server) Addr() string { return s.cfg.Addr }

// Rank is the server's rank once Run has registered it.
func (s *Server) Rank() int64 { return atomic.LoadInt64(&s.rank) }

// Serving reports whether the server has caught up and takes client
// requests from the broker.
func (s *Server) Serving() bool { return s.serving.Load() }

// Store exposes the server's store to tests in this module.
func (s *Server) Store() *store.Store { return s.store }

// Coordinator returns the coordinator this server accepts.
func (s *Server) Coordinator() (election.Announcement, bool) {
	select {
	case <-s.ready:
		return s.node.Coordinator()
	default:
		return election.Announcement{}, false
	}
}

// Run registers with the reference, catches up, and serves until ctx is
// done. It closes the store before returning.
func (s *Server) Run(ctx context.Context) error {
	defer func() {
		s.store.Close()
		s.log.Info("server stopped", "clock", s.cfg.Clocks.Lamport.Value())
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	rank, err := s.register(ctx)
	if err != nil {
		s.peerLn.Close()
		// Stopped before the reference replied: a clean stop.
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	atomic.StoreInt64(&s.rank, rank)
	s.log = s.log.With("rank", rank)
	s.log.Info("server starting", "addr", s.cfg.Addr, "data", s.cfg.Data, "origin", s.origin, "clock", s.cfg.Clocks.Lamport.Value(), "sync_every", s.cfg.SyncEvery)
	if err := s.writeInfo(); err != nil {
		s.log.Warn("server info file not written", "err", err)
	}

	replicaCfg := s.cfg.Replica
	replicaCfg.Name, replicaCfg.Addr, replicaCfg.Origin, replicaCfg.Rank = s.cfg.Name, s.cfg.Addr, s.origin, rank
	replicaCfg.Store, replicaCfg.Clocks, replicaCfg.Log = s.store, s.cfg.Clocks, s.log
	replicaCfg.OnApply = s.countMessages
	replicaCfg.ClusterKey = s.cfg.ClusterKey
	replicaCfg.AckBeforeSync = s.cfg.SyncEvery > 0
	replicaCfg.MaxPeers = s.cfg.MaxPeers
	s.replica = replica.New(replicaCfg)

	electionCfg := s.cfg.Election
	electionCfg.Self = election.Member{Name: s.cfg.Name, Rank: rank, Addr: s.cfg.Addr}
	electionCfg.Transport = &transport{s: s}
	electionCfg.Log = s.log
	electionCfg.MayCoordinate = s.mayCoordinate
	electionCfg.OnMajorityRegained = s.resyncAfterPartition
	s.node = election.New(electionCfg)
	close(s.ready)

	// The peer endpoint serves before catch-up, so that peers can push
	// writes and hold elections while this server catches up.
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.peerLn.Serve(ctx, s.servePeer)
	}()

	members, registered := s.refreshServers(ctx)
	waitFor, skipped := lowestRanks(registered, s.cfg.Name, s.cfg.MaxPeers)
	if len(skipped) > 0 {
		s.log.Warn("registered servers beyond the peer limit not waited for",
			"skipped", len(skipped), "max_peers", s.cfg.MaxPeers, "servers", someNames(skipped))
	}
	start := func(run func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx)
		}()
	}
	start(s.watchResume)
	start(s.replica.Run)
	s.publisher.UseKey(s.cfg.ClusterKey)
	s.publisher.UseIdentity(s.cfg.Name)
	start(s.publisher.Run)
	start(s.cfg.Clocks.Physical.Run)
	start(s.membership)

	expected := replica.Expected{
		Names:  names(waitFor),
		Wait:   s.cfg.CatchUpWait,
		Relist: func(ctx context.Context) []replica.Peer { return toPeers(s.refreshMembers(ctx)) },
	}
	if err := s.replica.CatchUp(ctx, toPeers(members), s.cfg.CatchUpTimeout, expected); err != nil {
		s.log.Warn("serving before catch-up completed", "err", err)
	}
	if ctx.Err() != nil {
		return nil
	}

	s.learnEpoch(ctx)
	s.markAwake()
	start(s.watchdog)
	start(s.node.Run)
	start(s.watchAnnouncements)
	start(s.runBerkeley)
	s.started.Store(true)
	start(s.serveBroker)
	start(func(ctx context.Context) { s.replica.AntiEntropy(ctx, s.cfg.AntiEntropyEvery) })
	start(s.catchUpAfterHeals)

	<-ctx.Done()
	s.serving.Store(false)
	s.reference.Close()
	s.peers.close()
	s.log.Info("server stopping", "clock", s.cfg.Clocks.Lamport.Value())
	return nil
}

// register requests this server's rank from the reference, retrying until
// it replies, because nothing works without one. The server runs with the
// rank the reference returns, also when --rank asked for another, because
// the other servers take its rank from the reference's list. The msgsys
// reference returns another rank only when another name holds the one
// asked for, and two servers with one rank would both win elections.
func (s *Server) register(ctx context.Context) (int64, error) {
	if err := s.checkNameFree(ctx); err != nil {
		return 0, err
	}
	delay := 100 * time.Millisecond
	for {
		rank, err := s.requestRank(ctx)
		if err == nil {
			if s.cfg.Rank > 0 && rank != s.cfg.Rank {
				s.log.Error("rank flag not granted by the reference", "flag", s.cfg.Rank, "rank", rank)
			}
			return rank, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if errors.Is(err, errReferenceRejected) {
			s.log.Warn("rank request rejected", "reference", s.cfg.Reference, "err", err)
		} else {
			s.log.Warn("reference unavailable", "reference", s.cfg.Reference, "err", err)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// info is the record the server writes to its data directory for tools such as
// msgsys dump, which cannot open a store that a running server holds.
type info struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
	PID  int    `json:"pid"`
}

// InfoFile names the file in the data directory that holds info.
const InfoFile = "server.json"

func (s *Server) writeInfo() error {
	data, err := json.Marshal(info{Name: s.cfg.Name, Addr: s.cfg.Addr, PID: os.Getpid()})
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.cfg.Data, InfoFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.cfg.Data, InfoFile))
}

var errNotCoordinator = errors.New("server: not the coordinator")
