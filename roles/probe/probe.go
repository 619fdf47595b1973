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

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/broker"
	"msgsys/roles/common"
	"msgsys/roles/server"
)

// Roles that can be probed.
const (
	RoleBroker    = "broker"
	RoleReference = "reference"
	RoleServer    = "server"
)

// Default bounds of the whole probe: connecting, the handshake and the
// reply.
const (
	// DefaultTimeout bounds the probe of a reference or a server.
	DefaultTimeout = 2 * time.Second
	// DefaultBrokerTimeout bounds the probe of a broker. While servers are
	// connected but do not reply, the broker replies only once its
	// request timeout has passed, with an error of its own, so the probe
	// waits a second longer than the broker's default request timeout.
	DefaultBrokerTimeout = broker.DefaultRequestTimeout + time.Second
)

// serviceStatus is the server-to-server service that returns a
// server.StatusReply.
const serviceStatus = "status"

// defaultEndpoints are the standard ports of each role on this host.
var defaultEndpoints = map[string]string{
	RoleBroker:    "tcp://127.0.0.1:5555",
	RoleReference: "tcp://127.0.0.1:5559",
	RoleServer:    "tcp://127.0.0.1:5560",
}

var (
	// ErrUnhealthy means the process replied but is not ready, such as a
	// server that has not started serving clients.
	ErrUnhealthy = errors.New("probe: unhealthy")
	// ErrWrongRole means the process replied as a process of another role
	// does, such as a reference probed as a broker.
	ErrWrongRole = errors.New("probe: wrong role")
)

// Config configures one probe.
type Config struct {
	// Role picks the check. RoleBroker sends a channels request to the
	// broker's client side and requires a reply under that service, which
	// only a broker sends. RoleReference requests the list of servers.
	// RoleServer requests the server's status and requires that it serves
	// clients.
	Role string
	// ClusterKey is presented to a server's endpoint or to the reference
	// when set.
	ClusterKey string
	// Endpoint is the address probed. Empty means the role's standard
	// port on 127.0.0.1.
	Endpoint string
	// Timeout bounds the whole probe. Zero means the role's default:
	// DefaultBrokerTimeout for a broker, DefaultTimeout for the others.
	Timeout time.Duration
	// Out receives one line on success. Nil means os.Stdout.
	Out io.Writer

	Clocks proto.Clocks
	Log    *slog.Logger
}

// DefaultConfig returns a probe of the local server with the role's
// default timeout.
func DefaultConfig() Config {
	return Config{
		Role:   RoleServer,
		Clocks: proto.NewClocks(),
	}
}

// Probe checks one process.
type Probe struct {
	cfg Config
}

// New validates cfg and fills the role's standard endpoint when Endpoint
// is empty, and the role's default timeout when Timeout is zero. It
// connects nothing.
func New(cfg Config) (*Probe, error) {
	fallback, ok := defaultEndpoints[cfg.Role]
	if !ok {
		return nil, fmt.Errorf("probe: invalid role %q: use broker, reference or server", cfg.Role)
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = fallback
	}
	if !common.Dialable(cfg.Endpoint) {
		return nil, fmt.Errorf("probe: invalid --endpoint %q: use tcp://HOST:PORT", cfg.Endpoint)
	}
	switch {
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("probe: invalid --timeout %v: use a positive duration, or 0 for the role's default", cfg.Timeout)
	case cfg.Timeout == 0 && cfg.Role == RoleBroker:
		cfg.Timeout = DefaultBrokerTimeout
	case cfg.Timeout == 0:
		cfg.Timeout = DefaultTimeout
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
// unexpected reply or is not ready. The error's text is English in every
// language, errors of the operating system included.
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
		return englishError{fmt.Errorf("probe: %s at %s: %w", p.cfg.Role, p.cfg.Endpoint, err)}
	}
	_, err = fmt.Fprintln(p.cfg.Out, line)
	return err
}

// englishError is an error whose text stays English when main describes
// it in the person's language, as lang.Describe otherwise would the error
// of the operating system inside it. probe writes for engineers and the
// logs of healthchecks, in English.
type englishError struct{ error }

