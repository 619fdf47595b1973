package server

import (
	"context"
	"errors"
	"hash/fnv"
	"strconv"
	"time"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/replica"
	"msgsys/store"
)

// MaxRequestBytes bounds a client request. The largest valid one is a
// post of proto.MaxTextBytes with its names, well below this.
const MaxRequestBytes = 64 << 10

// handleClient serves one client request and returns the reply frame. It
// never fails: bad input gets an error reply, and the server goes on.
func (s *Server) handleClient(ctx context.Context, payload []byte) []byte {
	// Requests rejected before they are decoded still get their service's
	// reply, so that publish clients find the reason under message, in
	// the client's language.
	if len(payload) > MaxRequestBytes {
		// A frame nested too deeply gets that reason, because it would be
		// rejected even within MaxRequestBytes.
		if err := proto.Scan(payload); errors.Is(err, proto.ErrTooDeep) {
			s.badInput.Warn(s.log, "request rejected", "bytes", len(payload), "err", err)
			return s.errorReply(proto.ServiceError, describe(err, s.cfg.Lang))
		}
		service, l := s.peekRequest(payload)
		s.badInput.Warn(s.log, "request rejected", "service", service, "reason", "too large", "bytes", len(payload))
		return s.errorReply(service, tooLargeText(MaxRequestBytes).In(l))
	}
	if s.paused() {
		service, l := s.peekRequest(payload)
		s.badInput.Warn(s.log, "request rejected", "service", service, "reason", "catching up after a pause")
		return s.errorReply(service, textCatchingUp.In(l))
	}
	env, err := proto.Decode(payload)
	if err != nil {
		service := proto.ServiceError
		if errors.Is(err, proto.ErrNoData) {
			service = replyService(env.Service)
		}
		s.badInput.Warn(s.log, "request rejected", "service", service, "err", err)
		return s.errorReply(service, describe(err, s.cfg.Lang))
	}
	// A msgsys client names the language it shows text in, so that it
	// shows the reasons for errors in that language too.
	requested, _, _ := env.Data.OptString("lang")
	l := lang.Requested(requested, s.cfg.Lang)

	clock, ahead, err := s.cfg.Clocks.WitnessClient(env.Data)
	if err != nil {
		s.badInput.Warn(s.log, "request rejected", "service", replyService(env.Service), "err", err)
		return s.errorReply(replyService(env.Service), describe(err, l))
	}
	if ahead > 0 {
		s.clockAhead.Warn(s.log, "client clock far ahead, clock moved less", "service", proto.Shorten(env.Service), "received", ahead, "clock", clock)
	}
	// The server stamps what it stores with its own time, but a timestamp
	// of a type or form the protocol does not list is invalid input.
	if _, _, err := env.Data.Timestamp(); err != nil {
		s.badInput.Warn(s.log, "request rejected", "service", replyService(env.Service), "err", err)
		return s.errorReply(replyService(env.Service), describe(err, l))
	}

	rid, err := requestID(env)
	if err != nil {
		s.badInput.Warn(s.log, "request rejected", "service", replyService(env.Service), "err", err)
		return s.errorReply(replyService(env.Service), describe(err, l))
	}
	req := request{s: s, service: env.Service, data: env.Data, rid: rid, lang: l}
	var reply []byte
	switch env.Service {
	case proto.ServiceLogin:
		reply = req.login(ctx)
	case proto.ServiceUsers:
		reply = s.encode(env.Service, &proto.UsersReply{Users: s.store.Users()})
	case proto.ServiceChannel:
		reply = req.channel(ctx)
	case proto.ServiceChannels:
		channels := s.store.Channels()
		reply = s.encode(env.Service, &proto.ChannelsReply{Users: channels, Channels: channels})
	case proto.ServicePublish:
		reply = req.publish(ctx)
	case proto.ServiceMessage:
		reply = req.message(ctx)
	case proto.ServiceHistory:
		reply = req.history(ctx)
	default:
		// The name is quoted and cut, so that an error reply never carries
		// invalid UTF-8 or kilobytes of whatever the request sent.
		name := proto.QuoteShort(env.Service)
		s.badInput.Warn(s.log, "request rejected", "service", proto.Shorten(env.Service), "reason", "unknown service")
		reply = s.errorReply(proto.ServiceError, textUnknownService.In(l)+name)
	}
	return reply
}

