// Package broker runs msgsys's two relays: the request broker, which
// spreads client requests round-robin over the connected servers and
// routes each reply back to its client, and the pub/sub proxy, which fans
// servers' publications out to subscribers by prefix-matched topics.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/common"
)

// Config is the configuration of a Broker.
type Config struct {
	// Frontend is the endpoint that clients connect REQ or DEALER sockets
	// to, and Backend the one servers connect REP or DEALER sockets to.
	// Both empty disable the request broker.
	Frontend string
	Backend  string
	// XSub is the endpoint servers connect PUB sockets to, and XPub the
	// one subscribers connect SUB sockets to. Both empty disable the proxy.
	XSub string
	XPub string

	// RequestTimeout is how long a server may take to reply before the
	// client gets an error reply and the server is marked stalled.
	RequestTimeout time.Duration
	// QueueTimeout is how long a request may wait for a free server while
	// every connected server is at its limit of requests in flight or no
	// server is connected. With zero, such requests get an error reply at
	// once.
	QueueTimeout time.Duration
	// HedgeAfter is how long a retry-safe request (a read, or a write
	// with an id) waits for its server before the broker sends it
	// to a second server too. The first reply wins. Zero turns this off.
	HedgeAfter time.Duration
	// ServerCredit is the max number of requests in flight to one server
	// that connects a DEALER or ROUTER socket. A REP server gets one.
	ServerCredit int
	// SubscriberQueue is the max number of publications queued for one
	// subscriber. Beyond it, that subscriber's publications are dropped.
	SubscriberQueue int
	// Lang is the language of the descriptions in the broker's own error
	// replies and of New's errors: "pt" or "en" (see lang.Pick).
	Lang string
	// ClusterKey, when set, is required of the servers that connect to
	// Backend and of the publishers that connect to XSub, as servers
	// require it of each other (proto.DialKey).
	ClusterKey string

	Log    *slog.Logger
	Clocks proto.Clocks
}

// Default values of Config fields, and fixed limits.
const (
	DefaultRequestTimeout = 3 * time.Second
	DefaultQueueTimeout   = 100 * time.Millisecond
	// DefaultHedgeAfter is above a write's longest wait for a peer that
	// stopped replying (the servers' --ack-timeout, 500 ms), so that a
	// slow peer does not double the cluster's load, and well below the
	// request timeout.
	DefaultHedgeAfter = time.Second
	// minHedgeAfter keeps a typo such as 1ms from sending most requests
	// to two servers.
	minHedgeAfter          = 10 * time.Millisecond
	DefaultServerCredit    = 64
	DefaultSubscriberQueue = 10000
	// maxWaiting and maxWaitingBytes bound the requests that wait for a
	// free server, by count and by the size of their frames, so that
	// clients sending requests of 1 MiB while no server is connected
	// cannot make the broker hold gigabytes.
	maxWaiting      = 4096
	maxWaitingBytes = 64 << 20
	// clientQueue bounds the replies queued for one client connection.
	clientQueue = 1024
)

// DefaultConfig returns the standard ports and limits.
func DefaultConfig() Config {
	return Config{
		Frontend:        "tcp://*:5555",
		Backend:         "tcp://*:5556",
		XSub:            "tcp://*:5557",
		XPub:            "tcp://*:5558",
		RequestTimeout:  DefaultRequestTimeout,
		QueueTimeout:    DefaultQueueTimeout,
		HedgeAfter:      DefaultHedgeAfter,
		ServerCredit:    DefaultServerCredit,
		SubscriberQueue: DefaultSubscriberQueue,
		Lang:            lang.PT,
		Clocks:          proto.NewClocks(),
	}
}

