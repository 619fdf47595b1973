package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"msgsys/election"
	"msgsys/lang"
	"msgsys/proto"
	"msgsys/replica"
)

// Services of the server-to-server endpoint that msgsys adds to the
// standard election and clock; docs/replication.md describes them.
const (
	serviceCoordinator = "coordinator" // a coordinator announcement sent directly
	serviceAdjust      = "adjust"      // a Berkeley correction
	serviceClaim       = "claim"       // ask the coordinator to create a channel
	serviceStatus      = "status"      // state for msgsys status
	serviceBackup      = "backup"      // a consistent copy of the store for msgsys dump
	serviceReach       = "reach"       // ping a member on the sender's behalf
)

// servePeer reads requests from one connection of the server-to-server
// endpoint. REQ peers send one at a time; DEALER peers may pipeline, and
// each reply keeps its request's envelope. Requests that arrived together
// get their replies in one write, and consecutive pushes among them reach
// the store together (replica.HandleReplicate).
func (s *Server) servePeer(conn *proto.Conn) {
	ctx := context.Background()
	conn.SkipOversized()
	var requests [][][]byte
	for {
		var err error
		requests, err = readArrived(conn, requests[:0])
		var tooLarge *proto.MessageTooLargeError
		if err != nil && !errors.As(err, &tooLarge) {
			s.logPeerRecvFailure(conn, err)
			return
		}
		replies := s.replyToPeer(ctx, conn, requests)
		if tooLarge != nil {
			if reply := s.rejectTooLarge(conn, tooLarge); reply != nil {
				replies = append(replies, reply)
			}
		}
		if err := conn.SendBatch(replies); err != nil {
			return
		}
	}
}

// rejectTooLarge returns the error reply to a request above the transport
// limit, which Recv read past without keeping, or nil when its envelope
// has no delimiter to route a reply by.
func (s *Server) rejectTooLarge(conn *proto.Conn, e *proto.MessageTooLargeError) [][]byte {
	s.badInput.Warn(s.log, "peer request rejected", "peer", conn.RemoteAddr(), "reason", "too large", "bytes", e.Bytes, "frames", e.Frames)
	for i, frame := range e.Envelope {
		if len(frame) == 0 {
			return append(e.Envelope[:i:i], []byte{}, s.errorReply(proto.ServiceError, describe(e, lang.EN)))
		}
	}
	return nil
}

// logPeerRecvFailure logs why a server-to-server connection failed, unless
// the peer closed it. A message too large to read past is logged at warn
// level, rate-limited, and other failures, such as a reset, at debug level.
func (s *Server) logPeerRecvFailure(conn *proto.Conn, err error) {
	switch {
	case errors.Is(err, proto.ErrClosed):
	case errors.Is(err, proto.ErrMessageTooLarge):
		s.badInput.Warn(s.log, "peer connection closed, message too large to read", "peer", conn.RemoteAddr(), "err", err)
	default:
		s.log.Debug("peer connection failed", "peer", conn.RemoteAddr(), "err", err)
	}
}

// maxPeerBatch bounds how many requests servePeer replies to with one write.
const maxPeerBatch = 16

// readArrived waits for one message, then appends those that have already
// arrived whole behind it, up to maxPeerBatch. Only the first may wait
// for the network, so a reply never waits for a later request, and the
// others fit in the connection's read buffer.
func readArrived(conn *proto.Conn, messages [][][]byte) ([][][]byte, error) {
	for len(messages) == 0 || (len(messages) < maxPeerBatch && conn.Ready()) {
		frames, err := conn.Recv()
		if err != nil {
			return messages, err
		}
		messages = append(messages, frames)
	}
	return messages, nil
}

