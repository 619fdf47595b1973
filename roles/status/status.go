// Package status is `msgsys status`, an operator's view of the cluster: it
// reads the available servers from the reference, or takes their
// endpoints from Config.Servers, requests each one's state on its
// server-to-server endpoint, and prints one row per server.
package status

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/common"
	"msgsys/roles/server"
)

// serviceStatus is the server-to-server service that returns a
// server.StatusReply.
const serviceStatus = "status"

// Defaults of Config.
const (
	DefaultReference = "tcp://127.0.0.1:5559"
	DefaultTimeout   = time.Second
)

// Config configures a status report.
type Config struct {
	// Reference is the reference service's endpoint.
	Reference string
	// Servers are server-to-server endpoints to request the status of
	// in place of the reference's list, which then is not requested. The
	// rows take each server's name and rank from its own reply.
	Servers []string
	// Timeout bounds each request: the list from the reference and each
	// server's status, which are requested concurrently.
	Timeout time.Duration
	// JSON prints one JSON object instead of the table.
	JSON bool
	// ClusterKey is presented to the reference and to the servers'
	// endpoints when set.
	ClusterKey string
	// Lang is the language of the table and of the errors, lang.PT or
	// lang.EN. When empty, lang.Pick reads LANG. The JSON object does not
	// depend on it.
	Lang string
	// Out receives the report; nil means os.Stdout.
	Out io.Writer

	Clocks proto.Clocks
	Log    *slog.Logger
}

// DefaultConfig returns the settings of a standard local deployment.
func DefaultConfig() Config {
	return Config{
		Reference: DefaultReference,
		Timeout:   DefaultTimeout,
		Clocks:    proto.NewClocks(),
	}
}

// Report is the state of every server the reference lists.
type Report struct {
	Servers []Server `json:"servers"`
}

// Server is one server of the report. Name, Rank and Addr come from the
// reference's list. Status is nil when the server did not reply with its
// status, and Error then contains the reason, untranslated: English,
// except the description in a server's error reply. Reachable is true when
// the server replied, even without a status, as a server of another
// implementation does.
type Server struct {
	Name      string              `json:"name"`
	Rank      int64               `json:"rank"`
	Addr      string              `json:"addr"`
	Reachable bool                `json:"reachable"`
	Error     string              `json:"error,omitempty"`
	Status    *server.StatusReply `json:"status,omitempty"`
	// OffsetMillis is this server's physical clock minus the clock of the
	// coordinator it accepts, in milliseconds. It is nil when either
	// server did not reply or the server has no coordinator.
	OffsetMillis *float64 `json:"offset_from_coordinator_ms,omitempty"`

	// problem is Error explained for people, which the table prints in
	// its language. It is nil in a Server decoded from JSON.
	problem *failure
}

// Status prints a report of the cluster.
type Status struct {
	cfg Config
}

