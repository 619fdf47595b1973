package replica

import (
	"context"
	"errors"
	"slices"

	"msgsys/proto"
	"msgsys/store"
)

var errRejected = errors.New("replica: peer rejected the batch")

// HandleReplicate applies a pushed batch and returns the reply frame.
func (r *Replicator) HandleReplicate(ctx context.Context, frame []byte) []byte {
	req, err := decodeReplicate(frame)
	if err != nil {
		r.badRequests.Warn(r.log, "invalid replicate request", "err", err)
		return r.replicateReply(proto.StatusError, 0)
	}
	r.cfg.Clocks.Lamport.Witness(req.Clock)

	for _, op := range req.Ops {
		if op.Origin != req.Origin {
			r.badRequests.Warn(r.log, "invalid replicate request", "origin", req.Origin, "op_origin", op.Origin)
			return r.replicateReply(proto.StatusError, 0)
		}
	}

	if len(req.Ops) == 0 {
		return r.replicateReply(proto.StatusOK, r.cfg.Store.VersionVector()[req.Origin])
	}
	version, err := r.Apply(ctx, req.Ops)
	if errors.Is(err, store.ErrInvalidOp) {
		r.badRequests.Warn(r.log, "invalid replicate request", "origin", req.Origin, "err", err)
		return r.replicateReply(proto.StatusError, 0)
	}
	if err != nil {
		r.log.Error("replicated batch not applied", "origin", req.Origin, "ops", len(req.Ops), "err", err)
		return r.replicateReply(proto.StatusError, 0)
	}
	return r.replicateReply(proto.StatusOK, version[req.Origin])
}

func (r *Replicator) replicateReply(status string, have uint64) []byte {
	return encodeReplicateReply(&ReplicateReply{Status: status, Have: have}, r.cfg.Clocks.Meta())
}

// HandleSync returns a batch of the ops the caller lacks, oldest first per
// origin, and introduces the caller as a peer.
func (r *Replicator) HandleSync(ctx context.Context, frame []byte) []byte {
	var req SyncRequest
	reply := &SyncReply{Status: proto.StatusOK}
	if _, err := proto.DecodeInto(frame, &req); err != nil {
		r.badRequests.Warn(r.log, "invalid sync request", "err", err)
		reply.Status = proto.StatusError
		return r.encode(ServiceSync, reply)
	}
	r.cfg.Clocks.Lamport.Witness(req.Clock)
	if !req.Background {
		r.notePeer(Peer{Name: req.Name, Addr: req.Addr})
	}

	mine := r.cfg.Store.VersionVector()
	origins := make([]string, 0, len(mine))
	for origin := range mine {
		origins = append(origins, origin)
	}
	slices.Sort(origins)

	reply.Done = true
	budgetOps, budgetBytes := r.cfg.BatchOps, r.cfg.BatchBytes
	for _, origin := range origins {
		have := req.Version[origin]
		if mine[origin] <= have {
			continue
		}
		if budgetOps <= 0 || budgetBytes <= 0 {
			reply.Done = false
			break
		}
		ops, err := r.cfg.Store.OpsAfter(origin, have, budgetOps, budgetBytes)
		if err != nil {
			r.log.Error("sync read failed", "origin", origin, "err", err)
			reply.Status = proto.StatusError
			return r.encode(ServiceSync, reply)
		}
		reply.Ops = append(reply.Ops, ops...)
		budgetOps -= len(ops)
		for _, op := range ops {
			budgetBytes -= opSize(op)
		}
		if len(ops) == 0 || ops[len(ops)-1].Seq < mine[origin] {
			reply.Done = false
		}
	}

	r.mu.Lock()
	if p, ok := r.peers[req.Name]; ok {
		reply.InSync = p.inSync
	}
	r.mu.Unlock()
	return r.encode(ServiceSync, reply)
}

// opSize estimates an op's encoded size for batch budgets.
func opSize(op store.Op) int {
	return 64 + len(op.Origin) + len(op.User) + len(op.Channel) + len(op.Peer) + len(op.Text) + len(op.RID)
}

func (r *Replicator) encode(service string, reply any) []byte {
	frame, err := proto.Encode(service, reply, r.cfg.Clocks.Meta())
	if err != nil {
		// Every reply type here encodes; this is a programming error.
		r.log.Error("encode failed", "service", service, "err", err)
	}
	return frame
}