// replyService is the service name of an error reply: the request's when
// the server serves it, and "error" for an unknown or unreadable one.
// peekRequest returns the service to reply under and the language of the
// reply of a request that is not decoded.
func (s *Server) peekRequest(payload []byte) (service, l string) {
	service, err := proto.PeekService(payload)
	if err != nil {
		service = proto.ServiceError
	}
	return replyService(service), lang.Requested(proto.PeekLang(payload), s.cfg.Lang)
}

func replyService(service string) string {
	switch service {
	case proto.ServiceLogin, proto.ServiceUsers, proto.ServiceChannel, proto.ServiceChannels,
		proto.ServicePublish, proto.ServiceMessage, proto.ServiceHistory:
		return service
	}
	return proto.ServiceError
}

// MaxRequestIDBytes bounds the optional request id.
const MaxRequestIDBytes = 64

// errIDTooLong is a request id longer than MaxRequestIDBytes.
var errIDTooLong = errors.New("server: request id longer than 64 bytes")

// requestID returns the key that deduplicates a write: the service and the
// request's "id", a msgsys extension that msgsys clients send and repeat
// when they retry after a lost reply. Requests without an id, as other
// implementations send them, are never deduplicated, because two identical
// requests may well be two messages. Reads have nothing to deduplicate,
// so their id is ignored, and an integer id, as a client that numbers its
// requests may send, counts in its decimal form.
func requestID(env proto.Envelope) (string, error) {
	switch env.Service {
	case proto.ServiceLogin, proto.ServiceChannel, proto.ServicePublish, proto.ServiceMessage:
	default:
		return "", nil
	}
	if n, ok, err := env.Data.OptInt("id"); err == nil && ok {
		return env.Service + ":" + strconv.FormatInt(n, 10), nil
	}
	// OptInt rejects a uint64 above the int64 range, which is still an
	// integer id.
	if n, ok := env.Data["id"].(uint64); ok {
		return env.Service + ":" + strconv.FormatUint(n, 10), nil
	}
	id, ok, err := env.Data.OptString("id")
	if err != nil || !ok || id == "" {
		return "", err
	}
	if len(id) > MaxRequestIDBytes {
		return "", errIDTooLong
	}
	return env.Service + ":" + id, nil
}

// contentRID extends the request id key rid with a digest of what the
// request writes, so that only a retry of the same write is recognised.
// Another client, or one that counts its ids from 1 again after a
// restart, may send a different write with an id in use, and that write
// must be stored instead of taken for a retry of the first.
func contentRID(rid string, fields ...string) string {
	if rid == "" {
		return ""
	}
	h := fnv.New64a()
	for _, field := range fields {
		h.Write([]byte(field))
		h.Write([]byte{0})
	}
	return rid + "/" + strconv.FormatUint(h.Sum64(), 16)
}

// errorReply builds the error reply of a service. publish, message and
// history put the reason under "message", the others under "description",
// as the protocol has it.
func (s *Server) errorReply(service, text string) []byte {
	return s.errorReplyRetry(service, text, false)
}

// errorReplyRetry is errorReply with retry set as given: whether the same
// request sent again may succeed.
func (s *Server) errorReplyRetry(service, text string, retry bool) []byte {
	switch service {
	case proto.ServicePublish, proto.ServiceMessage, proto.ServiceHistory:
		return s.encode(service, &proto.ResultReply{Status: proto.StatusError, Message: text, Retry: retry})
	}
	return s.encode(service, &proto.StatusReply{Status: proto.StatusError, Description: text, Retry: retry})
}

