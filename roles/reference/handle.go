package reference

import (
	"errors"
	"time"

	"msgsys/proto"
)

// heartbeatReply is the data of a heartbeat reply, which carries only the
// metadata every message has.
type heartbeatReply struct {
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// serveConn serves the requests of one connection in order until it
// closes. A REQ peer sends ["", payload], and a peer behind a proxy may add
// routing frames before the empty one. Every frame before the payload goes
// back unchanged in front of the reply.
func (r *Reference) serveConn(conn *proto.Conn) {
	peer := conn.RemoteAddr()
	for {
		frames, err := conn.Recv()
		if err != nil {
			if !errors.Is(err, proto.ErrClosed) {
				r.log.Warn("connection failed", "peer", peer, "err", err, "clock", r.lamport())
			}
			return
		}
		if len(frames) == 0 {
			continue
		}

		reply := r.handle(frames[len(frames)-1], peer)
		if reply == nil {
			continue
		}
		out := make([][]byte, 0, len(frames))
		out = append(out, frames[:len(frames)-1]...)
		out = append(out, reply)
		if err := conn.Send(out...); err != nil {
			r.log.Warn("send reply failed", "peer", peer, "err", err, "clock", r.lamport())
			return
		}
	}
}

// handle serves one request payload and returns the reply payload, or nil
// when no reply could be encoded.
func (r *Reference) handle(payload []byte, peer string) []byte {
	service, data, rej := r.serve(payload)
	if rej != nil {
		r.rejects.record(rej, peer, r.lamport())
		service = rej.service
		data = &proto.StatusReply{Status: proto.StatusError, Description: rej.text.In(r.cfg.Lang)}
	}
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
func (r *Reference) serve(payload []byte) (string, any, *rejection) {
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
		server, rej := r.touch(env.Service, env.Data)
		if rej != nil {
			return "", nil, rej
		}
		return env.Service, &proto.RankReply{Rank: server.Rank}, nil
	case proto.ServiceHeartbeat:
		if _, rej := r.touch(env.Service, env.Data); rej != nil {
			return "", nil, rej
		}
		return env.Service, &heartbeatReply{}, nil
	default: // proto.ServiceList
		list := r.registry.available(time.Now(), r.cfg.HeartbeatExpiry)
		return env.Service, &proto.ListReply{List: list, Registered: r.registry.registered(time.Now())}, nil
	}
}

// touch serves the common part of rank and heartbeat: it reads user and
// addr, registers an unknown name with the next rank, stores a new
// endpoint, marks the server available and logs each change.
func (r *Reference) touch(service string, data proto.Data) (proto.ServerInfo, *rejection) {
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
	// keeps its rank even when this reference lost its data file.
	var want int64
	if n, ok, err := data.OptInt("rank"); err == nil && ok && n > 0 {
		want = n
	}
	res, err := r.registry.touch(name, addr, want, time.Now())
	if err != nil {
		return proto.ServerInfo{}, rejectStore(service, err)
	}

	s := res.server
	if res.registered {
		r.log.Info("server registered", "name", s.Name, "rank", s.Rank, "addr", s.Addr, "clock", r.lamport())
	}
	if res.addrMoved {
		r.log.Info("server address changed", "name", s.Name, "rank", s.Rank, "old_addr", res.oldAddr, "addr", s.Addr, "clock", r.lamport())
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
