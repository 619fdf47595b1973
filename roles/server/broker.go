package server

import (
	"context"
	"time"

	"msgsys/proto"
	"msgsys/replica"
)

// Broker link heartbeats: a broker that stays silent this long, PONGs
// included, is taken for gone and redialled.
const (
	brokerPing    = time.Second
	brokerTimeout = 3500 * time.Millisecond
)

// serveBroker takes client requests from the broker until ctx is done. It
// connects as a DEALER, so the broker may hand it many requests at once;
// Workers bounds how many are served concurrently. After a pause it stops
// serving, catches up, and connects again.
func (s *Server) serveBroker(ctx context.Context) {
	workers := make(chan struct{}, s.cfg.Workers)
	for ctx.Err() == nil {
		session, stop := context.WithCancel(ctx)
		go func() {
			select {
			case <-s.resync:
				stop()
			case <-session.Done():
			}
		}()
		// The name in the handshake lets the broker name this server in
		// its logs.
		proto.RedialAs(session, s.cfg.Broker, proto.Dealer, s.cfg.ClusterKey, s.cfg.Name, s.log.With("socket", "broker"), func(ctx context.Context, conn *proto.Conn) error {
			// Serving means connected to the broker, so that tools and
			// tests that wait for it can send requests at once.
			s.serving.Store(true)
			s.log.Info("serving clients", "broker", s.cfg.Broker, "clock", s.cfg.Clocks.Lamport.Value())
			defer s.serving.Store(false)
			return s.serveSession(ctx, conn, workers)
		})
		stop()
		if ctx.Err() != nil {
			break
		}
		s.catchingUp.Store(true)

		// The broker connection is closed, so the broker fails the requests
		// it handed this server and sends new ones elsewhere while this
		// server catches up.
		s.pauses.Add(1)
		s.log.Warn("server was paused, catching up before serving again")
		if err := s.replica.CatchUp(ctx, s.catchUpPeers(ctx), s.cfg.CatchUpTimeout, replica.Expected{}); err != nil {
			s.log.Warn("serving before catch-up completed", "err", err)
		}
		// The others may have elected a coordinator at a newer epoch
		// meanwhile. This server learns it before it may win again, so its
		// next announcement is not ignored as stale.
		s.learnEpoch(ctx)
		s.markAwake()
		// The watchdog and the requests that arrived while the server
		// stood still may have requested more catch-ups. This one covers
		// them all.
		select {
		case <-s.resync:
		default:
		}
		s.catchingUp.Store(false)
		s.node.Trigger()
	}
	// Wait for the requests still being served.
	for range cap(workers) {
		workers <- struct{}{}
	}
}

// catchUpPeers returns the servers to catch up from: the reference's
// current list, read afresh because the last one may predate the pause,
// and every peer replication has, in case the reference is down.
func (s *Server) catchUpPeers(ctx context.Context) []replica.Peer {
	peers := toPeers(s.refreshMembers(ctx))
	seen := make(map[string]bool, len(peers))
	for _, p := range peers {
		seen[p.Name] = true
	}
	for _, p := range s.replica.Peers() {
		if !seen[p.Name] {
			peers = append(peers, p)
		}
	}
	return peers
}

// serveSession serves the requests of one broker connection. Each request
// goes to an idle worker goroutine of the session, or to a new one when
// none is idle. Workers live as long as the session, so their stacks keep
// the size that serving a request needs: a goroutine per request grew and
// copied its stack every time, about 3 % of a server's CPU under load.
func (s *Server) serveSession(ctx context.Context, conn *proto.Conn, workers chan struct{}) error {
	go proto.Heartbeat(ctx, conn, brokerPing, brokerTimeout)
	jobs := make(chan brokerRequest)
	defer close(jobs)
	for {
		frames, err := conn.Recv()
		if err != nil {
			return err
		}
		envelope, payload, ok := splitEnvelope(frames)
		if !ok {
			s.badInput.Warn(s.log, "request rejected", "reason", "not one frame after the delimiter", "frames", len(frames))
			s.rejectFrames(conn, frames)
			continue
		}
		select {
		case workers <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		req := brokerRequest{envelope, payload}
		select {
		case jobs <- req:
		default:
			go s.serveRequests(ctx, conn, workers, req, jobs)
		}
	}
}

// brokerRequest is a client request as the broker forwards it: the
// routing envelope to send back and the request frame.
type brokerRequest struct {
	envelope [][]byte
	payload  []byte
}

// serveRequests serves first and then each request of jobs, until the
// session closes jobs. Each request holds a slot of workers while it is
// served.
func (s *Server) serveRequests(ctx context.Context, conn *proto.Conn, workers chan struct{}, first brokerRequest, jobs <-chan brokerRequest) {
	req, ok := first, true
	for ok {
		reply := s.handleClient(ctx, req.payload)
		if err := conn.Send(append(req.envelope, []byte{}, reply)...); err != nil {
			s.log.Debug("reply not sent", "err", err)
		}
		<-workers
		req, ok = <-jobs
	}
}

// rejectFrames sends an error reply to a request that has more than one
// frame after its delimiter. Dropping the request would leave the broker
// waiting for a reply until it takes this server for stalled.
func (s *Server) rejectFrames(conn *proto.Conn, frames [][]byte) {
	if reply := s.rejectReply(frames, s.cfg.Lang); reply != nil {
		if err := conn.Send(reply...); err != nil {
			s.log.Debug("reply not sent", "err", err)
		}
	}
}

// rejectReply returns the error reply, in language l, to a request that
// has more than one frame after its delimiter, or nil when it has no
// delimiter to route a reply by.
func (s *Server) rejectReply(frames [][]byte, l string) [][]byte {
	for i, frame := range frames {
		if len(frame) == 0 {
			return append(frames[:i:i], []byte{}, s.errorReply(proto.ServiceError, textFrameCount.In(l)))
		}
	}
	return nil
}
