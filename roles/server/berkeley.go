package server

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"msgsys/clock"
	"msgsys/election"
	"msgsys/proto"
	"msgsys/store"
)

// AdjustRequest carries a Berkeley correction from the coordinator, in
// seconds, to be added to the receiver's clock.
type AdjustRequest struct {
	Correction float64 `msgpack:"correction"`
	Epoch      uint64  `msgpack:"epoch"`
	Timestamp  string  `msgpack:"timestamp"`
	Clock      uint64  `msgpack:"clock"`
}

// maxCorrection bounds a Berkeley correction a server applies. Skews of
// hours are legal (a clock set to the wrong time zone), a year is not.
const maxCorrection = 365 * 24 * time.Hour

// countMessages counts client posts and direct messages applied here,
// the coordinator's trigger for a Berkeley round every BerkeleyMessages.
func (s *Server) countMessages(ops []store.Op) {
	if s.cfg.BerkeleyMessages <= 0 {
		return
	}
	for _, op := range ops {
		if op.Kind != store.KindPost && op.Kind != store.KindDirect {
			continue
		}
		if s.messages.Add(1)%int64(s.cfg.BerkeleyMessages) == 0 {
			select {
			case s.berkeley <- struct{}{}:
			default:
			}
		}
	}
}

// berkeleyMinGap is the least time between the starts of two Berkeley
// rounds. Under load, ten messages arrive faster than a round's dozen
// round trips complete, and back-to-back rounds took an eighth of the
// coordinator's CPU at 1,500 messages a second while correcting nothing
// that drifts in a tenth of a second.
const berkeleyMinGap = 100 * time.Millisecond

// berkeleyLogEvery is the longest time between two berkeley round lines at
// info level (roundLogLevel).
const berkeleyLogEvery = 10 * time.Second

// runBerkeley runs a synchronisation round on a timer and after every
// BerkeleyMessages messages, whenever this server coordinates. Rounds
// never overlap and start at least berkeleyMinGap apart.
func (s *Server) runBerkeley(ctx context.Context) {
	if s.cfg.BerkeleyEvery <= 0 {
		return
	}
	ticker := time.NewTicker(s.cfg.BerkeleyEvery)
	defer ticker.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-s.berkeley:
		}
		if wait := berkeleyMinGap - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		last = time.Now()
		a, _ := s.node.Coordinator()
		switch {
		case s.node.IsCoordinator():
			s.berkeleyRound(ctx, a.Epoch)
		case s.isDeputy():
			// A coordinator of another implementation reads clocks but
			// sends no correction that msgsys servers apply, so the
			// deputy synchronises the msgsys servers among themselves.
			self := election.Member{Name: s.cfg.Name, Rank: s.Rank(), Addr: s.cfg.Addr}
			s.berkeleyRoundOver(ctx, a.Epoch, append(s.deputyCandidates(a), self))
		}
	}
}

// berkeleyRound runs berkeleyRoundOver on every available server.
func (s *Server) berkeleyRound(ctx context.Context, epoch uint64) {
	s.berkeleyRoundOver(ctx, epoch, s.node.Members())
}