// Errors of the configuration, which name the command's flags.
var (
	textPairIncomplete = lang.Text{
		PT: "broker: defina --%s e --%s juntos, ou deixe os dois vazios",
		EN: "broker: set both --%s and --%s, or neither",
	}
	textNothingToRun = lang.Text{
		PT: "broker: nada para executar: defina --frontend e --backend, --xsub e --xpub, ou os quatro",
		EN: "broker: nothing to run: set --frontend and --backend, --xsub and --xpub, or all four",
	}
	textRequestTimeoutInvalid = lang.Text{
		PT: "broker: --request-timeout precisa ser positivo, como 3s, e não %v",
		EN: "broker: --request-timeout must be positive, such as 3s, not %v",
	}
	textQueueTimeoutInvalid = lang.Text{
		PT: "broker: --queue-timeout precisa ser 0 ou mais, e não %v",
		EN: "broker: --queue-timeout must be 0 or more, not %v",
	}
	textHedgeAfterInvalid = lang.Text{
		PT: "broker: --hedge-after precisa ser 0 (desligado) ou pelo menos 10ms, como 1s, e não %v",
		EN: "broker: --hedge-after must be 0 (off) or at least 10ms, such as 1s, not %v",
	}
	textServerCreditInvalid = lang.Text{
		PT: "broker: --server-credit precisa ser pelo menos 1, e não %d",
		EN: "broker: --server-credit must be at least 1, not %d",
	}
	textSubscriberQueueInvalid = lang.Text{
		PT: "broker: --subscriber-queue precisa ser pelo menos 1, e não %d",
		EN: "broker: --subscriber-queue must be at least 1, not %d",
	}
)

// validate checks cfg and fills a missing logger and clocks. Its errors
// name the command's flags in the language of cfg.Lang, because a person
// reads them at start.
func (cfg *Config) validate() error {
	l, err := lang.Parse(cfg.Lang)
	if err != nil {
		return fmt.Errorf("broker: --lang: %w", err)
	}
	cfg.Lang = l

	switch {
	case (cfg.Frontend == "") != (cfg.Backend == ""):
		return fmt.Errorf(textPairIncomplete.In(l), "frontend", "backend")
	case (cfg.XSub == "") != (cfg.XPub == ""):
		return fmt.Errorf(textPairIncomplete.In(l), "xsub", "xpub")
	case cfg.Frontend == "" && cfg.XSub == "":
		return errors.New(textNothingToRun.In(l))
	case cfg.RequestTimeout <= 0:
		return fmt.Errorf(textRequestTimeoutInvalid.In(l), cfg.RequestTimeout)
	case cfg.QueueTimeout < 0:
		return fmt.Errorf(textQueueTimeoutInvalid.In(l), cfg.QueueTimeout)
	case cfg.HedgeAfter != 0 && cfg.HedgeAfter < minHedgeAfter:
		return fmt.Errorf(textHedgeAfterInvalid.In(l), cfg.HedgeAfter)
	case cfg.ServerCredit < 1:
		return fmt.Errorf(textServerCreditInvalid.In(l), cfg.ServerCredit)
	case cfg.SubscriberQueue < 1:
		return fmt.Errorf(textSubscriberQueueInvalid.In(l), cfg.SubscriberQueue)
	}

	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clocks.Lamport == nil || cfg.Clocks.Physical == nil {
		cfg.Clocks = proto.NewClocks()
	}
	return nil
}

// Broker is the request broker and the pub/sub proxy of one process.
type Broker struct {
	cfg Config
	log *slog.Logger

	frontend *proto.Listener // nil when the request broker is disabled
	backend  *proto.Listener
	xsub     *proto.Listener // nil when the proxy is disabled
	xpub     *proto.Listener

	table     *table        // servers and their pending requests
	fanout    *fanout       // subscribers and their subscriptions
	clientSeq atomic.Uint32 // last client identity number

	badRequests proto.RateLog // client requests rejected with an error reply
	malformed   proto.RateLog // client messages dropped for lack of a delimiter or a body
	badReplies  proto.RateLog // malformed or unexpected server replies
	lostReplies proto.RateLog // replies dropped because a client's queue was full
	recvFailed  proto.RateLog // connections closed over a message too large to read
	slowServers proto.RateLog // servers whose requests went to a second server
}

