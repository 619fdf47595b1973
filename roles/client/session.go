package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"msgsys/lang"
	"msgsys/proto"
)

// SessionConfig configures a Session. Zero fields take the defaults noted.
type SessionConfig struct {
	Broker  string        // the broker's client endpoint, such as tcp://127.0.0.1:5555
	Timeout time.Duration // per request attempt; 5s when zero
	Lang    string        // language of error texts, read by lang.Pick; lang.PT when empty, regardless of LANG
	Clocks  proto.Clocks  // the process's clocks; fresh ones when either is nil
}

// DefaultTimeout is how long a Session waits for each reply.
const DefaultTimeout = 5 * time.Second

// Session sends the client services' requests to the broker and reads the
// replies leniently. It remembers the user it logged in as. Every request
// carries the clocks' metadata and every reply is witnessed. A request
// that times out or loses its connection is sent once more as the same
// frame, so a server that already applied it can recognise the duplicate.
// A Session is safe for concurrent use, and requests go out one at a time.
type Session struct {
	broker  string
	timeout time.Duration
	lang    string
	clocks  proto.Clocks
	req     *proto.Requester

	mu   sync.Mutex // guards user
	user string
}

// NewSession returns a Session; it connects on its first request.
func NewSession(cfg SessionConfig) *Session {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Clocks.Lamport == nil || cfg.Clocks.Physical == nil {
		cfg.Clocks = proto.NewClocks()
	}
	l := lang.PT
	if cfg.Lang != "" {
		l = lang.Pick(cfg.Lang)
	}
	return &Session{
		broker:  cfg.Broker,
		timeout: cfg.Timeout,
		lang:    l,
		clocks:  cfg.Clocks,
		req:     proto.NewRequester(cfg.Broker),
	}
}

// Close drops the connection; later requests fail.
func (s *Session) Close() { s.req.Close() }

// User is the name the session last logged in as, or "".
func (s *Session) User() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}

// Lang is the language of the session's error texts.
func (s *Session) Lang() string { return s.lang }

// Clocks are the clocks the session stamps and witnesses messages with.
func (s *Session) Clocks() proto.Clocks { return s.clocks }

// Receipt describes an accepted post or direct message.
type Receipt struct {
	Clock       uint64 // the Lamport clock the request carried
	ServerClock uint64 // the Lamport clock of the server's reply
}

// Login logs in as name, registering it on first use, and returns the
// name in the normalised form it was sent in.
func (s *Session) Login(ctx context.Context, name string) (string, error) {
	user, err := proto.NormalizeName(name)
	if err != nil {
		return "", invalidName(s.lang, name, err)
	}
	if _, _, err := s.call(ctx, proto.ServiceLogin, &proto.LoginRequest{User: user, ID: requestID()}); err != nil {
		return "", err
	}
	s.mu.Lock()
	s.user = user
	s.mu.Unlock()
	return user, nil
}

// showAs replaces the logged-in user's name with the same name in the
// spelling the server shows, which may differ in case from the one typed.
func (s *Session) showAs(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if proto.FoldName(name) == proto.FoldName(s.user) {
		s.user = name
	}
}

// ValidateUser returns the error that Login returns for name, in language
// l and without sending anything, or nil when Login would send it.
func ValidateUser(name, l string) error {
	if _, err := proto.NormalizeName(name); err != nil {
		return invalidName(lang.Pick(l), name, err)
	}
	return nil
}

// Users returns every registered user name.
func (s *Session) Users(ctx context.Context) ([]string, error) {
	data, _, err := s.call(ctx, proto.ServiceUsers, &proto.EmptyRequest{})
	if err != nil {
		return nil, err
	}
	return proto.AsStrings(data["users"]), nil
}

// Channels returns every channel name, read from "channels" or, failing
// that, from "users", where the standard puts them.
func (s *Session) Channels(ctx context.Context) ([]string, error) {
	data, _, err := s.call(ctx, proto.ServiceChannels, &proto.EmptyRequest{})
	if err != nil {
		return nil, err
	}
	if list, ok := data["channels"]; ok && list != nil {
		return proto.AsStrings(list), nil
	}
	return proto.AsStrings(data["users"]), nil
}

