package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"msgsys/election"
	"msgsys/proto"
	"msgsys/store"
)

// Outcomes of a channel creation other than success.
var (
	errChannelExists   = errors.New("server: channel already exists")
	errNoCoordinator   = errors.New("server: no coordinator while an election runs")
	errCoordinatorDown = errors.New("server: coordinator did not reply")
	// errCoordinatorResumed is a creation that failed because the
	// coordinator had just continued after a stop and still decided no
	// channel after the wait for it.
	errCoordinatorResumed = errors.New("server: the coordinator has just continued after a stop")
)

// Bounds of a channel creation on a server that is not the coordinator.
// The waits for the end of an election add up to at most coordinatorWait:
// a failover takes a few hundred milliseconds, and a candidate waits up to
// 1 s (election AnnounceTimeout) for a server that catches up. The first
// claim may take claimTimeout, twice the replication's default AckTimeout
// of 500 ms that the coordinator's write may wait for a lagging peer, and
// the one retry claimRetryTimeout. Both are also capped by
// Config.RequestTimeout. The worst case, 2.5 s, stays under the broker's
// request timeout, 3 s by default, after which the broker takes this
// server for stalled.
// NOTE: a retry sent to a new coordinator whose write waits the whole
// AckTimeout for a lagging peer can time out, and the client then gets
// "coordinator unavailable" although the channel may be created. A retry
// of the client with the same request id reports success.
const (
	coordinatorWait   = time.Second
	claimTimeout      = time.Second
	claimRetryTimeout = 500 * time.Millisecond
	// claimBudget bounds a whole channel creation, waits and claims.
	claimBudget = coordinatorWait + claimTimeout + claimRetryTimeout

	// quietMargin is added to the retry time of a quiet coordinator's
	// reply. A claim that arrives just before the quiet time ends is
	// rejected again and the creation fails.
	quietMargin = 5 * time.Millisecond
)

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
	Status string `msgpack:"status"`
	Exists bool   `msgpack:"exists"`
	// NotCoordinator marks an erro from a server that does not coordinate,
	// so the claimant elects again instead of failing the request.
	NotCoordinator bool `msgpack:"notcoordinator,omitempty"`
	// RetryAfter marks an erro from a coordinator that has just continued
	// after a stop and decides again in this many milliseconds
	// (quietAfterStop), so the claimant waits and claims once more.
	RetryAfter int64  `msgpack:"retryafter,omitempty"`
	Timestamp  string `msgpack:"timestamp"`
	Clock      uint64 `msgpack:"clock"`
}

// createChannel makes one server decide every channel name: the
// coordinator. Two servers receiving the same name at once both ask it,
// and it creates the channel once, replicated to every in-sync server
// before it replies, and replies to the second that the name is taken. A new
// coordinator holds every channel the old one acknowledged, so decisions
// stay consistent across elections.
//
// When the coordinator sends no reply, this server drops it, starts an
// election and retries once with the coordinator elected next.
func (s *Server) createChannel(ctx context.Context, name, rid string) error {
	// On the minority side of a partition no election can end, so the
	// request fails at once with retry, and the client's second try may
	// reach a server of the majority.
	if s.node.Minority() {
		return errNoCoordinator
	}
	// Likewise when only the link to the coordinator is cut: the other
	// servers still reach it.
	if s.node.Indirect() {
		return errCoordinatorDown
	}
	start := time.Now()
	waitLeft := coordinatorWait
	coordinator, ok := s.waitCoordinator(ctx, election.Announcement{}, &waitLeft)
	if !ok {
		return errNoCoordinator
	}
	err := s.claimAt(ctx, coordinator, name, rid, claimTimeout)
	var quiet *quietError
	if errors.As(err, &quiet) {
		return s.claimAfterQuiet(ctx, start, quiet.left, coordinator, name, rid)
	}
	if !errors.Is(err, errNoAnswer) {
		return err
	}

	s.node.Drop(coordinator)
	coordinator, ok = s.waitCoordinator(ctx, coordinator, &waitLeft)
	if !ok {
		return errCoordinatorDown
	}
	err = s.claimAt(ctx, coordinator, name, rid, claimRetryTimeout)
	if errors.As(err, &quiet) {
		return errCoordinatorResumed
	}
	if !errors.Is(err, errNoAnswer) {
		return err
	}
	return errCoordinatorDown
}

// quietError is a claim that a coordinator did not decide because it has
// just continued after a stop. It decides again after left.
type quietError struct{ left time.Duration }

func (e *quietError) Error() string {
	return fmt.Sprintf("server: the coordinator decides no channel for %v after a stop", e.left)
}

