package server

import (
	"context"
	"sync"
	"time"

	"msgsys/election"
	"msgsys/proto"
)

// Servers written from the standard protocol alone implement election and
// clock, but reply to msgsys's own services (adjust, claim, replicate,
// sync) with an error. This file holds what a msgsys server remembers
// about such servers, and the deputy that decides channel names while one
// of them coordinates.

// standardRetry is how long a server that rejected adjust or claim is
// treated as a server without that service before it is tried again.
const standardRetry = 3 * time.Minute

// peerMarks records servers that rejected a msgsys service, each until a
// deadline and for one election epoch, because a rejection can also come
// from a coordinator that another has replaced (a stale epoch).
type peerMarks struct {
	mu    sync.Mutex // guards marks
	marks map[string]peerMark
}

type peerMark struct {
	until time.Time
	epoch uint64
}

func newPeerMarks() *peerMarks {
	return &peerMarks{marks: make(map[string]peerMark)}
}

// mark records name at epoch until now plus standardRetry and reports
// whether name was not marked at that epoch before.
func (p *peerMarks) mark(name string, epoch uint64, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	old, ok := p.marks[name]
	p.marks[name] = peerMark{until: now.Add(standardRetry), epoch: epoch}
	return !ok || old.epoch != epoch || now.After(old.until)
}

// has reports whether name is marked at epoch. expired is true once, when
// a mark of name has just run out or belongs to another epoch, so the
// caller can log that name is tried again.
func (p *peerMarks) has(name string, epoch uint64, now time.Time) (marked, expired bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.marks[name]
	if !ok {
		return false, false
	}
	if m.epoch != epoch || now.After(m.until) {
		delete(p.marks, name)
		return false, true
	}
	return true, false
}

// isUnknownServiceReply reports whether a peer's reply is an error that no
// msgsys server sends for this service: it names the service "error", or
// it is not a success and lacks key, which every msgsys reply of the
// service carries.
func isUnknownServiceReply(env proto.Envelope, key string) bool {
	if env.Service == proto.ServiceError {
		return true
	}
	status, _, _ := env.Data.OptString("status")
	_, hasKey := env.Data[key]
	return !proto.IsSuccess(status) && !hasKey
}

// announcementRank returns the rank of an announcement's coordinator. A
// standard announcement carries no rank, so the rank comes from the
// reference's list of available servers, read again when the list this
// server holds does not name the coordinator yet, as when it announces
// itself right after it registered.
func (s *Server) announcementRank(ctx context.Context, data proto.Data, name string) int64 {
	if rank, ok, _ := data.OptInt("rank"); ok {
		return rank
	}
	for range 2 {
		for _, m := range s.node.Members() {
			if m.Name == name {
				return m.Rank
			}
		}
		s.refreshMembers(ctx)
	}
	return 0
}

// coordinatorDecidesChannels reports whether coordinator, another server,
// decides channel names. A server of another implementation does not: it
// has no known server-to-server address, it replied to claim with an error
// for an unknown service, or it replied to replication the same way.
func (s *Server) coordinatorDecidesChannels(a election.Announcement) bool {
	if s.coordinatorAddr(a) == "" {
		return false
	}
	if marked, _ := s.noClaims.has(a.Coordinator, a.Epoch, time.Now()); marked {
		return false
	}
	return !s.replica.Unsupported(a.Coordinator)
}

// channelDeputy returns the server that decides channel names in place of
// coordinator, and false while coordinator decides them itself. The
// deputy is the available msgsys server of highest rank, this one
// included. Every listed server with an address counts as a msgsys server
// unless it replied to replicate, sync or claim with an unknown-service
// error. So a server that has just started, and has no reply yet, agrees
// with the others instead of choosing itself.
func (s *Server) channelDeputy(a election.Announcement) (election.Member, bool) {
	if a.Coordinator == "" || a.Coordinator == s.cfg.Name || s.coordinatorDecidesChannels(a) {
		return election.Member{}, false
	}
	deputy := election.Member{Name: s.cfg.Name, Rank: s.Rank(), Addr: s.cfg.Addr}
	for _, m := range s.deputyCandidates(a) {
		if m.Rank > deputy.Rank {
			deputy = m
		}
	}
	s.noteDeputy(a.Coordinator, deputy.Name)
	return deputy, true
}

// deputyCandidates returns the other listed servers that may act as
// deputy while a, a server of another implementation, coordinates.
func (s *Server) deputyCandidates(a election.Announcement) []election.Member {
	now := time.Now()
	var candidates []election.Member
	for _, m := range s.node.Members() {
		if m.Name == s.cfg.Name || m.Name == a.Coordinator || m.Addr == "" || s.replica.Unsupported(m.Name) {
			continue
		}
		if marked, _ := s.noClaims.has(m.Name, a.Epoch, now); marked {
			continue
		}
		candidates = append(candidates, m)
	}
	return candidates
}

// isDeputy reports whether this server decides channel names and runs
// Berkeley rounds in place of a coordinator of another implementation.
func (s *Server) isDeputy() bool {
	a, ok := s.node.Coordinator()
	if !ok || !s.Serving() || !s.mayCoordinate() {
		return false
	}
	deputy, ok := s.channelDeputy(a)
	return ok && deputy.Name == s.cfg.Name
}

// decidesChannels reports whether this server may decide channel names
// now, as coordinator or as deputy. A new coordinator waits until the
// members have replied to its announcement (election.Node.Coordinating).
func (s *Server) decidesChannels(ctx context.Context) bool {
	return s.node.Coordinating(ctx) || s.isDeputy()
}

// trackDeputy logs a switch of channel decisions to or from a deputy. The
// server calls it after each refresh of its member list.
func (s *Server) trackDeputy() {
	a, ok := s.node.Coordinator()
	if !ok {
		return
	}
	if _, deputy := s.channelDeputy(a); !deputy {
		s.noteDeputy(a.Coordinator, "")
	}
}

// noteDeputy records who decides channel names while coordinator
// coordinates, deputy being "" when coordinator decides them itself, and
// logs each change.
func (s *Server) noteDeputy(coordinator, deputy string) {
	s.deputyMu.Lock()
	changed := s.deputyCoordinator != coordinator || s.deputy != deputy
	wasDeputy := s.deputy != ""
	s.deputyCoordinator, s.deputy = coordinator, deputy
	s.deputyMu.Unlock()
	switch {
	case !changed:
	case deputy != "":
		s.log.Info("channel decisions go to a deputy", "coordinator", coordinator, "deputy", deputy, "reason", "the coordinator does not implement claim")
	case wasDeputy:
		s.log.Info("channel decisions go to the coordinator again", "coordinator", coordinator)
	}
}

// noteNoClaims records that coordinator replied to claim with an
// unknown-service error, and logs it once per change.
func (s *Server) noteNoClaims(a election.Announcement) {
	if s.noClaims.mark(a.Coordinator, a.Epoch, time.Now()) {
		s.log.Warn("coordinator does not decide channels", "coordinator", a.Coordinator, "epoch", a.Epoch, "reason", "claim rejected as an unknown service", "retry_after", standardRetry)
	}
}