// FindChannel returns the channel's name as it was first written, which
// is its pub/sub topic, looking it up regardless of case. ok is false when
// no such channel exists.
func (s *Session) FindChannel(ctx context.Context, name string) (string, bool, error) {
	channel, err := proto.NormalizeChannel(name)
	if err != nil {
		return "", false, invalidName(s.lang, name, err)
	}
	channels, err := s.Channels(ctx)
	if err != nil {
		return "", false, err
	}
	return findFolded(channels, channel)
}

// FindUser returns the user's name as it was first written, looking it up
// regardless of case. A leading '@' is dropped. ok is false when no such
// user is registered.
func (s *Session) FindUser(ctx context.Context, name string) (string, bool, error) {
	user, err := proto.NormalizeName(strings.TrimPrefix(name, "@"))
	if err != nil {
		return "", false, invalidName(s.lang, name, err)
	}
	users, err := s.Users(ctx)
	if err != nil {
		return "", false, err
	}
	return findFolded(users, user)
}

// findFolded returns the item of list that is name regardless of case.
func findFolded(list []string, name string) (string, bool, error) {
	key := proto.FoldName(name)
	i := slices.IndexFunc(list, func(item string) bool { return proto.FoldName(item) == key })
	if i < 0 {
		return "", false, nil
	}
	return list[i], true, nil
}

// CreateChannel creates a channel and returns its normalised name. A
// leading '#' is dropped.
func (s *Session) CreateChannel(ctx context.Context, name string) (string, error) {
	channel, err := proto.NormalizeChannel(name)
	if err != nil {
		return "", invalidName(s.lang, name, err)
	}
	if _, _, err := s.call(ctx, proto.ServiceChannel, &proto.ChannelRequest{Channel: channel, ID: requestID()}); err != nil {
		return "", err
	}
	return channel, nil
}

// Publish posts text to channel as the logged-in user.
func (s *Session) Publish(ctx context.Context, channel, text string) (Receipt, error) {
	user := s.User()
	if user == "" {
		return Receipt{}, newError(ErrNotLoggedIn, nil, s.lang, textNotLoggedIn)
	}
	name, err := proto.NormalizeChannel(channel)
	if err != nil {
		return Receipt{}, invalidName(s.lang, channel, err)
	}
	if err := proto.ValidateText(text); err != nil {
		return Receipt{}, invalidText(s.lang, text, err)
	}
	return s.write(ctx, proto.ServicePublish, &proto.PublishRequest{User: user, Channel: name, Message: text, ID: requestID()})
}

// Send sends text to user to as a direct message from the logged-in user.
func (s *Session) Send(ctx context.Context, to, text string) (Receipt, error) {
	user := s.User()
	if user == "" {
		return Receipt{}, newError(ErrNotLoggedIn, nil, s.lang, textNotLoggedIn)
	}
	dst, err := proto.NormalizeName(to)
	if err != nil {
		return Receipt{}, invalidName(s.lang, to, err)
	}
	if err := proto.ValidateText(text); err != nil {
		return Receipt{}, invalidText(s.lang, text, err)
	}
	return s.write(ctx, proto.ServiceMessage, &proto.DirectRequest{Src: user, Dst: dst, Message: text, ID: requestID()})
}

// write sends a post or direct message and returns its receipt.
func (s *Session) write(ctx context.Context, service string, request any) (Receipt, error) {
	data, sent, err := s.call(ctx, service, request)
	if err != nil {
		return Receipt{}, err
	}
	serverClock, _ := data.Clock() // call has already rejected an invalid clock
	return Receipt{Clock: sent, ServerClock: serverClock}, nil
}

// HistoryQuery selects a channel's posts (Channel) or the logged-in user's
// conversation with Peer.
type HistoryQuery struct {
	Channel string
	Peer    string
	Limit   int    // at most this many messages; the server's default (50) when zero
	Before  string // a cursor from an earlier page, for older messages
}

// HistoryPage is one page of history, oldest first.
type HistoryPage struct {
	Messages []Message
	Before   string // cursor for the page before this one; empty when none is older
	Skipped  int    // entries that could not be read and were left out
}