// claimAfterQuiet waits for the quiet time of a coordinator that has just
// continued after a stop to end, and claims once more. The wait and the
// claim stay within claimBudget of the creation's start.
func (s *Server) claimAfterQuiet(ctx context.Context, start time.Time, left time.Duration, coordinator election.Announcement, name, rid string) error {
	wait := min(max(left, 0)+quietMargin, claimBudget-time.Since(start)-claimRetryTimeout)
	if wait < 0 {
		return errCoordinatorResumed
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
	}
	err := s.claimAt(ctx, coordinator, name, rid, claimRetryTimeout)
	var quiet *quietError
	switch {
	case errors.As(err, &quiet):
		return errCoordinatorResumed
	case errors.Is(err, errNoAnswer):
		return errCoordinatorDown
	}
	return err
}

// errQuiet is a claim this server does not decide because it has just
// continued after a stop (quietAfterStop). It is still the coordinator.
var errQuiet = errors.New("server: deciding no channel right after a stop")

// errNoAnswer is a claim that got no reply, because the connection was
// refused or closed or the reply timed out, or that a server rejected
// because it does not coordinate.
var errNoAnswer = errors.New("server: the coordinator did not reply to the claim or no longer coordinates")

// waitCoordinator waits for an accepted coordinator other than failed,
// for at most *left, and subtracts the time it waited from *left.
func (s *Server) waitCoordinator(ctx context.Context, failed election.Announcement, left *time.Duration) (election.Announcement, bool) {
	start := time.Now()
	wait, cancel := context.WithTimeout(ctx, max(*left, 0))
	defer cancel()
	coordinator, ok := s.node.WaitCoordinatorExcept(wait, failed)
	*left -= time.Since(start)
	return coordinator, ok
}

// claimAt decides the channel here when this server coordinates, and
// otherwise sends the claim to coordinator. It returns errNoAnswer, so
// the caller elects again, when coordinator does not reply or no longer
// coordinates, this server included, as after a pause or once it has seen
// a newer epoch.
func (s *Server) claimAt(ctx context.Context, coordinator election.Announcement, name, rid string, timeout time.Duration) error {
	if coordinator.Coordinator == s.cfg.Name {
		err := s.decideChannel(ctx, name, rid)
		switch {
		case errors.Is(err, errNotCoordinator):
			return errNoAnswer
		case errors.Is(err, errQuiet):
			return &quietError{left: s.quietLeft()}
		}
		return err
	}

	// A coordinator of another implementation does not decide channels,
	// and the deputy does in its place.
	if deputy, ok := s.channelDeputy(coordinator); ok {
		return s.claimAtDeputy(ctx, coordinator, deputy, name, rid, timeout)
	}

	// The coordinator's announcement carries the address it serves on
	// now. The reference's list lags a restarted coordinator by up to half
	// a heartbeat and may still name its old address, so it is only the
	// fallback, for announcements without an address.
	addr := s.coordinatorAddr(coordinator)
	if addr == "" {
		return errCoordinatorDown
	}
	env, err := s.ask(ctx, "claim", addr, serviceClaim, &ClaimRequest{Channel: name, RID: rid}, min(timeout, s.cfg.RequestTimeout))
	if err != nil {
		s.claimFailed.Warn(s.log, "channel claim failed", "channel", name, "coordinator", coordinator.Coordinator, "epoch", coordinator.Epoch, "err", err)
		if ctx.Err() != nil {
			return errCoordinatorDown
		}
		return errNoAnswer
	}
	// A server that replicates is a msgsys server, whatever its reply.
	if isUnknownServiceReply(env, "exists") && !s.replica.Replicates(coordinator.Coordinator) {
		s.noteNoClaims(coordinator)
		if deputy, ok := s.channelDeputy(coordinator); ok {
			return s.claimAtDeputy(ctx, coordinator, deputy, name, rid, timeout)
		}
	}
	return s.claimOutcome(env, name, coordinator.Coordinator)
}

// coordinatorAddr returns the server-to-server address of a's
// coordinator: the announcement's, or for an announcement without one the
// reference's list's, or "" when neither names one.
func (s *Server) coordinatorAddr(a election.Announcement) string {
	if a.Addr != "" {
		return a.Addr
	}
	for _, m := range s.node.Members() {
		if m.Name == a.Coordinator {
			return m.Addr
		}
	}
	return ""
}

// claimOutcome turns the reply to a claim sent to decider into the
// outcome of the channel creation.
func (s *Server) claimOutcome(env proto.Envelope, name, decider string) error {
	status, _, _ := env.Data.OptString("status")
	if exists, _ := env.Data["exists"].(bool); exists {
		return errChannelExists
	}
	// A server that no longer coordinates, because another took over
	// moments ago, counts as no reply: this server's view is stale, and
	// an election finds the new coordinator.
	if rejected, _ := env.Data["notcoordinator"].(bool); rejected {
		return errNoAnswer
	}
	if ms, ok, _ := env.Data.OptInt("retryafter"); ok && ms > 0 && !proto.IsSuccess(status) {
		return &quietError{left: time.Duration(ms) * time.Millisecond}
	}
	if !proto.IsSuccess(status) {
		description, _, _ := env.Data.OptString("description")
		s.claimFailed.Warn(s.log, "channel claim failed", "channel", name, "decider", decider, "status", status, "description", description)
		return errCoordinatorDown
	}
	return nil
}

