package server

import (
	"context"
	"os"
	"os/signal"
	"time"

	"msgsys/replica"
)

// Pause detection. A server that was frozen (SIGSTOP, a suspended VM)
// missed the writes its peers acknowledged meanwhile, because they marked
// it lagging, yet when it resumes the broker may hand it requests again.
// A watchdog records the time several times a second; a gap much longer
// than its period means the whole process stood still.
const (
	watchdogEvery = 100 * time.Millisecond
	pauseGap      = 1500 * time.Millisecond
)

// watchdog records that the process runs, and requests a catch-up when it
// finds it did not run for pauseGap.
func (s *Server) watchdog(ctx context.Context) {
	ticker := time.NewTicker(watchdogEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			last := time.Unix(0, s.awake.Load())
			gap := now.Sub(last)
			s.lastGap.Store(int64(gap))
			if gap > pauseGap && !s.catchingUp.Load() {
				s.log.Warn("pause detected", "gap_ms", gap.Milliseconds())
				s.stepDown()
				s.requestResync()
				continue
			}
			s.awake.Store(now.UnixNano())
		}
	}
}

// watchResume records when the process continues after a stop. The
// store's log syncs read it (store.Options.Resumed), so that a sync the
// stop lengthened does not count as a slow disk.
func (s *Server) watchResume(ctx context.Context) {
	ch := make(chan os.Signal, 1)
	notifyResume(ch)
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			now := time.Now()
			s.resumed.Store(now.UnixNano())
			// The watchdog may have run first and refreshed awake, so the
			// gap it saw counts too.
			stop := max(now.Sub(time.Unix(0, s.awake.Load())), time.Duration(s.lastGap.Load()))
			s.log.Info("process continued after a stop", "stop_ms", stop.Milliseconds())
			if stop >= claimRetryTimeout {
				s.quietAfterStop(now)
			}
		}
	}
}

// quietAfterStop keeps this server from deciding channel names for
// QuietAfterStop, after a stop at least as long as the retry of a claim.
// The claims that arrived during the stop may have timed out at their
// senders, whose clients then got a failure, so deciding them would create
// channels that no client knows of. Those claims wait in the socket and are
// read within milliseconds of the continue, so a short quiet time covers
// them, and the claims sent afterwards wait little before they claim again.
func (s *Server) quietAfterStop(now time.Time) {
	quiet := s.cfg.QuietAfterStop
	s.quietUntil.Store(now.Add(quiet).UnixNano())
	s.log.Info("deciding no channel names after a stop", "for", quiet)
}

// quiet reports whether quietAfterStop keeps this server from deciding
// channel names now.
func (s *Server) quiet() bool { return s.quietLeft() > 0 }

// quietLeft returns how long the quiet time after a stop lasts still, or
// zero or less once it is over.
func (s *Server) quietLeft() time.Duration {
	return time.Duration(s.quietUntil.Load() - time.Now().UnixNano())
}

// paused reports whether the watchdog has not run for pauseGap. After a
// resume it stays true until the server has left the broker to catch up,
// which the watchdog requests. Requests served in
// that moment would read a store that may miss acknowledged writes.
func (s *Server) paused() bool {
	if time.Since(time.Unix(0, s.awake.Load())) > pauseGap {
		s.requestResync()
		return true
	}
	return false
}

// mayCoordinate reports whether this server may act as coordinator: it
// has caught up, and was not paused since. While it was paused the others
// may have elected a coordinator at an epoch it has not seen. Until it has
// caught up and learned the newest epoch, it decides no claims, runs no
// Berkeley round and wins no election. Before the first catch-up awake is
// zero, so it returns false.
func (s *Server) mayCoordinate() bool {
	return !s.catchingUp.Load() && time.Since(time.Unix(0, s.awake.Load())) <= pauseGap
}

// stepDown drops this server's own coordinator role after a pause.
func (s *Server) stepDown() {
	if a, ok := s.node.Coordinator(); ok && a.Coordinator == s.cfg.Name {
		s.node.Drop(a)
	}
}

// resyncAfterPartition makes a server that has just reached a majority of
// the servers again catch up before it may coordinate. On the minority
// side it may have missed the channels that the majority's coordinator
// created, and deciding names without them would create some twice.
func (s *Server) resyncAfterPartition() {
	if s.catchingUp.Swap(true) {
		return
	}
	s.log.Warn("majority of servers reachable again, catching up before coordinating")
	select {
	case s.healed <- struct{}{}:
	default:
	}
}

// catchUpAfterHeals runs the catch-ups that resyncAfterPartition
// requests, until ctx is done. The server goes on serving meanwhile, as
// during the partition, and only coordinating waits. Leaving the broker,
// as after a pause, would fail the requests in flight, and in a cluster of
// two a peer frozen for 1.5 s looks like a partition.
func (s *Server) catchUpAfterHeals(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.healed:
		}
		err := s.replica.CatchUp(ctx, s.catchUpPeers(ctx), s.cfg.CatchUpTimeout, replica.Expected{})
		if err != nil {
			s.log.Warn("catch-up after the partition incomplete, may coordinate again", "err", err)
		} else {
			s.log.Info("caught up after the partition")
		}

		// The others may have elected a coordinator at a newer epoch.
		s.learnEpoch(ctx)
		s.catchingUp.Store(false)
		s.node.Trigger()
	}
}

func (s *Server) markAwake() { s.awake.Store(time.Now().UnixNano()) }

func (s *Server) requestResync() {
	select {
	case s.resync <- struct{}{}:
	default:
	}
}