// Describe returns the English text in every language.
func (e englishError) Describe(string) string { return e.Error() }

func (e englishError) Unwrap() error { return e.error }

// broker sends a read-only channels request and requires the reply to
// come under the service channels. A broker forwards the request to a
// server, or replies under that service itself when no server is
// connected, so the broker passes before any server connects. It also
// replies itself when the servers it forwarded to do not reply within its
// --request-timeout, which DefaultBrokerTimeout outlasts, so the broker
// passes while its servers are frozen. A reference and a server's own
// endpoint reply under "error", because they serve no channels request.
func (p *Probe) broker(ctx context.Context) (string, error) {
	env, err := p.exchange(ctx, proto.ServiceChannels, "")
	if err != nil {
		return "", err
	}
	status, _, _ := env.Data.OptString("status")
	switch {
	case env.Service != proto.ServiceChannels:
		// The reply's description is left out: a reference or a server
		// writes it in its own language.
		return "", fmt.Errorf("%w: the reply to %s has service %q, which a broker never sends",
			ErrWrongRole, proto.ServiceChannels, env.Service)
	case status == proto.StatusError:
		return fmt.Sprintf("ok: broker at %s accepts clients and replied: %s", p.cfg.Endpoint, description(env.Data)), nil
	}
	return fmt.Sprintf("ok: broker at %s accepts clients, and a server replied through it", p.cfg.Endpoint), nil
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
	// The broker's client side takes no key; a server's endpoint and
	// the reference require it when the cluster has one.
	key := ""
	if p.cfg.Role == RoleServer || p.cfg.Role == RoleReference {
		key = p.cfg.ClusterKey
	}
	env, err := p.exchange(ctx, service, key)
	if err != nil {
		return err
	}
	if status, ok, _ := env.Data.OptString("status"); ok && status == proto.StatusError {
		return fmt.Errorf("%w: %s rejected: %s", ErrUnhealthy, service, description(env.Data))
	}
	if env.Service != service {
		return fmt.Errorf("reply to %s has service %q", service, env.Service)
	}
	if _, err := proto.DecodeInto(env.Payload, out); err != nil {
		return fmt.Errorf("invalid %s reply: %w", service, err)
	}
	p.cfg.Log.Debug("probe reply", "service", service, "endpoint", p.cfg.Endpoint)
	return nil
}

// exchange sends an empty request for service, presenting key when it is
// set, and returns the decoded reply. The request names English as its
// language, so that msgsys brokers and servers describe errors in English.
func (p *Probe) exchange(ctx context.Context, service, key string) (reply, error) {
	meta := p.cfg.Clocks.Meta()
	meta.Lang = lang.EN
	frame, err := proto.Encode(service, &proto.EmptyRequest{}, meta)
	if err != nil {
		return reply{}, err
	}
	requester := proto.NewKeyedRequester(p.cfg.Endpoint, key)
	defer requester.Close()
	// The whole probe, handshake included, has Timeout.
	requester.SetDialTimeout(p.cfg.Timeout)
	payload, err := requester.Request(ctx, frame, p.cfg.Timeout)
	if errors.Is(err, proto.ErrTimeout) {
		return reply{}, fmt.Errorf("%w after %v", err, p.cfg.Timeout)
	}
	if err != nil {
		return reply{}, err
	}

	env, err := proto.Decode(payload)
	if err != nil {
		return reply{}, fmt.Errorf("invalid reply: %w", err)
	}
	if _, err := p.cfg.Clocks.Witness(env.Data); err != nil {
		return reply{}, fmt.Errorf("invalid reply: %w", err)
	}
	return reply{Envelope: env, Payload: payload}, nil
}

// reply is a decoded reply with its encoded form.
type reply struct {
	proto.Envelope
	Payload []byte
}

// description returns an error reply's explanation, which msgsys puts
// under "description" or "message" depending on the service.
func description(data proto.Data) string {
	for _, key := range []string{"description", "message"} {
		if text, ok, _ := data.OptString(key); ok && text != "" {
			return text
		}
	}
	return "no description"
}