// claimAtDeputy decides the channel here when this server is the deputy
// of coordinator, and otherwise sends the claim to deputy. A failure is
// errCoordinatorDown, never errNoAnswer, because coordinator itself did
// not fail and must not be dropped.
func (s *Server) claimAtDeputy(ctx context.Context, coordinator election.Announcement, deputy election.Member, name, rid string, timeout time.Duration) error {
	if deputy.Name == s.cfg.Name {
		err := s.decideChannel(ctx, name, rid)
		if errors.Is(err, errQuiet) {
			return &quietError{left: s.quietLeft()}
		}
		if errors.Is(err, errNotCoordinator) {
			s.claimFailed.Warn(s.log, "channel claim failed", "channel", name, "coordinator", coordinator.Coordinator, "deputy", deputy.Name, "err", "this server may not decide channels now")
			return errCoordinatorDown
		}
		return err
	}
	env, err := s.ask(ctx, "claim", deputy.Addr, serviceClaim, &ClaimRequest{Channel: name, RID: rid}, min(timeout, s.cfg.RequestTimeout))
	if err != nil {
		s.claimFailed.Warn(s.log, "channel claim failed", "channel", name, "coordinator", coordinator.Coordinator, "deputy", deputy.Name, "err", err)
		return errCoordinatorDown
	}
	err = s.claimOutcome(env, name, deputy.Name)
	if errors.Is(err, errNoAnswer) {
		s.claimFailed.Warn(s.log, "channel claim failed", "channel", name, "coordinator", coordinator.Coordinator, "deputy", deputy.Name, "err", "the deputy rejected the claim as not deciding channels")
		return errCoordinatorDown
	}
	return err
}

// decideChannel creates the channel unless it exists. It runs only on the
// coordinator, or on the deputy of a coordinator of another implementation
// (channelDeputy), one decision at a time, and returns errNotCoordinator
// on another server. A new coordinator decides only once the old one has
// replied to its announcement, which the old one does after the decision
// it has in flight (see serviceCoordinator in handlePeer).
// NOTE: an old coordinator whose reply to the announcement times out,
// because its decision waits for a slow peer or it is frozen in the
// middle of one, can still decide a name that the new one decides too.
func (s *Server) decideChannel(ctx context.Context, name, rid string) error {
	s.channelMu.Lock()
	defer s.channelMu.Unlock()
	if s.quiet() {
		return errQuiet
	}
	if !s.decidesChannels(ctx) {
		return errNotCoordinator
	}

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

// rejectClaim replies to a claim sent to this server although it does not
// coordinate. A claimant with a stale view sends one for each creation
// until it learns of the new coordinator, so the warning is rate-limited.
func (s *Server) rejectClaim(data proto.Data) []byte {
	channel, _, _ := data.OptString("channel")
	coordinator, _ := s.node.Coordinator()
	s.claimRejected.Warn(s.log, "channel claim rejected", "reason", "not the coordinator", "channel", channel, "coordinator", coordinator.Coordinator, "epoch", coordinator.Epoch)
	return s.encode(serviceClaim, &ClaimReply{Status: proto.StatusError, NotCoordinator: true})
}

// quietClaimReply replies to a claim that arrives during the quiet time
// after a stop: an erro with the time left, so that the claimant waits and
// claims again rather than electing another coordinator.
func (s *Server) quietClaimReply(data proto.Data) []byte {
	channel, _, _ := data.OptString("channel")
	left := s.quietLeft()
	s.claimRejected.Warn(s.log, "channel claim rejected", "reason", "the process has just continued after a stop", "channel", channel, "retry_after", left)

	// Rounded up, so that a claimant that waits this long claims after the
	// quiet time ends.
	millis := (left + time.Millisecond - 1) / time.Millisecond
	return s.encode(serviceClaim, &ClaimReply{Status: proto.StatusError, RetryAfter: max(int64(millis), 1)})
}

// handleClaim decides a peer's claim when this server coordinates or is
// the deputy of a coordinator of another implementation.
func (s *Server) handleClaim(ctx context.Context, data proto.Data) []byte {
	// No notcoordinator in the reply: the claimant waits and claims again,
	// and does not drop this coordinator and elect another.
	if s.quiet() {
		return s.quietClaimReply(data)
	}
	if !s.decidesChannels(ctx) {
		return s.rejectClaim(data)
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
	case errors.Is(err, errNotCoordinator):
		return s.rejectClaim(data)
	case errors.Is(err, errQuiet):
		// The stop ended between the check above and the decision.
		return s.quietClaimReply(data)
	case err != nil:
		s.log.Error("channel claim not applied", "channel", name, "err", err)
		return s.encode(serviceClaim, &ClaimReply{Status: proto.StatusError})
	}
	return s.encode(serviceClaim, &ClaimReply{Status: proto.StatusOK})
}