// request is one client request being served.
type request struct {
	s       *Server
	service string
	data    proto.Data
	rid     string
	lang    string // of the error descriptions
}

func (r *request) reject(err error) []byte {
	r.s.rejected.Info(r.s.log, "request rejected", "service", r.service, "err", err)
	return r.s.errorReply(r.service, describe(err, r.lang))
}

func (r *request) rejectText(text lang.Text, detail string) []byte {
	r.s.rejected.Info(r.s.log, "request rejected", "service", r.service, "reason", text.EN+detail)
	return r.s.errorReply(r.service, text.In(r.lang)+detail)
}

// rejectRetry rejects a channel creation that an election or a stop of the
// coordinator delayed, with retry set. Sent again, the same request may
// reach the next coordinator, and its id keeps it one creation. A msgsys
// client resends it once at once, as it does after the broker's replies
// with retry.
func (r *request) rejectRetry(text lang.Text) []byte {
	r.s.rejected.Info(r.s.log, "request rejected", "service", r.service, "reason", text.EN, "retry", true)
	return r.s.errorReplyRetry(r.service, text.In(r.lang), true)
}

// name reads a required name field and validates it.
// given reports whether the request has field with a value other than
// nil and "", which the history service takes for an absent field.
func (r *request) given(field string) bool {
	value := r.data[field]
	return value != nil && value != ""
}

func (r *request) name(field string) (string, error) {
	value, err := r.data.String(field)
	if err != nil {
		return "", err
	}
	return proto.NormalizeName(value)
}

// write stores op through replication unless the same request was already
// applied, and reports whether it was a retry. requested holds the names
// as the request gives them, where op holds them as the store shows them.
// The request id is keyed by requested, because the shown spelling of a
// name can change between a request and its retry, when a login with
// another spelling that comes first in the total order arrives.
func (r *request) write(ctx context.Context, op, requested store.Op) (store.Op, bool, error) {
	rid := contentRID(r.rid, requested.Kind, requested.User, requested.Channel, requested.Peer, requested.Text)
	if rid != "" {
		if existing, ok, err := r.s.store.LookupRID(rid, r.s.cfg.Clocks.Physical.Now()); err == nil && ok {
			r.s.log.Info("retry recognised", "service", r.service, "origin", existing.Origin, "seq", existing.Seq)
			return existing, true, nil
		}
	}
	op.RID = rid
	op.Clock = r.s.cfg.Clocks.Lamport.Tick()
	op.Time = r.s.cfg.Clocks.Physical.Stamp().UnixNano()
	written, result, err := r.s.replica.Write(ctx, op)
	// The first attempt may have reached the store through replication
	// while this one was on its way: the store then keeps one of the two.
	retry := errors.Is(result.Reason, store.ErrRetry)
	return written, retry, err
}

// lookUp returns the stored spelling of a user or channel name through
// find. A name this server lacks may come from a server whose pushes do
// not reach this one, as at the end of a cut link. So the server pulls
// from its peers once before it reports the name unknown.
func (r *request) lookUp(ctx context.Context, find func(string) (string, bool), name string) (string, bool) {
	if stored, ok := find(name); ok {
		return stored, true
	}
	if !r.s.replica.PullNow(ctx) {
		return "", false
	}
	return find(name)
}

func (r *request) failed(err error) []byte {
	// A write that the server's stop interrupted is no fault. The client
	// sends it again, with its id, and another server takes it.
	if errors.Is(err, context.Canceled) || errors.Is(err, replica.ErrStopped) {
		r.s.log.Info("write interrupted by shutdown", "service", r.service, "err", err)
		return r.s.errorReplyRetry(r.service, textShuttingDown.In(r.lang), true)
	}
	r.s.log.Error("write failed", "service", r.service, "err", err)
	return r.s.errorReply(r.service, textInternal.In(r.lang))
}