// replyToPeer returns a reply message for each request, in order. A run
// of consecutive pushes reaches the store in one call, and every other
// request is handled on its own, after every request before it.
func (s *Server) replyToPeer(ctx context.Context, conn *proto.Conn, requests [][][]byte) [][][]byte {
	replies := make([][][]byte, 0, len(requests))
	for i := 0; i < len(requests); i++ {
		envelope, payload, ok := splitEnvelope(requests[i])
		if !ok {
			// A REQ peer waits for a reply to every message, so one with
			// a delimiter but several frames after it gets an error reply.
			// One without a delimiter has no route back and gets none.
			s.badInput.Warn(s.log, "peer request rejected", "peer", conn.RemoteAddr(), "reason", "not one frame after the delimiter", "frames", len(requests[i]))
			if reply := s.rejectReply(requests[i], lang.EN); reply != nil {
				replies = append(replies, reply)
			}
			continue
		}
		if !isPush(payload) {
			replies = append(replies, append(envelope, []byte{}, s.handlePeer(ctx, payload)))
			continue
		}

		envelopes, pushes := [][][]byte{envelope}, [][]byte{payload}
		for i+1 < len(requests) {
			envelope, payload, ok := splitEnvelope(requests[i+1])
			if !ok || !isPush(payload) {
				break
			}
			envelopes, pushes = append(envelopes, envelope), append(pushes, payload)
			i++
		}
		for k, reply := range s.replica.HandleReplicate(ctx, pushes) {
			replies = append(replies, append(envelopes[k], []byte{}, reply))
		}
	}
	return replies
}

// isPush reports whether payload is a replicate request.
func isPush(payload []byte) bool {
	service, _ := proto.PeekService(payload)
	return service == replica.ServiceReplicate
}

// splitEnvelope splits [envelope..., "", payload] into its parts. REQ
// peers send only the delimiter; the envelope is then empty.
func splitEnvelope(frames [][]byte) ([][]byte, []byte, bool) {
	for i, frame := range frames {
		if len(frame) == 0 {
			if i != len(frames)-2 {
				return nil, nil, false
			}
			envelope := make([][]byte, i)
			copy(envelope, frames[:i])
			return envelope, frames[i+1], true
		}
	}
	return nil, nil, false
}

// peerLang returns the language of the error descriptions in replies on
// the server-to-server endpoint: the one that the request's lang field
// names, as msgsys dump sends for the person who runs it, and English
// otherwise. Servers send the other requests and only log the
// descriptions they get back, and logs are in English.
func peerLang(payload []byte) string {
	return lang.Requested(proto.PeekLang(payload), lang.EN)
}