// New validates cfg and binds every enabled endpoint, so that a port in use
// fails here and tests can read the bound endpoints before Run. Run closes
// the listeners, and Close does when Run is never called.
func New(cfg Config) (*Broker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Broker{cfg: cfg, log: cfg.Log}

	type binding struct {
		endpoint string
		typ      zmq4.SocketType
		target   **proto.Listener
		name     string
		resource common.Resource
	}
	bindings := []binding{
		{cfg.Frontend, proto.Router, &b.frontend, "frontend", common.ClientPort},
		{cfg.Backend, proto.Dealer, &b.backend, "backend", common.ServerPort},
		{cfg.XSub, proto.XSub, &b.xsub, "xsub", common.PublisherPort},
		{cfg.XPub, proto.XPub, &b.xpub, "xpub", common.SubscriberPort},
	}
	// Every endpoint is checked before any is bound, so that a mistake in
	// the last one does not open and close the others first.
	for _, bind := range bindings {
		if bind.endpoint == "" {
			continue
		}
		if err := proto.CheckBind(bind.endpoint); err != nil {
			return nil, &common.StartError{
				Role: "broker", Context: "broker: " + bind.name,
				Resource: bind.resource, Target: bind.endpoint, Err: err,
			}
		}
	}
	for _, bind := range bindings {
		if bind.endpoint == "" {
			continue
		}
		ln, err := proto.Listen(bind.endpoint, bind.typ, b.log.With("side", bind.name))
		if err != nil {
			b.Close()
			return nil, &common.StartError{
				Role: "broker", Context: "broker: " + bind.name,
				Resource: bind.resource, Target: bind.endpoint, Err: err,
			}
		}
		*bind.target = ln
	}

	if b.frontend != nil {
		b.backend.RequireKey(cfg.ClusterKey)
		b.table = newTable(cfg)
	}
	if b.xsub != nil {
		b.xsub.RequireKey(cfg.ClusterKey)
		b.fanout = newFanout(b.log)
	}
	return b, nil
}

// Close closes the listeners. Run does it too when ctx is cancelled.
func (b *Broker) Close() error {
	for _, ln := range []*proto.Listener{b.frontend, b.backend, b.xsub, b.xpub} {
		if ln != nil {
			ln.Close()
		}
	}
	return nil
}

// FrontendEndpoint is the bound client endpoint, or "" when disabled.
func (b *Broker) FrontendEndpoint() string { return endpointOf(b.frontend) }

// BackendEndpoint is the bound server endpoint, or "" when disabled.
func (b *Broker) BackendEndpoint() string { return endpointOf(b.backend) }

// XSubEndpoint is the bound publisher endpoint, or "" when disabled.
func (b *Broker) XSubEndpoint() string { return endpointOf(b.xsub) }

// XPubEndpoint is the bound subscriber endpoint, or "" when disabled.
func (b *Broker) XPubEndpoint() string { return endpointOf(b.xpub) }

func endpointOf(ln *proto.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Endpoint()
}

// Run serves every enabled side until ctx is cancelled, then closes every
// connection, waits for every goroutine it started and returns nil.
func (b *Broker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	start := func(fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn()
		}()
	}

	if b.frontend != nil {
		b.log.Info("request broker started", "frontend", b.frontend.Bound(), "backend", b.backend.Bound(),
			"request_timeout", b.cfg.RequestTimeout, "hedge_after", b.cfg.HedgeAfter, "server_credit", b.cfg.ServerCredit)
		if b.cfg.HedgeAfter >= b.cfg.RequestTimeout {
			b.log.Warn("requests never go to a second server, --hedge-after is not below --request-timeout",
				"hedge_after", b.cfg.HedgeAfter, "request_timeout", b.cfg.RequestTimeout)
		}
		start(func() { b.frontend.Serve(ctx, b.serveClient) })
		start(func() { b.backend.Serve(ctx, b.serveServer) })
		start(func() { b.expireLoop(ctx) })
	}
	if b.xsub != nil {
		b.log.Info("pub/sub proxy started", "xsub", b.xsub.Bound(), "xpub", b.xpub.Bound(),
			"subscriber_queue", b.cfg.SubscriberQueue)
		start(func() { b.xsub.Serve(ctx, b.servePublisher) })
		start(func() { b.xpub.Serve(ctx, b.serveSubscriber) })
	}
	wg.Wait()
	b.log.Info("broker stopped")
	return nil
}