func (r *request) login(ctx context.Context) []byte {
	user, err := r.name("user")
	if err != nil {
		return r.reject(err)
	}
	op := store.Op{Kind: store.KindLogin, User: user}
	if _, _, err := r.write(ctx, op, op); err != nil {
		return r.failed(err)
	}
	r.s.log.Info("user logged in", "user", user, "clock", r.s.cfg.Clocks.Lamport.Value())
	return r.s.encode(r.service, &proto.StatusReply{Status: proto.StatusSuccess})
}

func (r *request) channel(ctx context.Context) []byte {
	value, err := r.data.String("channel")
	if err != nil {
		return r.reject(err)
	}
	name, err := proto.NormalizeChannel(value)
	if err != nil {
		return r.reject(err)
	}
	if err := r.s.createChannel(ctx, name, contentRID(r.rid, store.KindChannel, name)); err != nil {
		return r.channelRejected(name, err)
	}
	r.s.log.Info("channel created", "channel", name, "clock", r.s.cfg.Clocks.Lamport.Value())
	return r.s.encode(r.service, &proto.StatusReply{Status: proto.StatusSuccess})
}

// channelRejected returns the reply to a creation of channel name that
// failed with err.
func (r *request) channelRejected(name string, err error) []byte {
	switch {
	case errors.Is(err, errChannelExists):
		// The existing channel's own spelling, which /join takes, rather
		// than the one this request used.
		if stored, ok := r.s.store.ChannelName(name); ok {
			name = stored
		}
		return r.rejectText(textChannelExists, name)
	case errors.Is(err, errNoCoordinator):
		return r.rejectRetry(textNoCoordinator)
	case errors.Is(err, errCoordinatorDown):
		return r.rejectRetry(textCoordinatorDown)
	case errors.Is(err, errCoordinatorResumed):
		return r.rejectRetry(textCoordinatorResumed)
	}
	return r.failed(err)
}

func (r *request) publish(ctx context.Context) []byte {
	user, err := r.name("user")
	if err != nil {
		return r.reject(err)
	}
	channel, err := r.data.String("channel")
	if err != nil {
		return r.reject(err)
	}
	text, err := r.data.String("message")
	if err != nil {
		return r.reject(err)
	}
	if err := proto.ValidateText(text); err != nil {
		return r.reject(err)
	}
	shownUser, ok := r.lookUp(ctx, r.s.store.UserName, user)
	if !ok {
		return r.rejectText(textUnknownUser, user)
	}
	normalized, err := proto.NormalizeChannel(channel)
	if err != nil {
		return r.reject(err)
	}
	shownChannel, ok := r.lookUp(ctx, r.s.store.ChannelName, normalized)
	if !ok {
		return r.rejectText(textUnknownChannel, normalized)
	}
	if !r.s.limiter.allow(proto.FoldName(shownUser), time.Now()) {
		return r.rejectText(textRateLimited, "")
	}

	op, retry, err := r.write(ctx,
		store.Op{Kind: store.KindPost, User: shownUser, Channel: shownChannel, Text: text},
		store.Op{Kind: store.KindPost, User: user, Channel: normalized, Text: text})
	if err != nil {
		return r.failed(err)
	}
	if !retry {
		r.s.publish(shownChannel, &proto.Publication{User: shownUser, Channel: shownChannel, Message: text}, op)
	}
	return r.s.encode(r.service, &proto.ResultReply{Status: proto.StatusOK})
}