// History reads a channel's posts or a conversation, oldest first.
func (s *Session) History(ctx context.Context, q HistoryQuery) (HistoryPage, error) {
	request := &proto.HistoryRequest{Limit: q.Limit, Before: q.Before}
	if q.Peer != "" {
		user := s.User()
		if user == "" {
			return HistoryPage{}, newError(ErrNotLoggedIn, nil, s.lang, textNotLoggedIn)
		}
		peer, err := proto.NormalizeName(q.Peer)
		if err != nil {
			return HistoryPage{}, invalidName(s.lang, q.Peer, err)
		}
		request.User, request.Peer = user, peer
	} else {
		channel, err := proto.NormalizeChannel(q.Channel)
		if err != nil {
			return HistoryPage{}, invalidName(s.lang, q.Channel, err)
		}
		request.Channel = channel
	}

	data, _, err := s.call(ctx, proto.ServiceHistory, request)
	if err != nil {
		return HistoryPage{}, err
	}
	var page HistoryPage
	page.Before, _, _ = data.OptString("before")
	items, _ := data["messages"].([]any)
	now := time.Now()
	for _, item := range items {
		fields, ok := item.(map[string]any)
		if !ok {
			page.Skipped++
			continue
		}
		m, err := ParseMessage(request.Channel, fields, now)
		if err != nil {
			page.Skipped++
			continue
		}
		if m.Direct() && m.To == "" {
			// In a conversation the recipient is the participant who did not
			// send it.
			m.To = request.Peer
			if proto.FoldName(m.From) == proto.FoldName(request.Peer) {
				m.To = request.User
			}
		}
		page.Messages = append(page.Messages, m)
	}
	return page, nil
}

// Decode reads a publication received from a proto.Subscriber and
// witnesses its clock. A publication with an invalid clock is an error.
func (s *Session) Decode(d proto.Delivery) (Message, error) {
	data, err := proto.DecodeData(d.Payload)
	if err != nil {
		return Message{}, err
	}
	if _, err := s.clocks.Witness(data); err != nil {
		return Message{}, err
	}
	return ParseMessage(d.Topic, data, time.Now())
}

// call encodes one request, sends it (twice at most, as the same frame),
// witnesses the reply and checks its status. It returns the reply's data
// and the Lamport clock the request carried.
func (s *Session) call(ctx context.Context, service string, request any) (proto.Data, uint64, error) {
	meta := s.clocks.Meta()
	meta.Lang = s.lang // servers that know the key describe errors in it
	frame, err := proto.Encode(service, request, meta)
	if err != nil {
		return nil, 0, newError(ErrInvalid, err, s.lang, textEncode)
	}

	data, err := s.exchange(ctx, frame, true)
	return data, meta.Clock, err
}

// exchange sends frame and returns the reply's data. While again is set it
// sends the same frame once more after a lost reply, or after the broker
// replied that the server holding the request disconnected or stalled
// (retry). A msgsys server applies a repeated write once, by its id.
func (s *Session) exchange(ctx context.Context, frame []byte, again bool) (proto.Data, error) {
	reply, err := s.req.Request(ctx, frame, s.timeout)
	if again && retryable(err) && ctx.Err() == nil {
		return s.exchange(ctx, frame, false)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, s.unavailable(err)
	}

	env, err := proto.Decode(reply)
	if err != nil {
		return nil, newError(ErrBadReply, err, s.lang, textBadReply)
	}
	if _, err := s.clocks.Witness(env.Data); err != nil {
		return nil, newError(ErrBadReply, err, s.lang, textBadReply)
	}
	status, hasStatus, err := env.Data.OptString("status")
	if err != nil {
		return nil, newError(ErrBadReply, err, s.lang, textBadReply)
	}
	if env.Service == proto.ServiceError || (hasStatus && !proto.IsSuccess(status)) {
		if retry, _ := env.Data["retry"].(bool); retry && again && ctx.Err() == nil {
			return s.exchange(ctx, frame, false)
		}
		return nil, s.rejected(env.Data)
	}
	return env.Data, nil
}

// requestID returns a fresh id for a write. The retry in call repeats the
// frame and so the id, which lets msgsys servers apply the write once.
func requestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// retryable reports whether sending the frame again is worth it: after a
// timeout, a dropped connection or a failed write, the request or its reply
// may have been lost, and a new connection may work. A broker that refused
// the connection got nothing and would refuse again at once.
func retryable(err error) bool {
	return err != nil && !errors.Is(err, proto.ErrUnreachable)
}

// rejected builds the error for a reply with an error status, carrying
// the server's explanation from "description" or "message".
func (s *Session) rejected(data proto.Data) error {
	reason, ok, _ := firstString(data, "description", "message")
	if !ok {
		return newError(ErrRejected, nil, s.lang, textRejected)
	}
	return &Error{Kind: ErrRejected, Text: reason}
}