func (s *Server) handlePeer(ctx context.Context, payload []byte) []byte {
	// Checked first, so that a large frame of junk is described as too
	// large rather than as unreadable.
	if len(payload) > proto.MaxFrameBytes {
		s.badInput.Warn(s.log, "invalid peer request", "reason", "too large", "bytes", len(payload))
		return s.errorReply(proto.ServiceError, describe(proto.ErrFrameTooLarge, lang.EN))
	}
	service, err := proto.PeekService(payload)
	if err != nil {
		s.badInput.Warn(s.log, "invalid peer request", "err", err)
		return s.errorReply(proto.ServiceError, describe(err, peerLang(payload)))
	}
	if service == replica.ServiceSync {
		return s.replica.HandleSync(ctx, payload)
	}

	env, err := proto.Decode(payload)
	if err != nil {
		s.badInput.Warn(s.log, "invalid peer request", "service", proto.Shorten(service), "err", err)
		return s.errorReply(service, describe(err, peerLang(payload)))
	}
	requested, _, _ := env.Data.OptString("lang")
	l := lang.Requested(requested, lang.EN)
	if err := s.witnessPeer(service, env.Data); err != nil {
		return s.errorReply(service, describe(err, l))
	}
	switch service {
	case proto.ServiceElection:
		// A server still catching up, after a start or a pause, must not
		// win: it may lack channels the coordinator has to know. The error
		// shows the caller that this server is alive, so the caller waits
		// a moment for this server's own election before it wins
		// (election.Declined). The caller ignores an announcement older
		// than its epoch, so this server notes that epoch first.
		epoch, err := peerEpoch(env.Data)
		if err != nil {
			s.badInput.Warn(s.log, "invalid peer request", "service", service, "err", err)
			return s.errorReply(service, describe(err, l))
		}
		if !s.Serving() || !s.mayCoordinate() {
			s.node.ObserveEpoch(uint64(max(epoch, 0)))
			return s.errorReply(service, textCatchingUp.In(l))
		}
		s.node.HandleElection(uint64(max(epoch, 0)), electionSender(env.Data))
		return s.encode(service, &proto.ElectionReply{Election: proto.StatusOK})
	case proto.ServiceClock:
		return s.encode(service, &proto.ClockReply{Time: unixSeconds(s.cfg.Clocks.Physical.Now())})
	case serviceCoordinator:
		if _, err := env.Data.String("coordinator"); err != nil {
			s.badInput.Warn(s.log, "invalid peer request", "service", service, "err", err)
			return s.errorReply(service, describe(err, l))
		}
		if _, err := peerEpoch(env.Data); err != nil {
			s.badInput.Warn(s.log, "invalid peer request", "service", service, "err", err)
			return s.errorReply(service, describe(err, l))
		}
		// The winner coordinates only once the members have replied, so a
		// coordinator it replaces finishes the channel decision it has in
		// flight before it replies.
		s.channelMu.Lock()
		s.applyAnnouncement(env.Data)
		s.channelMu.Unlock()
		return s.encode(service, &proto.StatusReply{Status: proto.StatusOK})
	case serviceAdjust:
		return s.handleAdjust(env.Data, l)
	case serviceClaim:
		return s.handleClaim(ctx, env.Data)
	case serviceStatus:
		return s.encode(service, s.status())
	case serviceBackup:
		return s.handleBackup(l)
	case serviceReach:
		return s.handleReach(ctx, env.Data, l)
	}
	s.unknownPeerService.Warn(s.log, "unknown peer service", "service", proto.Shorten(service))
	return s.errorReply(proto.ServiceError, textUnknownService.In(l)+proto.QuoteShort(service))
}

