package reference

import (
	"errors"

	"msgsys/lang"
	"msgsys/proto"
)

// heartbeatReply is the data of a heartbeat reply, which carries only the
// metadata every message has.
type heartbeatReply struct {
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// serveConn serves the requests of one connection in order until it
// closes. Every frame before the payload goes back unchanged in front of
// the reply (see splitRequest).
func (r *Reference) serveConn(conn *proto.Conn) {
	peer := conn.RemoteAddr()
	conn.SkipOversized()
	for {
		frames, err := conn.Recv()
		var tooLarge *proto.MessageTooLargeError
		if errors.As(err, &tooLarge) {
			if !r.rejectTooLarge(conn, tooLarge, peer) {
				return
			}
			continue
		}
		if err != nil {
			if !errors.Is(err, proto.ErrClosed) {
				r.log.Warn("connection failed", "peer", peer, "err", err, "clock", r.lamport())
			}
			return
		}
		if len(frames) == 0 {
			continue
		}

		envelope, payload, rej := splitRequest(frames)
		var reply []byte
		if rej != nil {
			reply = r.rejectReply(rej, nil, peer)
		} else {
			reply = r.handle(payload, peer)
		}
		if reply == nil {
			continue
		}
		if err := conn.Send(append(envelope, reply)...); err != nil {
			r.log.Warn("send reply failed", "peer", peer, "err", err, "clock", r.lamport())
			return
		}
	}
}

// rejectTooLarge sends the error reply to a request above the transport
// limit, which Recv read past without keeping. The frames before the
// first that passed the limit route the reply, up to the empty delimiter
// when there is one. It returns false when the reply could not be sent.
func (r *Reference) rejectTooLarge(conn *proto.Conn, e *proto.MessageTooLargeError, peer string) bool {
	envelope := e.Envelope
	for i, frame := range envelope {
		if len(frame) == 0 {
			envelope = envelope[:i+1]
			break
		}
	}
	reply := r.rejectReply(rejectDecode("", e), nil, peer)
	if reply == nil {
		return true
	}
	if err := conn.Send(append(envelope, reply)...); err != nil {
		r.log.Warn("send reply failed", "peer", peer, "err", err, "clock", r.lamport())
		return false
	}
	return true
}

// splitRequest splits a message into the frames that go back in front of
// the reply and the request payload. A REQ peer sends ["", payload], and a
// peer behind a proxy adds routing frames before the empty delimiter. A
// message with a delimiter must have exactly one frame after it, or it is
// rejected: the delimiter and the frames before it still carry the error
// reply back. A message without a delimiter, from a bare DEALER, has its
// last frame as the payload.
func splitRequest(frames [][]byte) (envelope [][]byte, payload []byte, rej *rejection) {
	for i, frame := range frames {
		if len(frame) != 0 {
			continue
		}
		envelope = append([][]byte(nil), frames[:i+1]...)
		if after := len(frames) - i - 1; after != 1 {
			return envelope, nil, rejectFrameCount(after)
		}
		return envelope, frames[i+1], nil
	}
	last := len(frames) - 1
	return append([][]byte(nil), frames[:last]...), frames[last], nil
}

// handle serves one request payload and returns the reply payload, or nil
// when no reply could be encoded.
func (r *Reference) handle(payload []byte, peer string) []byte {
	r.noticeStop()
	service, data, rej := r.serve(payload, peer)
	if rej != nil {
		return r.rejectReply(rej, payload, peer)
	}
	return r.encodeReply(service, data, peer)
}

// rejectReply logs a rejected request and returns its error reply, or nil
// when the reply could not be encoded. The description is in the language
// that the payload's lang field names, such as the English that msgsys
// servers request for their logs, else in Config.Lang. payload is nil
// when the request has no single payload frame.
func (r *Reference) rejectReply(rej *rejection, payload []byte, peer string) []byte {
	if errors.Is(rej.cause, errRegistryFull) {
		r.full.record(rej, peer, r.cfg.MaxServers, r.lamport())
	} else {
		r.rejects.record(rej, peer, r.lamport())
	}
	l := lang.Requested(proto.PeekLang(payload), r.cfg.Lang)
	data := &proto.StatusReply{Status: proto.StatusError, Description: rej.text.In(l)}
	return r.encodeReply(rej.service, data, peer)
}

func (r *Reference) encodeReply(service string, data any, peer string) []byte {
	reply, err := proto.Encode(service, data, r.cfg.Clocks.Meta())
	if err != nil {
		r.log.Error("encode reply failed", "service", service, "peer", peer, "err", err, "clock", r.lamport())
		return nil
	}
	return reply
}

// serve decodes a request, witnesses its clock and runs its service. It
// returns the service name and data of the reply, or why the request was
// rejected.
func (r *Reference) serve(payload []byte, peer string) (string, any, *rejection) {
	env, err := proto.Decode(payload)
	if err != nil {
		return "", nil, rejectDecode(env.Service, err)
	}
	// The clock is witnessed before the service is checked, so even a
	// request for an unknown service advances the Lamport clock.
	_, clockErr := r.cfg.Clocks.Witness(env.Data)
	if !knownService(env.Service) {
		return "", nil, rejectUnknownService(env.Service)
	}
	if clockErr != nil {
		return "", nil, rejectField(env.Service, clockErr)
	}

	switch env.Service {
	case proto.ServiceRank:
		server, rej := r.touch(env.Service, env.Data, peer)
		if rej != nil {
			return "", nil, rej
		}
		return env.Service, &proto.RankReply{Rank: server.Rank}, nil
	case proto.ServiceHeartbeat:
		if _, rej := r.touch(env.Service, env.Data, peer); rej != nil {
			return "", nil, rej
		}
		return env.Service, &heartbeatReply{}, nil
	default: // proto.ServiceList
		now := r.cfg.Now()
		list := r.registry.available(now, r.cfg.HeartbeatExpiry)
		return env.Service, &proto.ListReply{List: list, Registered: r.registry.registered(now)}, nil
	}
}

// touch serves the common part of rank and heartbeat: it reads user and
// addr, registers an unknown name with the next rank, stores a new
// endpoint, marks the server available and logs each change.
func (r *Reference) touch(service string, data proto.Data, peer string) (proto.ServerInfo, *rejection) {
	user, err := data.String("user")
	if err != nil {
		return proto.ServerInfo{}, rejectField(service, err)
	}
	name, err := proto.NormalizeName(user)
	if err != nil {
		return proto.ServerInfo{}, rejectName(service, user, err)
	}
	addr, rej := readAddr(service, data)
	if rej != nil {
		return proto.ServerInfo{}, rej
	}

	// A rank request may name the rank the server was started with, and a
	// heartbeat the rank the server uses, both msgsys additions: a server
	// keeps its rank even when this reference lost its data file. Only a
	// rank request may move a registered name to another rank, because a
	// name must get its old rank back.
	want, _, err := data.OptInt("rank")
	switch {
	case err != nil:
		return proto.ServerInfo{}, rejectField(service, err)
	case want < 0:
		return proto.ServerInfo{}, rejectField(service, &proto.FieldError{Field: "rank", Reason: proto.ReasonNegative})
	}
	res, err := r.registry.touch(name, addr, want, service == proto.ServiceRank, r.cfg.Now())
	if errors.Is(err, errRegistryFull) {
		return proto.ServerInfo{}, rejectFull(service, name, r.cfg.MaxServers, err)
	}
	if err != nil {
		return proto.ServerInfo{}, rejectStore(service, err)
	}

	s := res.server
	if removed := res.removed; removed != nil {
		r.log.Warn("forgotten server removed, registry full", "name", removed.Name, "rank", removed.Rank, "addr", removed.Addr,
			"new_name", s.Name, "max_servers", r.cfg.MaxServers, "clock", r.lamport())
	}
	if res.rankKept != 0 {
		r.rankKept.Warn(r.log, "heartbeat rank change rejected", "name", s.Name, "rank", s.Rank, "requested_rank", res.rankKept, "peer", peer, "clock", r.lamport())
	}
	if res.registered {
		r.log.Info("server registered", "name", s.Name, "rank", s.Rank, "addr", s.Addr, "clock", r.lamport())
	}
	if res.addrMoved {
		if r.shared.moved(s.Name, res.oldAddr, s.Addr, r.cfg.Now(), r.cfg.HeartbeatExpiry) {
			r.shared.log.Warn(r.log, "two servers share one name, give each its own --name", "name", s.Name, "rank", s.Rank, "addrs", []string{res.oldAddr, s.Addr}, "clock", r.lamport())
		} else {
			r.log.Info("server address changed", "name", s.Name, "rank", s.Rank, "old_addr", res.oldAddr, "addr", s.Addr, "clock", r.lamport())
		}
	}
	if res.revived {
		r.log.Info("server available", "name", s.Name, "rank", s.Rank, "addr", s.Addr, "clock", r.lamport())
	}
	return s, nil
}

func knownService(service string) bool {
	switch service {
	case proto.ServiceRank, proto.ServiceList, proto.ServiceHeartbeat:
		return true
	}
	return false
}

// replyService is the service name of an error reply: the request's when
// the reference serves it, "error" otherwise.
func replyService(service string) string {
	if knownService(service) {
		return service
	}
	return proto.ServiceError
}