func (r *request) message(ctx context.Context) []byte {
	src, err := r.name("src")
	if err != nil {
		return r.reject(err)
	}
	dst, err := r.name("dst")
	if err != nil {
		return r.reject(err)
	}
	text, err := r.data.String("message")
	if err != nil {
		return r.reject(err)
	}
	if err := proto.ValidateText(text); err != nil {
		return r.reject(err)
	}
	shownSrc, ok := r.lookUp(ctx, r.s.store.UserName, src)
	if !ok {
		return r.rejectText(textUnknownUser, src)
	}
	shownDst, ok := r.lookUp(ctx, r.s.store.UserName, dst)
	if !ok {
		return r.rejectText(textUnknownUser, dst)
	}
	if !r.s.limiter.allow(proto.FoldName(shownSrc), time.Now()) {
		return r.rejectText(textRateLimited, "")
	}

	op, retry, err := r.write(ctx,
		store.Op{Kind: store.KindDirect, User: shownSrc, Peer: shownDst, Text: text},
		store.Op{Kind: store.KindDirect, User: src, Peer: dst, Text: text})
	if err != nil {
		return r.failed(err)
	}
	if !retry {
		r.s.publish(shownDst, &proto.Publication{Src: shownSrc, From: shownSrc, Dst: shownDst, Message: text}, op)
	}
	return r.s.encode(r.service, &proto.ResultReply{Status: proto.StatusOK})
}

// publish sends a post or direct message on its topic, stamped with the
// write's own time and clock, so that live copies and history agree.
func (s *Server) publish(topic string, pub *proto.Publication, op store.Op) {
	// A publication without subscribers is not sent, so it need not be
	// encoded either.
	if !s.publisher.Wants(topic) {
		return
	}
	meta := proto.Meta{Timestamp: proto.FormatTime(time.Unix(0, op.Time)), Clock: op.Clock}
	frame, err := proto.EncodeData(pub, meta)
	if err != nil {
		s.log.Error("encode publication failed", "topic", topic, "err", err)
		return
	}
	if !s.publisher.Publish(topic, frame) {
		s.log.Warn("publication dropped", "topic", topic, "reason", "queue full")
	}
}

func (r *request) history(ctx context.Context) []byte {
	limit, ok, err := r.data.OptInt("limit")
	if err != nil {
		return r.reject(err)
	}
	if !ok {
		limit = proto.HistoryDefaultLimit
	}
	if limit < 1 || limit > proto.HistoryMaxLimit {
		return r.rejectText(textHistoryLimit, "")
	}
	before, _, err := r.data.OptString("before")
	if err != nil {
		return r.reject(err)
	}

	channel, hasChannel, err := r.data.OptString("channel")
	if err != nil {
		return r.reject(err)
	}
	hasChannel = hasChannel && channel != ""
	// A channel names one target and user and peer another. The protocol
	// defines no request with both, and serving either one would hide
	// that the other was ignored.
	if hasChannel && (r.given("user") || r.given("peer")) {
		return r.rejectText(textHistoryBoth, "")
	}
	var messages []store.Message
	var cursor string
	if hasChannel {
		name, err := proto.NormalizeChannel(channel)
		if err != nil {
			return r.reject(err)
		}
		if _, ok := r.lookUp(ctx, r.s.store.ChannelName, name); !ok {
			return r.rejectText(textUnknownChannel, name)
		}
		messages, cursor, err = r.s.store.History(name, before, int(limit))
		if err != nil {
			return r.rejectText(textHistoryCursor, "")
		}
	} else {
		user, errUser := r.name("user")
		peer, errPeer := r.name("peer")
		if errUser != nil || errPeer != nil {
			return r.rejectText(textHistoryTarget, "")
		}
		messages, cursor, err = r.s.store.Conversation(user, peer, before, int(limit))
		if err != nil {
			return r.rejectText(textHistoryCursor, "")
		}
	}

	reply := &proto.HistoryReply{Status: proto.StatusOK, Messages: make([]*proto.Publication, 0, len(messages)), Before: cursor}
	for _, m := range messages {
		pub := &proto.Publication{Message: m.Text, Timestamp: proto.FormatTime(m.Time), Clock: m.Clock}
		if m.Kind == store.KindPost {
			pub.User, pub.Channel = m.User, m.Channel
		} else {
			pub.Src, pub.From, pub.Dst = m.User, m.User, m.Peer
		}
		reply.Messages = append(reply.Messages, pub)
	}
	return r.s.encode(r.service, reply)
}
