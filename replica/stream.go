package replica

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zeromq/zmq4"

	"msgsys/proto"
)

// maxInFlight is how many replicate batches a sender keeps outstanding to
// one peer. With one, an op sequenced while a batch is out waits for that
// batch's round trip and then its own. The peer replies to the requests
// of one connection in order, so replies match batches by position.
const maxInFlight = 4

var (
	errReprobe = errors.New("replica: peer must be probed again")
	errGap     = errors.New("replica: peer lacks ops before a batch")
)

// flight is one replicate request awaiting its reply.
type flight struct {
	probe  bool      // an empty batch, sent for the peer's position
	upTo   uint64    // last seq of the batch
	last   uint64    // newest own seq when the batch was sent
	sentAt time.Time // for the reply deadline
}

// stream pushes own ops to p over one connection until the connection
// fails, the peer rejects a batch or lacks ops before one, the peer must be
// probed again, or ctx ends. It first probes the peer's position, then
// sends batches in sequence order, at most maxInFlight at a time, and
// probes again after probeEvery without a batch, so that a peer that
// restarted empty is noticed without waiting for a write.
func (r *Replicator) stream(ctx context.Context, p *peer) error {
	dialTimeout := min(r.cfg.RequestTimeout, 2*time.Second)
	dialCtx, cancel := context.WithTimeout(ctx, dialTimeout)
	conn, err := proto.DialKey(dialCtx, p.Addr, zmq4.Dealer, dialTimeout, r.cfg.ClusterKey)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close()
	replies := make(chan [][]byte, maxInFlight)
	go func() {
		defer close(replies)
		for {
			frames, err := conn.Recv()
			if err != nil {
				return
			}
			select {
			case replies <- frames:
			case <-conn.Done():
				return
			}
		}
	}()

	var inflight []flight
	var sent uint64 // the peer holds, or is being sent, every own op up to this
	send := func(f flight, req *ReplicateRequest) error {
		frame := encodeReplicate(req, r.cfg.Clocks.Meta())
		f.sentAt = time.Now()
		inflight = append(inflight, f)
		return conn.Send([]byte{}, frame)
	}
	r.mu.Lock()
	last := r.lastSeq()
	r.mu.Unlock()
	if err := send(flight{probe: true, last: last}, &ReplicateRequest{Origin: r.cfg.Origin}); err != nil {
		return err
	}

	idle := time.NewTimer(probeEvery)
	defer idle.Stop()
	deadline := time.NewTimer(r.cfg.RequestTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		last, known := r.lastSeq(), p.known
		appended := r.appended.wait()
		r.mu.Unlock()
		probing := len(inflight) > 0 && inflight[0].probe
		if !known && !probing {
			return errReprobe
		}

		// The probe's reply gives the position to start from, so batches
		// wait for it.
		for !probing && len(inflight) < maxInFlight && sent < last {
			ops, err := r.ownOpsAfter(sent)
			if err != nil {
				return err
			}
			if len(ops) == 0 {
				break
			}
			upTo := ops[len(ops)-1].Seq
			if err := send(flight{upTo: upTo, last: last}, &ReplicateRequest{Origin: r.cfg.Origin, Ops: ops}); err != nil {
				return err
			}
			sent = upTo
		}
		if len(inflight) == 0 {
			if known && sent >= last {
				r.setInSync(p, true)
			}
		} else {
			deadline.Reset(time.Until(inflight[0].sentAt.Add(r.cfg.RequestTimeout)))
		}

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-appended:
		case <-deadline.C:
			if len(inflight) > 0 && time.Since(inflight[0].sentAt) >= r.cfg.RequestTimeout {
				return proto.ErrTimeout
			}
		case <-idle.C:
			idle.Reset(probeEvery)
			if len(inflight) == 0 {
				if err := send(flight{probe: true, last: last}, &ReplicateRequest{Origin: r.cfg.Origin}); err != nil {
					return err
				}
			}
		case frames, ok := <-replies:
			if !ok {
				return fmt.Errorf("proto: %s closed the connection: %w", p.Addr, proto.ErrClosed)
			}
			if len(inflight) == 0 {
				return errors.New("replica: reply without a request")
			}
			f := inflight[0]
			inflight = inflight[1:]
			have, err := r.replyPosition(frames)
			if err != nil {
				return err
			}
			if f.probe {
				sent = have // resume from the peer's position, which may be lower after a restart
			} else {
				idle.Reset(probeEvery)
				if have < f.upTo {
					return errGap
				}
			}
			r.noteAcked(p, have, f.last)
		}
	}
}

// replyPosition decodes a replicate reply and returns the peer's position.
func (r *Replicator) replyPosition(frames [][]byte) (uint64, error) {
	if len(frames) == 0 {
		return 0, errors.New("replica: empty reply")
	}
	reply, err := decodeReplicateReply(frames[len(frames)-1])
	if (err != nil || !proto.IsSuccess(reply.Status)) && isUnsupportedReply(frames[len(frames)-1], "have") {
		return 0, errUnsupported
	}
	if err != nil {
		return 0, err
	}
	r.witness(ServiceReplicate, reply.Clock)
	if !proto.IsSuccess(reply.Status) {
		return 0, errRejected
	}
	return reply.Have, nil
}

// noteAcked records a peer's position from a reply. The peer is in sync
// once it holds every op sequenced before the request was sent. Ops
// sequenced since then wait for a later reply, so under constant load a
// peer still becomes in sync.
func (r *Replicator) noteAcked(p *peer, have, last uint64) {
	r.mu.Lock()
	p.acked, p.known, p.reachable, p.replied = have, true, true, true
	r.clearUnsupportedLocked(p.Name)
	r.releaseLocked()
	r.mu.Unlock()
	if have >= last {
		r.setInSync(p, true)
	}
}