// peerEpoch reads the optional election epoch of an election request or
// an announcement: absent is 0, and a value that is not a non-negative
// integer is invalid.
func peerEpoch(data proto.Data) (int64, error) {
	epoch, _, err := data.OptInt("epoch")
	if err == nil && epoch < 0 {
		err = &proto.FieldError{Field: "epoch", Reason: proto.ReasonNegative}
	}
	return epoch, err
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

// applyAnnouncement hands a coordinator announcement, from the topic
// "servers" or sent directly, to the election.
func (s *Server) applyAnnouncement(data proto.Data) {
	name, err := data.String("coordinator")
	if err != nil || s.node == nil {
		return
	}
	rank := s.announcementRank(context.Background(), data, name)
	epoch, _, _ := data.OptInt("epoch")
	addr, _, _ := data.OptString("addr")
	s.node.HandleAnnouncement(election.Announcement{Coordinator: name, Rank: rank, Epoch: uint64(max(epoch, 0)), Addr: addr})
}

// BackupReply is the reply of the backup service: the path of a
// consistent copy of the store inside the server's data directory.
type BackupReply struct {
	Status    string `msgpack:"status"`
	Path      string `msgpack:"path"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// handleBackup copies the store to a new file in the data directory. The
// file name is chosen here, never by the caller, so the service cannot be
// used to write elsewhere. Its error descriptions are in language l.
func (s *Server) handleBackup(l string) []byte {
	if kept := s.removeOldBackups(); kept >= maxBackups {
		s.log.Warn("backup rejected", "reason", "too many recent backups", "backups", kept)
		return s.errorReply(serviceBackup, textTooManyBackups.In(l))
	}
	path := filepath.Join(s.cfg.Data, fmt.Sprintf("backup-%d.db", time.Now().UnixNano()))
	if err := s.store.Backup(path); err != nil {
		s.log.Error("backup failed", "path", path, "err", err)
		os.Remove(path)
		return s.errorReply(serviceBackup, textInternal.In(l))
	}
	s.log.Info("backup written", "path", path)
	return s.encode(serviceBackup, &BackupReply{Status: proto.StatusOK, Path: path})
}

// backupLifetime is how long a copy made for msgsys dump may stay. The
// dump tool deletes its copy; this removes those of dumps that were killed,
// so repeated backup requests cannot fill the disk.
const backupLifetime = 5 * time.Minute

// maxBackups bounds the copies that may exist at once.
const maxBackups = 3

// removeOldBackups deletes copies older than backupLifetime and returns
// how many remain.
func (s *Server) removeOldBackups() int {
	paths, _ := filepath.Glob(filepath.Join(s.cfg.Data, "backup-*.db"))
	kept := 0
	for _, path := range paths {
		info, err := os.Stat(path)
		if err != nil {
			continue
		}
		if time.Since(info.ModTime()) < backupLifetime {
			kept++
			continue
		}
		if err := os.Remove(path); err != nil {
			s.log.Warn("old backup not removed", "path", path, "err", err)
			kept++
		}
	}
	return kept
}

// encode builds a reply stamped with this server's clocks.
func (s *Server) encode(service string, data any) []byte {
	frame, err := proto.Encode(service, data, s.cfg.Clocks.Meta())
	if err != nil {
		s.log.Error("encode failed", "service", service, "err", err)
		frame, _ = proto.Encode(proto.ServiceError, &proto.StatusReply{Status: proto.StatusError, Description: textInternal.In(s.cfg.Lang)}, s.cfg.Clocks.Meta())
	}
	return frame
}

// peerClients caches one Requester per peer endpoint and purpose, so that
// a slow Berkeley reading does not delay an election message.
type peerClients struct {
	mu      sync.Mutex
	clients map[string]*proto.Requester
	key     string // cluster key presented to peers, or ""
}

func newPeerClients(key string) *peerClients {
	return &peerClients{clients: make(map[string]*proto.Requester), key: key}
}

func (p *peerClients) get(purpose, addr string) *proto.Requester {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := purpose + " " + addr
	r, ok := p.clients[key]
	if !ok {
		r = proto.NewKeyedRequester(addr, p.key)
		p.clients[key] = r
	}
	return r
}

func (p *peerClients) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, r := range p.clients {
		r.Close()
		delete(p.clients, key)
	}
}

// ask sends a request to a peer and returns the decoded reply.
func (s *Server) ask(ctx context.Context, purpose, addr, service string, req any, timeout time.Duration) (proto.Envelope, error) {
	frame, err := proto.Encode(service, req, s.cfg.Clocks.Meta())
	if err != nil {
		return proto.Envelope{}, err
	}
	payload, err := s.peers.get(purpose, addr).Request(ctx, frame, timeout)
	if err != nil {
		return proto.Envelope{}, err
	}
	env, err := proto.Decode(payload)
	if err != nil {
		return env, err
	}
	if err := s.witnessPeer(service, env.Data); err != nil {
		return env, err
	}
	return env, nil
}

// witnessPeer applies the receive rule to a message from another server or
// the reference, moving the clock by at most proto.MaxPeerJump, and logs a
// clock held back: no honest peer is that far ahead.
func (s *Server) witnessPeer(service string, data proto.Data) error {
	clock, ahead, err := s.cfg.Clocks.WitnessPeer(data)
	if err != nil {
		return err
	}
	if ahead > 0 {
		s.clockAhead.Warn(s.log, "peer clock far ahead, clock moved less", "service", proto.Shorten(service), "received", ahead, "clock", clock)
	}
	return nil
}

// electionSender returns the sender that an election message names, with
// a zero Name when it names none, as from other implementations.
func electionSender(data proto.Data) election.Member {
	name, _, _ := data.OptString("name")
	rank, _, _ := data.OptInt("rank")
	addr, _, _ := data.OptString("addr")
	if _, err := proto.NormalizeName(name); err != nil || !strings.HasPrefix(addr, "tcp://") {
		return election.Member{}
	}
	return election.Member{Name: name, Rank: rank, Addr: addr}
}

// ElectionRequest is the standard election message with msgsys's
// additions: the newest epoch the sender has seen, and the sender's name,
// rank and endpoint, so the coordinator can confirm itself to a sender it
// does not list yet.
type ElectionRequest struct {
	Epoch     uint64 `msgpack:"epoch,omitempty"`
	Name      string `msgpack:"name,omitempty"`
	Rank      int64  `msgpack:"rank,omitempty"`
	Addr      string `msgpack:"addr,omitempty"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// transport carries election messages for the election package.
type transport struct{ s *Server }

func (t *transport) Elect(ctx context.Context, m election.Member, epoch uint64) election.Reply {
	req := &ElectionRequest{Epoch: epoch, Name: t.s.cfg.Name, Rank: t.s.Rank(), Addr: t.s.cfg.Addr}
	env, err := t.s.ask(ctx, "election", m.Addr, proto.ServiceElection, req, t.s.cfg.Election.OKTimeout)
	if err != nil {
		return election.NoReply
	}
	if answer, _, _ := env.Data.OptString("election"); proto.IsSuccess(answer) {
		return election.OK
	}

	// A msgsys server replies to a well-formed election message with an
	// error only while it does not serve clients or catches up after a
	// pause.
	if status, _, _ := env.Data.OptString("status"); status == proto.StatusError {
		return election.Declined
	}
	return election.NoReply
}

func (t *transport) Ping(ctx context.Context, m election.Member) bool {
	_, err := t.s.ask(ctx, "election", m.Addr, proto.ServiceClock, &proto.EmptyRequest{}, t.s.cfg.Election.CheckTimeout)
	return err == nil
}

// ReachRequest is a request to ping a member, named as the reference lists
// it, on the sender's behalf.
type ReachRequest struct {
	Name      string `msgpack:"name"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// ReachReply reports whether the member replied to the ping, and names the
// coordinator the replier accepts, if any, as an announcement does.
type ReachReply struct {
	Status      string `msgpack:"status"`
	Reached     bool   `msgpack:"reached"`
	Coordinator string `msgpack:"coordinator,omitempty"`
	Rank        int64  `msgpack:"rank,omitempty"`
	Epoch       uint64 `msgpack:"epoch,omitempty"`
	Addr        string `msgpack:"addr,omitempty"`
	Timestamp   string `msgpack:"timestamp"`
	Clock       uint64 `msgpack:"clock"`
}

// Reach has its own connection per relay, because the relay replies after
// its ping, and an election message must not wait behind it.
func (t *transport) Reach(ctx context.Context, via, target election.Member) (bool, election.Announcement) {
	env, err := t.s.ask(ctx, "reach", via.Addr, serviceReach, &ReachRequest{Name: target.Name}, 2*t.s.cfg.Election.CheckTimeout)
	if err != nil {
		return false, election.Announcement{}
	}
	reached, _ := env.Data["reached"].(bool)

	// The relay's coordinator counts only with everything an
	// announcement carries, so that this server can ping it.
	var known election.Announcement
	name, _, _ := env.Data.OptString("coordinator")
	rank, _, _ := env.Data.OptInt("rank")
	epoch, _, _ := env.Data.OptInt("epoch")
	addr, _, _ := env.Data.OptString("addr")
	if name != "" && rank > 0 && epoch > 0 && addr != "" {
		known = election.Announcement{Coordinator: name, Rank: rank, Epoch: uint64(epoch), Addr: addr}
	}
	return reached, known
}

// handleReach pings the member that a reach request names. Only members
// this server lists are pinged, at the address in its list, so the
// service cannot send this server's requests anywhere else.
func (s *Server) handleReach(ctx context.Context, data proto.Data, l string) []byte {
	name, err := data.String("name")
	if err != nil {
		s.badInput.Warn(s.log, "invalid peer request", "service", serviceReach, "err", err)
		return s.errorReply(serviceReach, describe(err, l))
	}
	target, ok := s.knownMember(name)
	reached := false
	if ok {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.Election.CheckTimeout)
		reached = (&transport{s: s}).Ping(ctx, target)
		cancel()
	}
	reply := &ReachReply{Status: proto.StatusOK, Reached: reached}
	if a, ok := s.node.Coordinator(); ok {
		reply.Coordinator, reply.Rank, reply.Epoch, reply.Addr = a.Coordinator, a.Rank, a.Epoch, a.Addr
	}
	return s.encode(serviceReach, reply)
}

// knownMember returns the member named name with its server-to-server
// address: from the list of available servers, or from the accepted
// coordinator's announcement before the list names it.
func (s *Server) knownMember(name string) (election.Member, bool) {
	if name == s.cfg.Name {
		return election.Member{}, false
	}
	for _, m := range s.node.Members() {
		if m.Name == name && m.Addr != "" {
			return m, true
		}
	}
	if a, ok := s.node.Coordinator(); ok && a.Coordinator == name && a.Addr != "" {
		return election.Member{Name: a.Coordinator, Rank: a.Rank, Addr: a.Addr}, true
	}
	return election.Member{}, false
}

func (t *transport) Announce(ctx context.Context, a election.Announcement, members []election.Member) {
	ann := &proto.Announcement{Coordinator: a.Coordinator, Rank: a.Rank, Epoch: a.Epoch, Addr: a.Addr}
	frame, err := proto.Encode(proto.ServiceElection, ann, t.s.cfg.Clocks.Meta())
	if err == nil {
		t.s.publisher.Publish(proto.ReservedTopic, frame)
	}
	var wg sync.WaitGroup
	for _, m := range members {
		if m.Name == t.s.cfg.Name {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Tell(ctx, a, m)
		}()
	}
	wg.Wait()
}

func (t *transport) Tell(ctx context.Context, a election.Announcement, m election.Member) {
	ann := &proto.Announcement{Coordinator: a.Coordinator, Rank: a.Rank, Epoch: a.Epoch, Addr: a.Addr}
	if _, err := t.s.ask(ctx, "announce", m.Addr, serviceCoordinator, ann, t.s.cfg.Election.OKTimeout); err != nil {
		t.s.log.Debug("announcement not delivered", "peer", m.Name, "err", err)
	}
}

// learnEpoch requests from the available servers for the newest election epoch
// they have seen, before this server's first election. Epochs live in
// memory, so without this a restarted server would announce an old epoch
// that the others ignore while it believed it coordinated.
func (s *Server) learnEpoch(ctx context.Context) {
	var wg sync.WaitGroup
	for _, m := range s.node.Members() {
		if m.Name == s.cfg.Name || m.Addr == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			env, err := s.ask(ctx, "election", m.Addr, serviceStatus, &proto.EmptyRequest{}, s.cfg.Election.OKTimeout)
			if err != nil {
				return
			}
			if epoch, ok, err := env.Data.OptInt("epoch"); err == nil && ok && epoch > 0 {
				s.node.ObserveEpoch(uint64(epoch))
			}
		}()
	}
	wg.Wait()
	s.log.Info("election epoch learned", "epoch", s.node.Epoch())
}

// watchAnnouncements follows the topic "servers", where servers of every
// implementation announce coordinators.
func (s *Server) watchAnnouncements(ctx context.Context) {
	sub := proto.NewSubscriber(s.cfg.Sub, s.log.With("socket", "sub"))
	sub.Subscribe(proto.ReservedTopic)
	go sub.Run(ctx)
	for delivery := range sub.Deliveries() {
		env, err := proto.Decode(delivery.Payload)
		if err != nil {
			s.log.Warn("invalid announcement", "err", err)
			continue
		}
		if err := s.witnessPeer(env.Service, env.Data); err != nil {
			continue
		}
		if env.Service == proto.ServiceElection {
			s.applyAnnouncement(env.Data)
		}
	}
}
