// Package probe is `msgsys probe`, the check that container healthchecks
// run. It sends one handshake or request to a broker, reference or server
// and returns an error when the process is not ready, so the command
// exits 1.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/go-zeromq/zmq4"

	"msgsys/proto"
	"msgsys/roles/server"
)

// Roles that can be probed.
const (
	RoleBroker    = "broker"
	RoleReference = "reference"
	RoleServer    = "server"
)

// DefaultTimeout bounds the whole probe: connecting, the handshake and the
// reply.
const DefaultTimeout = 2 * time.Second

// serviceStatus is the server-to-server service that returns a
// server.StatusReply.
const serviceStatus = "status"

// defaultEndpoints are the standard ports of each role on this host.
var defaultEndpoints = map[string]string{
	RoleBroker:    "tcp://127.0.0.1:5555",
	RoleReference: "tcp://127.0.0.1:5559",
	RoleServer:    "tcp://127.0.0.1:5560",
}

// ErrUnhealthy means the process replied but is not ready, such as a
// server that has not started serving clients.
var ErrUnhealthy = errors.New("probe: unhealthy")

// Config configures one probe.
type Config struct {
	// Role picks the check. RoleBroker completes a ZeroMQ handshake with
	// the broker's client side as a REQ socket. RoleReference requests the
	// list of servers. RoleServer requests the server's status and
	// requires that it serves clients.
	Role string
	// ClusterKey is presented to a server's endpoint when set.
	ClusterKey string
	// Endpoint is the address probed. Empty means the role's standard
	// port on 127.0.0.1.
	Endpoint string
	// Timeout bounds the whole probe.
	Timeout time.Duration
	// Out receives one line on success. Nil means os.Stdout.
	Out io.Writer

	Clocks proto.Clocks
	Log    *slog.Logger
}

// DefaultConfig returns a probe of the local server.
func DefaultConfig() Config {
	return Config{
		Role:    RoleServer,
		Timeout: DefaultTimeout,
		Clocks:  proto.NewClocks(),
	}
}

// Probe checks one process.
type Probe struct {
	cfg Config
}

// New validates cfg and fills the role's standard endpoint when Endpoint
// is empty. It connects nothing.
func New(cfg Config) (*Probe, error) {
	fallback, ok := defaultEndpoints[cfg.Role]
	if !ok {
		return nil, fmt.Errorf("probe: invalid role %q: use broker, reference or server", cfg.Role)
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = fallback
	}
	if cfg.Timeout <= 0 {
		return nil, fmt.Errorf("probe: timeout %v must be positive", cfg.Timeout)
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
	return &Probe{cfg: cfg}, nil
}

// Run probes once and prints one line when the check passes. It returns
// an error naming the endpoint when the process is unreachable, sends an
// unexpected reply or is not ready.
func (p *Probe) Run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()

	var (
		line string
		err  error
	)
	switch p.cfg.Role {
	case RoleBroker:
		line, err = p.broker(ctx)
	case RoleReference:
		line, err = p.reference(ctx)
	default:
		line, err = p.server(ctx)
	}
	if err != nil {
		return fmt.Errorf("probe: %s at %s: %w", p.cfg.Role, p.cfg.Endpoint, err)
	}
	_, err = fmt.Fprintln(p.cfg.Out, line)
	return err
}

// broker completes a handshake as a REQ socket, which fails unless the
// peer is a REP or ROUTER socket. It sends no request, because a request
// would reach a server, and the broker is healthy before any server
// connects.
func (p *Probe) broker(ctx context.Context) (string, error) {
	conn, err := proto.Dial(ctx, p.cfg.Endpoint, zmq4.Req, p.cfg.Timeout)
	if err != nil {
		return "", err
	}
	if err := conn.Close(); err != nil {
		p.cfg.Log.Debug("close after handshake failed", "endpoint", p.cfg.Endpoint, "err", err)
	}
	return fmt.Sprintf("ok: broker at %s accepts clients", p.cfg.Endpoint), nil
}

// reference requests the list of available servers.
func (p *Probe) reference(ctx context.Context) (string, error) {
	var reply proto.ListReply
	if err := p.request(ctx, proto.ServiceList, &reply); err != nil {
		return "", err
	}
	return fmt.Sprintf("ok: reference at %s lists %d available servers", p.cfg.Endpoint, len(reply.List)), nil
}

// server requests the server's status and requires that it serves
// clients, which a server does once it has a rank and has caught up.
func (p *Probe) server(ctx context.Context) (string, error) {
	var reply server.StatusReply
	if err := p.request(ctx, serviceStatus, &reply); err != nil {
		return "", err
	}
	if !reply.Serving {
		return "", fmt.Errorf("%w: %s (rank %d) is not serving clients yet", ErrUnhealthy, reply.Name, reply.Rank)
	}
	coordinator := reply.Coordinator
	if coordinator == "" {
		coordinator = "none yet"
	}
	return fmt.Sprintf("ok: server %s (rank %d) at %s serves clients, coordinator %s",
		reply.Name, reply.Rank, p.cfg.Endpoint, coordinator), nil
}

// request sends an empty request for service and decodes the reply into
// out. An error reply becomes an error carrying its description.
func (p *Probe) request(ctx context.Context, service string, out any) error {
	frame, err := proto.Encode(service, &proto.EmptyRequest{}, p.cfg.Clocks.Meta())
	if err != nil {
		return err
	}
	key := ""
	if p.cfg.Role == RoleServer {
		key = p.cfg.ClusterKey
	}
	requester := proto.NewKeyedRequester(p.cfg.Endpoint, key)
	defer requester.Close()
	payload, err := requester.Request(ctx, frame, p.cfg.Timeout)
	if err != nil {
		return err
	}

	env, err := proto.Decode(payload)
	if err != nil {
		return fmt.Errorf("invalid reply: %w", err)
	}
	if _, err := p.cfg.Clocks.Witness(env.Data); err != nil {
		return fmt.Errorf("invalid reply: %w", err)
	}
	if status, ok, _ := env.Data.OptString("status"); ok && status == proto.StatusError {
		description, _, _ := env.Data.OptString("description")
		return fmt.Errorf("%w: %s rejected: %s", ErrUnhealthy, service, description)
	}
	if env.Service != service {
		return fmt.Errorf("reply to %s has service %q", service, env.Service)
	}
	if _, err := proto.DecodeInto(payload, out); err != nil {
		return fmt.Errorf("invalid %s reply: %w", service, err)
	}
	p.cfg.Log.Debug("probe reply", "service", service, "endpoint", p.cfg.Endpoint)
	return nil
}