// New validates cfg. It binds and connects nothing.
func New(cfg Config) (*Status, error) {
	cfg.Lang = lang.Pick(cfg.Lang)
	if cfg.Reference == "" {
		return nil, localized{&failure{text: textNoReference}, cfg.Lang}
	}
	if !common.Dialable(cfg.Reference) {
		return nil, localized{&failure{text: textBadReference, args: []any{cfg.Reference}}, cfg.Lang}
	}
	for _, endpoint := range cfg.Servers {
		if !common.Dialable(endpoint) {
			return nil, localized{&failure{text: textBadServer, args: []any{endpoint}}, cfg.Lang}
		}
	}
	if cfg.Timeout <= 0 {
		return nil, localized{&failure{text: textBadTimeout, args: []any{cfg.Timeout}}, cfg.Lang}
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
	return &Status{cfg: cfg}, nil
}

// Run collects the report and prints it. An unreachable server is a row
// of the report, not an error, unless no listed server replied: scripts
// then get a failing exit status, after the report. Run also fails when
// the reference's list cannot be read or the output cannot be written.
func (s *Status) Run(ctx context.Context) error {
	report, err := s.Collect(ctx)
	if err != nil {
		return err
	}
	if s.cfg.JSON {
		enc := json.NewEncoder(s.cfg.Out)
		enc.SetIndent("", "  ")
		err = enc.Encode(report)
	} else {
		err = WriteTable(s.cfg.Out, report, s.cfg.Lang)
	}
	if err != nil {
		return err
	}
	for _, row := range report.Servers {
		if row.Reachable {
			return nil
		}
	}
	if len(report.Servers) > 0 {
		return localized{&failure{text: textNoneReplied}, s.cfg.Lang}
	}
	return nil
}

// Collect requests the available servers from the reference, or takes
// Config.Servers, then each server's state, all servers at once. Its error is in Config.Lang.
func (s *Status) Collect(ctx context.Context) (Report, error) {
	list, err := s.list(ctx)
	if err != nil {
		return Report{}, localized{err, s.cfg.Lang}
	}
	report := Report{Servers: make([]Server, len(list))}
	var wg sync.WaitGroup
	for i, info := range list {
		row := &report.Servers[i]
		row.Name, row.Rank, row.Addr = info.Name, info.Rank, info.Addr
		wg.Go(func() {
			if row.Addr == "" {
				// Servers of other implementations register without
				// an address and have no status service.
				row.problem = &failure{text: textNoAddr}
				row.Error = row.problem.Error()
				return
			}
			if !common.Dialable(row.Addr) {
				// Another implementation's reference may list any text.
				row.problem = &failure{text: textBadAddr, args: []any{row.Addr}}
				row.Error = row.problem.Error()
				return
			}
			reply, err := s.serverStatus(ctx, row.Addr)
			if err != nil {
				s.cfg.Log.Debug("status request failed", "server", row.Name, "addr", row.Addr, "err", err)
				row.Error = err.Error()
				row.problem = explain(err, s.cfg.Timeout)
				// A failure is a reply that carries no status, as from a
				// server of another implementation: the server is up.
				var replied *failure
				row.Reachable = errors.As(err, &replied)
				return
			}
			row.Reachable, row.Status = true, reply
			if row.Name == "" {
				// A server given with --server, which the reference did
				// not list.
				row.Name, row.Rank = reply.Name, reply.Rank
			}
		})
	}
	wg.Wait()
	setOffsets(report.Servers)
	return report, nil
}

// setOffsets fills each row's offset from the coordinator that row's
// server accepts.
func setOffsets(rows []Server) {
	offsets := make(map[string]float64, len(rows))
	for _, row := range rows {
		if row.Status != nil {
			offsets[row.Name] = row.Status.Offset
		}
	}
	for i := range rows {
		row := &rows[i]
		if row.Status == nil || row.Status.Coordinator == "" {
			continue
		}
		coordinator, ok := offsets[row.Status.Coordinator]
		if !ok {
			continue
		}
		millis := (row.Status.Offset - coordinator) * 1000
		row.OffsetMillis = &millis
	}
}

func (s *Status) list(ctx context.Context) ([]proto.ServerInfo, *failure) {
	if len(s.cfg.Servers) > 0 {
		list := make([]proto.ServerInfo, len(s.cfg.Servers))
		for i, endpoint := range s.cfg.Servers {
			list[i].Addr = endpoint
		}
		return list, nil
	}
	var reply proto.ListReply
	if err := s.request(ctx, s.cfg.Reference, s.cfg.ClusterKey, proto.ServiceList, &reply); err != nil {
		return nil, &failure{text: textReferenceFail, args: []any{s.cfg.Reference, explain(err, s.cfg.Timeout)}, cause: err}
	}
	return reply.List, nil
}

func (s *Status) serverStatus(ctx context.Context, addr string) (*server.StatusReply, error) {
	reply := new(server.StatusReply)
	if err := s.request(ctx, addr, s.cfg.ClusterKey, serviceStatus, reply); err != nil {
		return nil, err
	}
	return reply, nil
}

// request sends an empty request for service to endpoint, presenting key
// when it is set, and decodes the reply into out. A transport error is
// returned as it is, and a reply that cannot be used becomes a *failure.
// An error reply's failure carries its description, which msgsys servers
// write in the language that the request names, the table's.
func (s *Status) request(ctx context.Context, endpoint, key, service string, out any) error {
	meta := s.cfg.Clocks.Meta()
	meta.Lang = s.cfg.Lang
	frame, err := proto.Encode(service, &proto.EmptyRequest{}, meta)
	if err != nil {
		return err
	}
	requester := proto.NewKeyedRequester(endpoint, key)
	defer requester.Close()
	// The whole request, handshake included, has Timeout, so that a
	// failure reports the timeout that was set.
	requester.SetDialTimeout(s.cfg.Timeout)
	payload, err := requester.Request(ctx, frame, s.cfg.Timeout)
	if err != nil {
		return err
	}

	env, err := proto.Decode(payload)
	if err != nil {
		return &failure{text: textInvalidReply, args: []any{err}, cause: err}
	}
	if _, err := s.cfg.Clocks.Witness(env.Data); err != nil {
		return &failure{text: textInvalidReply, args: []any{err}, cause: err}
	}
	if status, ok, _ := env.Data.OptString("status"); ok && status == proto.StatusError {
		description, _, _ := env.Data.OptString("description")
		return &failure{text: textRejected, args: []any{service, description}}
	}
	if env.Service != service {
		return &failure{text: textWrongService, args: []any{service, env.Service}}
	}
	if _, err := proto.DecodeInto(payload, out); err != nil {
		return &failure{text: textInvalidStatus, args: []any{service, err}, cause: err}
	}
	return nil
}
