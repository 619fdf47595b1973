package replica

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"msgsys/proto"
	"msgsys/store"
)

var errRejected = errors.New("replica: peer rejected the batch")

// HandleReplicate applies pushed batches and returns a reply frame for
// each, in order. Batches that arrived together, as a peer's pipelined
// pushes do while this server was busy, reach the store in one call, so
// one append to the log covers them all. A batch that is invalid gets an
// error reply and leaves the others alone.
func (r *Replicator) HandleReplicate(ctx context.Context, frames [][]byte) [][]byte {
	replies := make([][]byte, len(frames))
	origins := make([]string, len(frames)) // of the valid batches
	var ops []store.Op
	for i, frame := range frames {
		req, err := r.checkReplicate(frame)
		if err != nil {
			replies[i] = r.replicateReply(proto.StatusError, 0)
			continue
		}
		origins[i] = req.Origin
		ops = append(ops, req.Ops...)
	}

	// Probes alone only read the version vector. Otherwise the store call
	// returns it, so it is not copied beforehand for nothing.
	var version map[string]uint64
	if len(ops) == 0 {
		version = r.cfg.Store.VersionVector()
	} else {
		var err error
		version, err = r.receive(ops)
		if err != nil {
			r.log.Error("replicated batch not applied", "ops", len(ops), "batches", len(frames), "err", err)
			version = nil
		}
	}
	for i, origin := range origins {
		switch {
		case replies[i] != nil:
		case version == nil:
			replies[i] = r.replicateReply(proto.StatusError, 0)
		default:
			replies[i] = r.replicateReply(proto.StatusOK, version[origin])
		}
	}
	return replies
}

// witness applies the receive rule to the clock of a peer's message,
// moving this server's clock by at most proto.MaxPeerJump, and logs a
// clock held back: no honest peer is that far ahead.
func (r *Replicator) witness(service string, received uint64) {
	clock, heldBack := r.cfg.Clocks.Lamport.WitnessNear(received, proto.MaxPeerJump)
	if heldBack {
		r.clockAhead.Warn(r.log, "peer clock far ahead, clock moved less", "service", service, "received", received, "clock", clock)
	}
}

// checkReplicate decodes a pushed batch and checks each op as Apply does,
// logging what it rejects.
func (r *Replicator) checkReplicate(frame []byte) (ReplicateRequest, error) {
	req, err := decodeReplicate(frame)
	if err != nil {
		r.badRequests.Warn(r.log, "invalid replicate request", "err", err)
		return req, err
	}
	r.witness(ServiceReplicate, req.Clock)

	// A probe carries its origin too, whose have the reply gives.
	if req.Origin == "" {
		err := errors.New("replica: replicate request without an origin")
		r.badRequests.Warn(r.log, "invalid replicate request", "err", err)
		return req, err
	}
	for _, op := range req.Ops {
		if op.Origin != req.Origin {
			err := fmt.Errorf("replica: op of origin %q in a batch of %q", op.Origin, req.Origin)
			r.badRequests.Warn(r.log, "invalid replicate request", "origin", req.Origin, "op_origin", op.Origin)
			return req, err
		}
		if err := store.CheckReceived(op); err != nil {
			r.badRequests.Warn(r.log, "invalid replicate request", "origin", req.Origin, "seq", op.Seq, "err", err)
			return req, err
		}
	}
	return req, nil
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
	r.witness(ServiceSync, req.Clock)
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
