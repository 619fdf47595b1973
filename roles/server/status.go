package server

import (
	"msgsys/replica"
)

// StatusReply is a server's state as msgsys status shows it. Started is
// set once the server has registered and caught up after its start, so
// Started without Serving means that the broker connection is down and the
// server is dialling it again. Servers older than that field omit it.
type StatusReply struct {
	Status      string         `msgpack:"status" json:"-"`
	Name        string         `msgpack:"name" json:"name"`
	Rank        int64          `msgpack:"rank" json:"rank"`
	Addr        string         `msgpack:"addr" json:"addr"`
	Coordinator string         `msgpack:"coordinator" json:"coordinator"`
	Epoch       uint64         `msgpack:"epoch" json:"epoch"`
	Offset      float64        `msgpack:"offset" json:"offset_seconds"`
	Lamport     uint64         `msgpack:"lamport" json:"lamport"`
	Users       int            `msgpack:"users" json:"users"`
	Channels    int            `msgpack:"channels" json:"channels"`
	Messages    int            `msgpack:"messages" json:"messages"`
	Serving     bool           `msgpack:"serving" json:"serving"`
	Started     bool           `msgpack:"started" json:"started"`
	Pauses      int64          `msgpack:"pauses" json:"pauses"`
	Members     []string       `msgpack:"members" json:"members"`
	Replica     replica.Status `msgpack:"replica" json:"replica"`
	Timestamp   string         `msgpack:"timestamp" json:"-"`
	Clock       uint64         `msgpack:"clock" json:"-"`
}

func (s *Server) status() *StatusReply {
	counts := s.store.Counts()
	reply := &StatusReply{
		Status:   "OK",
		Name:     s.cfg.Name,
		Rank:     s.Rank(),
		Addr:     s.cfg.Addr,
		Offset:   s.cfg.Clocks.Physical.Offset().Seconds(),
		Lamport:  s.cfg.Clocks.Lamport.Value(),
		Users:    counts.Users,
		Channels: counts.Channels,
		Messages: counts.Posts + counts.Directs,
		Serving:  s.Serving(),
		Started:  s.started.Load(),
		Pauses:   s.pauses.Load(),
	}
	if a, ok := s.Coordinator(); ok {
		reply.Coordinator, reply.Epoch = a.Coordinator, a.Epoch
	}
	if s.replica != nil {
		reply.Replica = s.replica.Status()
	}
	select {
	case <-s.ready:
		for _, m := range s.node.Members() {
			reply.Members = append(reply.Members, m.Name)
		}
	default:
	}
	return reply
}
