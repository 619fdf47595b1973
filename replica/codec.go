package replica

import (
	"fmt"

	"msgsys/proto"
	"msgsys/store"
)

// Every write crosses the network as a replicate request and its reply,
// twice over with two peers, so these two messages are encoded and
// decoded by hand. The frames are the ones the reflective codec makes
// from ReplicateRequest and ReplicateReply, and other messages keep using
// it (TestReplicateCodecMatchesReflection).

// maxReceivedOps bounds the ops of one replicate request. Senders send at
// most Config.BatchOps (1000) at a time. An op takes one byte at least on
// the wire and about 160 in memory, so without a bound a 64 MiB frame
// could make the decoder allocate gigabytes.
const maxReceivedOps = 1 << 16

// encodeReplicate returns the frame of req with meta's timestamp and clock.
func encodeReplicate(req *ReplicateRequest, meta proto.Meta) []byte {
	size := 128 + len(req.Origin)
	for i := range req.Ops {
		op := &req.Ops[i]
		size += 96 + len(op.Origin) + len(op.User) + len(op.Channel) + len(op.Peer) + len(op.Text) + len(op.RID)
	}
	b := make([]byte, 0, size)
	b = proto.AppendEnvelope(b, ServiceReplicate, 4)
	b = proto.AppendString(b, "origin")
	b = proto.AppendString(b, req.Origin)
	b = proto.AppendString(b, "ops")
	b = proto.AppendArrayHeader(b, len(req.Ops))
	for i := range req.Ops {
		b = appendOp(b, &req.Ops[i])
	}
	return proto.AppendMeta(b, meta)
}

// appendOp appends op as the map that store.Op's msgpack tags describe:
// the seven fields every op has, then those of its kind when not empty.
func appendOp(b []byte, op *store.Op) []byte {
	n := 7
	for _, s := range [...]string{op.Channel, op.Peer, op.Text, op.RID} {
		if s != "" {
			n++
		}
	}
	b = proto.AppendMapHeader(b, n)
	b = proto.AppendString(b, "o")
	b = proto.AppendString(b, op.Origin)
	b = proto.AppendString(b, "s")
	b = proto.AppendUint(b, op.Seq)
	b = proto.AppendString(b, "r")
	b = proto.AppendInt(b, op.Rank)
	b = proto.AppendString(b, "c")
	b = proto.AppendUint(b, op.Clock)
	b = proto.AppendString(b, "t")
	b = proto.AppendInt(b, op.Time)
	b = proto.AppendString(b, "k")
	b = proto.AppendString(b, op.Kind)
	b = proto.AppendString(b, "u")
	b = proto.AppendString(b, op.User)
	for _, f := range [...]struct{ key, value string }{{"ch", op.Channel}, {"p", op.Peer}, {"x", op.Text}, {"id", op.RID}} {
		if f.value != "" {
			b = proto.AppendString(b, f.key)
			b = proto.AppendString(b, f.value)
		}
	}
	return b
}

// decodeReplicate reads a replicate request. Unknown keys are skipped, and
// a value of the wrong type fails the request, as proto.DecodeInto does.
func decodeReplicate(frame []byte) (ReplicateRequest, error) {
	var req ReplicateRequest
	service, err := proto.ReadEnvelope(frame, func(r *proto.Reader, key []byte) {
		switch string(key) {
		case "origin":
			req.Origin = r.String()
		case "ops":
			n := r.ArrayLen()
			if n > maxReceivedOps {
				r.Fail(fmt.Errorf("replica: replicate request of %d ops, more than %d", n, maxReceivedOps))
				return
			}
			req.Ops = make([]store.Op, n)
			for i := range req.Ops {
				readOp(r, &req.Ops[i], req.Origin)
			}
		case "timestamp":
			req.Timestamp = r.String()
		case "clock":
			req.Clock = r.Clock()
		default:
			r.Skip()
		}
	})
	if err != nil {
		return ReplicateRequest{}, err
	}
	if service != ServiceReplicate {
		return ReplicateRequest{}, fmt.Errorf("replica: %q is not a replicate request", service)
	}
	return req, nil
}

// readOp reads one op. An op's origin is the batch's origin and its kind
// one of four, so both share the strings already made rather than
// allocating their own.
func readOp(r *proto.Reader, op *store.Op, origin string) {
	for range r.MapLen() {
		switch string(r.Key()) {
		case "o":
			op.Origin = shared(r.StringBytes(), origin)
		case "s":
			op.Seq = r.Uint()
		case "r":
			op.Rank = r.Int()
		case "c":
			op.Clock = r.Uint()
		case "t":
			op.Time = r.Int()
		case "k":
			op.Kind = shared(r.StringBytes(), store.KindPost, store.KindDirect, store.KindLogin, store.KindChannel)
		case "u":
			op.User = r.String()
		case "ch":
			op.Channel = r.String()
		case "p":
			op.Peer = r.String()
		case "x":
			op.Text = r.String()
		case "id":
			op.RID = r.String()
		default:
			r.Skip()
		}
	}
}

// shared returns the one of known that equals b, or a copy of b.
func shared(b []byte, known ...string) string {
	for _, s := range known {
		if string(b) == s {
			return s
		}
	}
	return string(b)
}

// encodeReplicateReply returns the frame of reply with meta's timestamp
// and clock.
func encodeReplicateReply(reply *ReplicateReply, meta proto.Meta) []byte {
	b := make([]byte, 0, 96)
	b = proto.AppendEnvelope(b, ServiceReplicate, 4)
	b = proto.AppendString(b, "status")
	b = proto.AppendString(b, reply.Status)
	b = proto.AppendString(b, "have")
	b = proto.AppendUint(b, reply.Have)
	return proto.AppendMeta(b, meta)
}

// decodeReplicateReply reads a replicate reply.
func decodeReplicateReply(frame []byte) (ReplicateReply, error) {
	var reply ReplicateReply
	_, err := proto.ReadEnvelope(frame, func(r *proto.Reader, key []byte) {
		switch string(key) {
		case "status":
			reply.Status = r.String()
		case "have":
			reply.Have = r.Uint()
		case "timestamp":
			reply.Timestamp = r.String()
		case "clock":
			reply.Clock = r.Clock()
		default:
			r.Skip()
		}
	})
	return reply, err
}
