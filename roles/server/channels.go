package server

import (
	"context"
	"errors"
	"time"

	"msgsys/proto"
	"msgsys/store"
)

// Outcomes of a channel creation other than success.
var (
	errChannelExists   = errors.New("server: channel already exists")
	errNoCoordinator   = errors.New("server: no coordinator while an election runs")
	errCoordinatorDown = errors.New("server: coordinator did not reply")
)

// coordinatorWait bounds how long a channel creation waits for the end of
// an election. A failover takes a few hundred milliseconds, and a candidate
// waits up to 1 s (election AnnounceTimeout) for a server that catches up.
// The wait must stay well under the broker's request timeout, 3 s by
// default, or the broker takes this server for stalled.
// NOTE: a claim that then times out (RequestTimeout, 2 s by default) can
// still add up to that timeout.
const coordinatorWait = time.Second

// ClaimRequest requests that the coordinator create a channel. RID identifies
// the client's request, so a retry is recognised as the same creation.
type ClaimRequest struct {
	Channel   string `msgpack:"channel"`
	RID       string `msgpack:"rid"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// ClaimReply is the coordinator's decision.
type ClaimReply struct {
	Status    string `msgpack:"status"`
	Exists    bool   `msgpack:"exists"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// createChannel makes one server decide every channel name: the
// coordinator. Two servers receiving the same name at once both ask it,
// and it creates the channel once, replicated to every in-sync server
// before it replies, and replies to the second that the name is taken. A new
// coordinator holds every channel the old one acknowledged, so decisions
// stay consistent across elections.
func (s *Server) createChannel(ctx context.Context, name, rid string) error {
	wait, cancel := context.WithTimeout(ctx, coordinatorWait)
	coordinator, ok := s.node.WaitCoordinator(wait)
	cancel()
	if !ok {
		return errNoCoordinator
	}
	if coordinator.Coordinator == s.cfg.Name {
		return s.decideChannel(ctx, name, rid)
	}

	// The coordinator's announcement carries the address it serves on
	// now. The reference's list lags a restarted coordinator by up to half
	// a heartbeat and may still name its old address, so it is only the
	// fallback, for announcements without an address.
	addr := coordinator.Addr
	for _, m := range s.node.Members() {
		if addr == "" && m.Name == coordinator.Coordinator {
			addr = m.Addr
		}
	}
	if addr == "" {
		return errCoordinatorDown
	}
	env, err := s.ask(ctx, "claim", addr, serviceClaim, &ClaimRequest{Channel: name, RID: rid}, s.cfg.RequestTimeout)
	if err != nil {
		s.log.Warn("channel claim failed", "channel", name, "coordinator", coordinator.Coordinator, "err", err)
		return errCoordinatorDown
	}
	status, _, _ := env.Data.OptString("status")
	if exists, _ := env.Data["exists"].(bool); exists {
		return errChannelExists
	}
	if !proto.IsSuccess(status) {
		return errCoordinatorDown
	}
	return nil
}

// decideChannel creates the channel unless it exists. It runs only on the
// coordinator, one decision at a time.
func (s *Server) decideChannel(ctx context.Context, name, rid string) error {
	s.channelMu.Lock()
	defer s.channelMu.Unlock()

	if rid != "" {
		if _, ok, err := s.store.LookupRID(rid, s.cfg.Clocks.Physical.Now()); err == nil && ok {
			return nil
		}
	}
	if s.store.HasChannel(name) {
		return errChannelExists
	}
	op := store.Op{
		Kind:    store.KindChannel,
		Channel: name,
		RID:     rid,
		Clock:   s.cfg.Clocks.Lamport.Tick(),
		Time:    s.cfg.Clocks.Physical.Stamp().UnixNano(),
	}
	_, _, err := s.replica.Write(ctx, op)
	return err
}

// handleClaim decides a peer's claim when this server coordinates.
func (s *Server) handleClaim(ctx context.Context, data proto.Data) []byte {
	if !s.node.IsCoordinator() {
		s.log.Warn("channel claim rejected", "reason", "not the coordinator")
		return s.encode(serviceClaim, &ClaimReply{Status: proto.StatusError})
	}
	channel, err := data.String("channel")
	if err != nil {
		return s.encode(serviceClaim, &ClaimReply{Status: proto.StatusError})
	}
	name, err := proto.NormalizeChannel(channel)
	if err != nil {
		return s.encode(serviceClaim, &ClaimReply{Status: proto.StatusError})
	}
	rid, _, _ := data.OptString("rid")

	switch err := s.decideChannel(ctx, name, rid); {
	case errors.Is(err, errChannelExists):
		return s.encode(serviceClaim, &ClaimReply{Status: proto.StatusOK, Exists: true})
	case err != nil:
		s.log.Error("channel claim not applied", "channel", name, "err", err)
		return s.encode(serviceClaim, &ClaimReply{Status: proto.StatusError})
	}
	return s.encode(serviceClaim, &ClaimReply{Status: proto.StatusOK})
}