// berkeleyRoundOver reads the clocks of members, this server's own
// included, and sends each its correction towards the average of the
// readings that are not outliers. A member whose last correction was
// rejected is left out (adjustable).
func (s *Server) berkeleyRoundOver(ctx context.Context, epoch uint64, members []election.Member) {
	members = s.adjustable(members, epoch)
	readings := make([]clock.Reading, 0, len(members))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range members {
		if m.Name == s.cfg.Name {
			now := s.cfg.Clocks.Physical.Now()
			mu.Lock()
			readings = append(readings, clock.Reading{Name: m.Name, Remote: now, Sent: now, Received: now})
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if reading, ok := s.readClock(ctx, m); ok {
				mu.Lock()
				readings = append(readings, reading)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(readings) < 2 {
		return
	}

	result := clock.Round(readings, s.cfg.BerkeleyBound)
	for _, m := range members {
		correction, ok := result.Corrections[m.Name]
		if !ok {
			continue
		}
		if m.Name == s.cfg.Name {
			s.cfg.Clocks.Physical.Adjust(correction)
			continue
		}
		req := &AdjustRequest{Correction: correction.Seconds(), Epoch: epoch}
		env, err := s.ask(ctx, "berkeley", m.Addr, serviceAdjust, req, s.cfg.RequestTimeout)
		if err != nil {
			s.berkeleyFailed.Warn(s.log, "clock correction not delivered", "peer", m.Name, "err", err)
			continue
		}
		if status, _, _ := env.Data.OptString("status"); !proto.IsSuccess(status) {
			s.rejectedAdjust(m.Name, epoch, env)
		}
	}
	level := s.roundLogLevel(result.Corrections)
	s.log.Log(ctx, level, "berkeley round", "servers", len(readings), "offsets", millis(result.Offsets), "corrections", millis(result.Corrections), "excluded", result.Excluded, "residual_ms", float64(result.Residual().Microseconds())/1000, "clock", s.cfg.Clocks.Lamport.Value())
}

// roundLogLevel returns info for a round that corrected a clock by a
// millisecond or more, or that comes berkeleyLogEvery after the last one
// logged at info, and debug otherwise. Under load rounds follow every 10
// messages, several a second, and most correct almost nothing.
func (s *Server) roundLogLevel(corrections map[string]time.Duration) slog.Level {
	now := time.Now()
	notable := now.Sub(time.Unix(0, s.roundLogged.Load())) >= berkeleyLogEvery
	for _, c := range corrections {
		if c.Abs() >= time.Millisecond {
			notable = true
		}
	}
	if !notable {
		return slog.LevelDebug
	}
	s.roundLogged.Store(now.UnixNano())
	return slog.LevelInfo
}

// adjustable returns members without the servers whose last correction
// at epoch was rejected. Such a server, as one of another implementation
// that lacks adjust, keeps its clock, so its reading would pull every
// msgsys server towards it round after round while the residual showed
// a small spread. It is tried again after standardRetry. A server that
// registered no address cannot be read and is left out too.
func (s *Server) adjustable(members []election.Member, epoch uint64) []election.Member {
	now := time.Now()
	included := make([]election.Member, 0, len(members))
	for _, m := range members {
		if m.Addr == "" {
			continue
		}
		marked, expired := s.noAdjust.has(m.Name, epoch, now)
		if expired {
			s.log.Info("server included in clock synchronisation again", "peer", m.Name)
		}
		if !marked {
			included = append(included, m)
		}
	}
	return included
}

// rejectedAdjust leaves name out of the Berkeley rounds of epoch for
// standardRetry, because it replied to its correction with an error, and
// logs it once per change.
func (s *Server) rejectedAdjust(name string, epoch uint64, env proto.Envelope) {
	if !s.noAdjust.mark(name, epoch, time.Now()) {
		return
	}
	description, _, _ := env.Data.OptString("description")
	s.log.Warn("server left out of clock synchronisation", "peer", name, "reason", "clock correction rejected", "description", description, "retry_after", standardRetry)
}

// clockSamples is how many readings the coordinator takes of each
// server's clock per round. It keeps the one with the shortest round trip,
// as Cristian's algorithm does: its error is bounded by the smallest delay,
// and the first request of a connection, which pays for the handshake,
// cannot skew the estimate.
const clockSamples = 3

// readClock reads one server's clock with the standard clock request.
func (s *Server) readClock(ctx context.Context, m election.Member) (clock.Reading, bool) {
	var best clock.Reading
	found := false
	for range clockSamples {
		reading, err := s.sampleClock(ctx, m)
		if err != nil {
			s.berkeleyFailed.Warn(s.log, "clock reading failed", "peer", m.Name, "err", err)
			break
		}
		if !found || reading.Received.Sub(reading.Sent) < best.Received.Sub(best.Sent) {
			best, found = reading, true
		}
	}
	return best, found
}

func (s *Server) sampleClock(ctx context.Context, m election.Member) (clock.Reading, error) {
	sent := s.cfg.Clocks.Physical.Now()
	env, err := s.ask(ctx, "berkeley", m.Addr, proto.ServiceClock, &proto.EmptyRequest{}, s.cfg.RequestTimeout)
	received := s.cfg.Clocks.Physical.Now()
	if err != nil {
		return clock.Reading{}, err
	}
	remote, _, err := proto.Data{"timestamp": env.Data["time"]}.Timestamp()
	if err != nil || env.Data["time"] == nil {
		return clock.Reading{}, fmt.Errorf("server: invalid clock reading %v", env.Data["time"])
	}
	return clock.Reading{Name: m.Name, Remote: remote, Sent: sent, Received: received}, nil
}

// handleAdjust applies a correction sent by the coordinator. Its error
// descriptions are in language l.
func (s *Server) handleAdjust(data proto.Data, l string) []byte {
	value, ok := data["correction"]
	correction, isFloat := value.(float64)
	if !ok || !isFloat {
		if n, isInt, err := data.OptInt("correction"); err == nil && isInt {
			correction = float64(n)
		} else {
			return s.errorReply(serviceAdjust, textFieldType.In(l)+"correction")
		}
	}
	// NaN, infinities and corrections beyond a year would stop the clock
	// or throw it out of any range a reading can repair.
	if math.IsNaN(correction) || math.IsInf(correction, 0) || math.Abs(correction) > maxCorrection.Seconds() {
		s.log.Warn("invalid clock correction ignored", "correction", correction)
		return s.errorReply(serviceAdjust, textFieldType.In(l)+"correction")
	}
	// A correction from a coordinator of an older epoch, one that was
	// frozen or cut off while another took over, is stale.
	if epoch, ok, _ := data.OptInt("epoch"); ok && epoch >= 0 && uint64(epoch) < s.node.Epoch() {
		s.log.Warn("stale clock correction ignored", "epoch", epoch, "current_epoch", s.node.Epoch())
		return s.errorReply(serviceAdjust, textStaleCoordinator.In(l))
	}
	s.cfg.Clocks.Physical.Adjust(time.Duration(correction * float64(time.Second)))
	return s.encode(serviceAdjust, &proto.StatusReply{Status: proto.StatusOK})
}

// millis renders durations as milliseconds, sorted by name, for logs.
func millis(values map[string]time.Duration) []string {
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, name := range names {
		out = append(out, name+"="+formatMillis(values[name]))
	}
	return out
}

func formatMillis(d time.Duration) string {
	ms := math.Round(float64(d)/float64(time.Millisecond)*100) / 100
	if ms == 0 {
		ms = 0 // a few negative microseconds would print as -0.00
	}
	return strconv.FormatFloat(ms, 'f', 2, 64) + "ms"
}
