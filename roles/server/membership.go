package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"msgsys/election"
	"msgsys/lang"
	"msgsys/proto"
	"msgsys/replica"
	"msgsys/roles/common"
)

// requestRank registers with the reference and returns the rank it gives.
func (s *Server) requestRank(ctx context.Context) (int64, error) {
	var reply struct {
		Rank  any    `msgpack:"rank"`
		Clock uint64 `msgpack:"clock"`
	}
	err := s.askReference(ctx, proto.ServiceRank, &proto.RankRequest{User: s.cfg.Name, Addr: s.cfg.Addr, Rank: s.cfg.Rank}, &reply)
	if err != nil {
		return 0, err
	}
	rank, ok, err := proto.Data{"rank": reply.Rank}.OptInt("rank")
	if err != nil || !ok || rank <= 0 {
		return 0, fmt.Errorf("server: reference returned an invalid rank %v", reply.Rank)
	}
	return rank, nil
}

// checkNameFree fails the start when another running server uses this
// server's name: the reference lists the name at another address, and
// the server there replies to status with that name. Two servers under one
// name would share a rank and both serve. An entry left by a server that
// restarted on another port names an address where nothing replies.
func (s *Server) checkNameFree(ctx context.Context) error {
	var reply proto.ListReply
	if err := s.askReference(ctx, proto.ServiceList, &proto.EmptyRequest{}, &reply); err != nil {
		return nil // register reports an unreachable reference
	}
	for _, info := range reply.List {
		if proto.FoldName(info.Name) != proto.FoldName(s.cfg.Name) || info.Addr == "" || info.Addr == s.cfg.Addr {
			continue
		}
		env, err := s.ask(ctx, "status", info.Addr, serviceStatus, &proto.EmptyRequest{}, time.Second)
		if err != nil {
			continue
		}
		if name, _, _ := env.Data.OptString("name"); proto.FoldName(name) == proto.FoldName(s.cfg.Name) {
			return &common.StartError{
				Role: "server", Context: "server", Failure: common.NameInUse, Target: info.Addr, Name: s.cfg.Name,
				Err: fmt.Errorf("the name %q is used by another server running at %s", s.cfg.Name, info.Addr),
			}
		}
	}
	return nil
}

// errReferenceRejected is the error of a request that got an error reply
// from the reference, such as a rank request that a full registry rejects.
var errReferenceRejected = errors.New("server: reference rejected")

// askReference sends one request to the reference and decodes the reply
// into out, which must have a Clock field. The request carries lang en,
// so that a msgsys reference writes the description of an error reply,
// which the server logs, in English whatever the reference's --lang.
func (s *Server) askReference(ctx context.Context, service string, req any, out any) error {
	meta := s.cfg.Clocks.Meta()
	meta.Lang = lang.EN
	frame, err := proto.Encode(service, req, meta)
	if err != nil {
		return err
	}
	payload, err := s.reference.Request(ctx, frame, s.cfg.RequestTimeout)
	if err != nil {
		return err
	}
	env, err := proto.Decode(payload)
	if err != nil {
		return err
	}
	if err := s.witnessPeer(service, env.Data); err != nil {
		return err
	}
	if status, ok, _ := env.Data.OptString("status"); ok && status == proto.StatusError {
		description, _, _ := env.Data.OptString("description")
		return fmt.Errorf("%w %s: %s", errReferenceRejected, service, description)
	}
	if out == nil {
		return nil
	}
	_, err = proto.DecodeInto(payload, out)
	return err
}

// membership sends heartbeats and refreshes the list of available servers
// until ctx is done.
func (s *Server) membership(ctx context.Context) {
	ticker := time.NewTicker(s.cfg.HeartbeatEvery / 2)
	defer ticker.Stop()
	beat := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		// Heartbeats go out at HeartbeatEvery, the list is read twice as
		// often so a returning server is noticed sooner.
		if beat = !beat; beat {
			err := s.askReference(ctx, proto.ServiceHeartbeat, &proto.HeartbeatRequest{User: s.cfg.Name, Addr: s.cfg.Addr, Rank: s.Rank()}, nil)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("heartbeat failed", "reference", s.cfg.Reference, "err", err)
			}
		}
		s.refreshMembers(ctx)
		if s.Serving() {
			s.trackDeputy()
		}
	}
}

// refreshMembers reads the available servers from the reference and hands
// them to replication and election. On failure the last list stays.
func (s *Server) refreshMembers(ctx context.Context) []election.Member {
	members, _ := s.refreshServers(ctx)
	return members
}

// refreshServers is refreshMembers that also returns every server with an
// address that the reference has registered, available or not, this
// server included and with no bound on their number. That list is empty
// when the reference cannot be reached or does not send it.
func (s *Server) refreshServers(ctx context.Context) ([]election.Member, []proto.ServerInfo) {
	var reply proto.ListReply
	if err := s.askReference(ctx, proto.ServiceList, &proto.EmptyRequest{}, &reply); err != nil {
		if ctx.Err() == nil {
			s.log.Debug("list failed", "reference", s.cfg.Reference, "err", err)
		}
		if s.node != nil {
			return s.node.Members(), nil
		}
		return nil, nil
	}
	s.noteSharedName(reply.List)
	available, ignored := lowestRanks(reply.List, s.cfg.Name, s.cfg.MaxPeers)
	s.noteIgnoredPeers(ignored)
	members := make([]election.Member, 0, len(available))
	for _, info := range available {
		members = append(members, election.Member{Name: info.Name, Rank: info.Rank, Addr: info.Addr})
	}
	if s.replica != nil {
		s.replica.SetPeers(toPeers(members))
	}
	if s.node != nil {
		s.node.SetMembers(members)
	}
	var registered []proto.ServerInfo
	for _, info := range reply.Registered {
		// A server without an address cannot be synced with.
		if info.Addr != "" {
			registered = append(registered, info)
		}
	}
	return members, registered
}

// noteSharedName warns when the reference lists this server's name at
// another address. Each heartbeat moves the name to its sender's address,
// so two servers started with the same --name see the other's address
// now and then, and both serve under one rank.
func (s *Server) noteSharedName(list []proto.ServerInfo) {
	for _, info := range list {
		if proto.FoldName(info.Name) == proto.FoldName(s.cfg.Name) && info.Addr != "" && info.Addr != s.cfg.Addr {
			s.nameShared.Warn(s.log, "another server uses this server's name, give each its own --name", "addr", s.cfg.Addr, "other_addr", info.Addr)
		}
	}
}

// lowestRanks returns the servers of list that a server named self
// tracks, sorted by rank: itself and the limit others of lowest rank. The
// reference gives ranks in the order in which names first register, so
// these are the servers registered longest, and a flood of new names
// cannot push them out. It also returns the others, left out.
func lowestRanks(list []proto.ServerInfo, self string, limit int) (tracked, ignored []proto.ServerInfo) {
	sorted := slices.Clone(list)
	slices.SortStableFunc(sorted, func(a, b proto.ServerInfo) int { return cmp.Compare(a.Rank, b.Rank) })
	others := 0
	for _, info := range sorted {
		switch {
		case info.Name == self:
			tracked = append(tracked, info)
		case others < limit:
			tracked = append(tracked, info)
			others++
		default:
			ignored = append(ignored, info)
		}
	}
	return tracked, ignored
}

// noteIgnoredPeers logs the servers of a list that lowestRanks left out,
// when their number changes, and once when none are left out again. It
// logs at error level because elections and replication leave those
// servers out: a left-out coordinator of highest rank makes this server
// elect another coordinator.
func (s *Server) noteIgnoredPeers(ignored []proto.ServerInfo) {
	s.ignoredMu.Lock()
	previous := s.ignoredPeers
	s.ignoredPeers = len(ignored)
	s.ignoredMu.Unlock()

	switch {
	case len(ignored) > 0 && len(ignored) != previous:
		s.peersIgnored.Error(s.log, "servers beyond the peer limit left out of elections and replication",
			"ignored", len(ignored), "max_peers", s.cfg.MaxPeers, "highest_ignored_rank", highestRank(ignored),
			"servers", someNames(ignored))
	case len(ignored) == 0 && previous > 0:
		s.log.Info("peer limit no longer exceeded", "max_peers", s.cfg.MaxPeers)
	}
}

// highestRank returns the highest rank among servers, or 0 for none.
func highestRank(servers []proto.ServerInfo) int64 {
	var highest int64
	for _, info := range servers {
		highest = max(highest, info.Rank)
	}
	return highest
}

// loggedNames is how many names a log line about many servers shows.
const loggedNames = 5

// someNames returns the names of the first loggedNames servers.
func someNames(servers []proto.ServerInfo) []string {
	names := make([]string, 0, min(len(servers), loggedNames))
	for _, info := range servers[:min(len(servers), loggedNames)] {
		names = append(names, info.Name)
	}
	return names
}

// names returns the names of servers, in order.
func names(servers []proto.ServerInfo) []string {
	out := make([]string, len(servers))
	for i, info := range servers {
		out[i] = info.Name
	}
	return out
}

func toPeers(members []election.Member) []replica.Peer {
	peers := make([]replica.Peer, 0, len(members))
	for _, m := range members {
		peers = append(peers, replica.Peer{Name: m.Name, Addr: m.Addr})
	}
	return peers
}
