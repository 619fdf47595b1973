// Package clienttest runs a small in-memory stand-in for a msgsys
// deployment on 127.0.0.1, for the tests of the client and the bot. It has
// a broker endpoint that handles the client services itself and a pub/sub
// endpoint that fans publications out to its subscribers. It speaks the
// wire protocol over real sockets, keeps its state across Stop and
// Restart, and replies to a resent identical frame with its first reply
// without applying it twice.
package clienttest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"msgsys/proto"
)

// Request is one request frame the server received.
type Request struct {
	Service string
	Frame   []byte
	Resent  bool // an identical frame had been received before
	Dropped bool // its reply was not sent
	Failed  bool // replied to as a broker does when the server disconnected, not applied
}

// Server is the stand-in deployment. Its methods are safe for concurrent
// use.
type Server struct {
	clocks proto.Clocks

	mu        sync.Mutex // guards every field below
	broker    string     // endpoint of the request side
	sub       string     // endpoint of the subscriber side
	users     map[string]string
	channels  map[string]string
	posts     map[string][]*proto.Publication
	directs   []*proto.Publication
	requests  []Request
	replies   map[string][]byte // reply of each frame handled, by frame
	drop      int               // replies still to drop
	failRetry int               // requests still to fail as a broker does when a server disconnects
	onHistory func(channel string)
	onLogin   func(user string)
	onCreate  func(channel string)
	subs      map[*proto.Conn]map[string]bool // subscriber connections and their topics
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// Start binds both endpoints on ephemeral ports of 127.0.0.1 and serves
// them until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		clocks:   proto.NewClocks(),
		broker:   "tcp://127.0.0.1:0",
		sub:      "tcp://127.0.0.1:0",
		users:    make(map[string]string),
		channels: make(map[string]string),
		posts:    make(map[string][]*proto.Publication),
		replies:  make(map[string][]byte),
		subs:     make(map[*proto.Conn]map[string]bool),
	}
	s.Restart(t)
	t.Cleanup(s.Stop)
	return s
}

// Broker is the endpoint clients send requests to.
func (s *Server) Broker() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broker
}

// Sub is the endpoint clients subscribe at.
func (s *Server) Sub() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sub
}

// Restart binds the endpoints again after Stop, on the same ports, and
// serves them. The stored state is kept.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		t.Fatal("clienttest: Restart while running")
	}
	front, err := proto.Listen(s.broker, proto.Router, nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := proto.Listen(s.sub, proto.XPub, nil)
	if err != nil {
		front.Close()
		t.Fatal(err)
	}
	s.broker, s.sub = front.Endpoint(), back.Endpoint()

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Go(func() { _ = front.Serve(ctx, s.serveRequests) })
	s.wg.Go(func() { _ = back.Serve(ctx, s.serveSubscriber) })
}

// Stop closes both endpoints and every connection, and waits for them.
func (s *Server) Stop() {
	s.mu.Lock()
	cancel := s.cancel
	s.cancel = nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
}

// DropReplies makes the server handle the next n requests without sending
// their replies, as if the replies were lost.
func (s *Server) DropReplies(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop = n
}

// FailRetryable makes the server reply to the next n requests with an
// erro that carries retry, without applying them, as msgsys's broker does
// when the server that held a request disconnected.
func (s *Server) FailRetryable(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failRetry = n
}

// OnHistory sets a function that runs before the reply to each history
// request is built, with the requested channel ("" for a conversation).
func (s *Server) OnHistory(hook func(channel string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onHistory = hook
}

// OnLogin sets a function that runs before the reply to each valid login
// request is built, with the normalised user name.
func (s *Server) OnLogin(hook func(user string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onLogin = hook
}

// OnCreate sets a function that runs before the reply to each channel
// creation is built, with the requested name.
func (s *Server) OnCreate(hook func(channel string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onCreate = hook
}

// AddUser registers a user.
func (s *Server) AddUser(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	addName(s.users, name)
}

// AddChannel creates a channel.
func (s *Server) AddChannel(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	addName(s.channels, name)
}

func addName(names map[string]string, name string) {
	if _, ok := names[proto.FoldName(name)]; !ok {
		names[proto.FoldName(name)] = name
	}
}

// Post stores a post and publishes it, as a publish request would.
func (s *Server) Post(channel, user, text string) {
	s.mu.Lock()
	addName(s.users, user)
	addName(s.channels, channel)
	topic, payload := s.storePost(channel, user, text)
	s.mu.Unlock()
	s.publish(topic, payload)
}

// StoreOnly stores a post without publishing it, so only history lists
// it: a post that a subscriber missed live, as one published before the
// proxy applied the subscription.
func (s *Server) StoreOnly(channel, user, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	addName(s.users, user)
	addName(s.channels, channel)
	s.storePost(channel, user, text)
}

// PublishOnly publishes a post without storing it, so history never lists
// it: a live-only publication.
func (s *Server) PublishOnly(channel, user, text string) {
	s.mu.Lock()
	pub := &proto.Publication{User: user, Channel: channel, Message: text}
	payload, err := proto.EncodeData(pub, s.clocks.Meta())
	s.mu.Unlock()
	if err != nil {
		panic(fmt.Sprintf("clienttest: encode post: %v", err))
	}
	s.publish(channel, payload)
}

// Users returns the registered users, sorted.
func (s *Server) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedValues(s.users)
}

// Channels returns the channels, sorted.
func (s *Server) Channels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedValues(s.channels)
}

// Posts returns a copy of channel's posts, oldest first.
func (s *Server) Posts(channel string) []proto.Publication {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []proto.Publication
	for _, p := range s.posts[proto.FoldName(channel)] {
		out = append(out, *p)
	}
	return out
}

// Directs returns a copy of every direct message, oldest first.
func (s *Server) Directs() []proto.Publication {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []proto.Publication
	for _, p := range s.directs {
		out = append(out, *p)
	}
	return out
}

// Requests returns the requests received for service, or all of them when
// service is "".
func (s *Server) Requests(service string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if service == "" || r.Service == service {
			out = append(out, r)
		}
	}
	return out
}

// Subscribed reports whether some connection subscribes to exactly topic.
func (s *Server) Subscribed(topic string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, topics := range s.subs {
		if topics[topic] {
			return true
		}
	}
	return false
}

func sortedValues(names map[string]string) []string {
	out := make([]string, 0, len(names))
	for _, name := range names {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// serveRequests replies to the requests of one REQ connection in order.
func (s *Server) serveRequests(conn *proto.Conn) {
	for {
		frames, err := conn.Recv()
		if err != nil {
			return
		}
		if len(frames) < 2 {
			continue
		}
		reply, send := s.handle(frames[len(frames)-1])
		if !send {
			continue
		}
		envelope := append(slices.Clone(frames[:len(frames)-1]), reply)
		if err := conn.Send(envelope...); err != nil {
			return
		}
	}
}

// serveSubscriber records one subscriber connection's subscriptions.
func (s *Server) serveSubscriber(conn *proto.Conn) {
	s.mu.Lock()
	s.subs[conn] = make(map[string]bool)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, conn)
		s.mu.Unlock()
	}()
	for {
		frames, err := conn.Recv()
		if err != nil {
			return
		}
		if len(frames) != 1 || len(frames[0]) == 0 {
			continue
		}
		topic := string(frames[0][1:])
		s.mu.Lock()
		switch frames[0][0] {
		case 1:
			s.subs[conn][topic] = true
		case 0:
			delete(s.subs[conn], topic)
		}
		s.mu.Unlock()
	}
}

// publish sends a publication to every connection with a subscription that
// is a prefix of topic, as ZeroMQ matches them.
func (s *Server) publish(topic string, payload []byte) {
	s.mu.Lock()
	var targets []*proto.Conn
	for conn, topics := range s.subs {
		for t := range topics {
			if strings.HasPrefix(topic, t) {
				targets = append(targets, conn)
				break
			}
		}
	}
	s.mu.Unlock()
	for _, conn := range targets {
		_ = conn.Send([]byte(topic), payload) // a failed subscriber connection closes itself
	}
}

// publication is one message to publish after a request is handled.
type publication struct {
	topic   string
	payload []byte
}

// handle builds the reply to one request frame and reports whether to
// send it.
func (s *Server) handle(frame []byte) ([]byte, bool) {
	env, decodeErr := proto.Decode(frame)
	s.mu.Lock()
	onHistory, onLogin, onCreate := s.onHistory, s.onLogin, s.onCreate
	s.mu.Unlock()
	if decodeErr == nil && env.Service == proto.ServiceChannel && onCreate != nil {
		channel, _, _ := env.Data.OptString("channel")
		onCreate(channel)
	}
	if decodeErr == nil && env.Service == proto.ServiceHistory && onHistory != nil {
		channel, _, _ := env.Data.OptString("channel")
		onHistory(channel)
	}
	if decodeErr == nil && env.Service == proto.ServiceLogin && onLogin != nil {
		if user, err := env.Data.String("user"); err == nil {
			if user, err = proto.NormalizeName(user); err == nil {
				onLogin(user)
			}
		}
	}

	s.mu.Lock()
	request := Request{Service: env.Service, Frame: slices.Clone(frame)}
	if s.failRetry > 0 {
		s.failRetry--
		request.Failed = true
		s.requests = append(s.requests, request)
		s.mu.Unlock()
		text := "o servidor se desconectou antes de responder, tente novamente"
		reply, err := proto.Encode(env.Service, &retryReply{Status: proto.StatusError, Description: text, Message: text, Retry: true}, proto.NewClocks().Meta())
		return reply, err == nil
	}
	reply, resent := s.replies[string(frame)]
	var pubs []publication
	if !resent {
		reply, pubs = s.answer(env, decodeErr)
		s.replies[string(frame)] = reply
	}
	request.Resent = resent
	if s.drop > 0 {
		s.drop--
		request.Dropped = true
	}
	s.requests = append(s.requests, request)
	s.mu.Unlock()

	for _, p := range pubs {
		s.publish(p.topic, p.payload)
	}
	return reply, !request.Dropped
}

// answer applies a decoded request to the state and encodes the reply.
// The caller holds s.mu.
func (s *Server) answer(env proto.Envelope, decodeErr error) ([]byte, []publication) {
	if decodeErr != nil {
		return s.encode(proto.ServiceError, failure("pedido ilegível: "+decodeErr.Error())), nil
	}
	if _, err := s.clocks.Witness(env.Data); err != nil {
		return s.encode(env.Service, failure("relógio inválido")), nil
	}
	d := env.Data
	switch env.Service {
	case proto.ServiceLogin:
		return s.login(d), nil
	case proto.ServiceUsers:
		return s.encode(env.Service, &proto.UsersReply{Users: sortedValues(s.users)}), nil
	case proto.ServiceChannel:
		return s.createChannel(d), nil
	case proto.ServiceChannels:
		list := sortedValues(s.channels)
		return s.encode(env.Service, &proto.ChannelsReply{Users: list, Channels: list}), nil
	case proto.ServicePublish:
		return s.publishRequest(d)
	case proto.ServiceMessage:
		return s.directRequest(d)
	case proto.ServiceHistory:
		return s.history(d), nil
	default:
		return s.encode(proto.ServiceError, failure("serviço desconhecido: "+env.Service)), nil
	}
}

func (s *Server) encode(service string, data any) []byte {
	frame, err := proto.Encode(service, data, s.clocks.Meta())
	if err != nil {
		panic(fmt.Sprintf("clienttest: encode %s reply: %v", service, err))
	}
	return frame
}

func failure(description string) *proto.StatusReply {
	return &proto.StatusReply{Status: proto.StatusError, Description: description}
}

func result(message string) *proto.ResultReply {
	if message == "" {
		return &proto.ResultReply{Status: proto.StatusOK}
	}
	return &proto.ResultReply{Status: proto.StatusError, Message: message}
}

func (s *Server) login(d proto.Data) []byte {
	user, err := d.String("user")
	if err == nil {
		user, err = proto.NormalizeName(user)
	}
	if err != nil {
		return s.encode(proto.ServiceLogin, failure("nome inválido"))
	}
	addName(s.users, user)
	return s.encode(proto.ServiceLogin, &proto.StatusReply{Status: proto.StatusSuccess})
}

func (s *Server) createChannel(d proto.Data) []byte {
	channel, err := d.String("channel")
	if err == nil {
		channel, err = proto.NormalizeName(channel)
	}
	if err != nil {
		return s.encode(proto.ServiceChannel, failure("nome de canal inválido"))
	}
	if _, taken := s.channels[proto.FoldName(channel)]; taken {
		return s.encode(proto.ServiceChannel, failure("o canal "+channel+" já existe"))
	}
	addName(s.channels, channel)
	return s.encode(proto.ServiceChannel, &proto.StatusReply{Status: proto.StatusSuccess})
}

func (s *Server) publishRequest(d proto.Data) ([]byte, []publication) {
	user, errUser := d.String("user")
	channel, errChannel := d.String("channel")
	text, errText := d.String("message")
	switch {
	case errUser != nil || errChannel != nil || errText != nil:
		return s.encode(proto.ServicePublish, result("campo ausente")), nil
	case s.users[proto.FoldName(user)] == "":
		return s.encode(proto.ServicePublish, result("usuário desconhecido: "+user)), nil
	case s.channels[proto.FoldName(channel)] == "":
		return s.encode(proto.ServicePublish, result("canal desconhecido: "+channel)), nil
	case proto.ValidateText(text) != nil:
		return s.encode(proto.ServicePublish, result("texto inválido")), nil
	}
	topic, payload := s.storePost(channel, user, text)
	return s.encode(proto.ServicePublish, result("")), []publication{{topic, payload}}
}

// storePost stores a post in a known channel and returns its topic and
// encoded publication. The caller holds s.mu.
func (s *Server) storePost(channel, user, text string) (string, []byte) {
	key := proto.FoldName(channel)
	pub := &proto.Publication{User: s.users[proto.FoldName(user)], Channel: s.channels[key], Message: text}
	payload, err := proto.EncodeData(pub, s.clocks.Meta())
	if err != nil {
		panic(fmt.Sprintf("clienttest: encode post: %v", err))
	}
	s.posts[key] = append(s.posts[key], pub)
	return pub.Channel, payload
}

func (s *Server) directRequest(d proto.Data) ([]byte, []publication) {
	src, errSrc := d.String("src")
	dst, errDst := d.String("dst")
	text, errText := d.String("message")
	switch {
	case errSrc != nil || errDst != nil || errText != nil:
		return s.encode(proto.ServiceMessage, result("campo ausente")), nil
	case s.users[proto.FoldName(src)] == "":
		return s.encode(proto.ServiceMessage, result("usuário desconhecido: "+src)), nil
	case s.users[proto.FoldName(dst)] == "":
		return s.encode(proto.ServiceMessage, result("usuário desconhecido: "+dst)), nil
	case proto.ValidateText(text) != nil:
		return s.encode(proto.ServiceMessage, result("texto inválido")), nil
	}
	from, to := s.users[proto.FoldName(src)], s.users[proto.FoldName(dst)]
	pub := &proto.Publication{Src: from, From: from, Dst: to, Message: text}
	payload, err := proto.EncodeData(pub, s.clocks.Meta())
	if err != nil {
		panic(fmt.Sprintf("clienttest: encode direct message: %v", err))
	}
	s.directs = append(s.directs, pub)
	return s.encode(proto.ServiceMessage, result("")), []publication{{to, payload}}
}

// history replies with the newest limit messages before the cursor, which
// is the index of the first message of the previous page.
func (s *Server) history(d proto.Data) []byte {
	var list []*proto.Publication
	if channel, ok, _ := d.OptString("channel"); ok && channel != "" {
		key := proto.FoldName(channel)
		if s.channels[key] == "" {
			return s.encode(proto.ServiceHistory, &proto.HistoryReply{Status: proto.StatusError, Message: "canal desconhecido: " + channel})
		}
		list = s.posts[key]
	} else {
		user, _ := d.String("user")
		peer, _ := d.String("peer")
		a, b := proto.FoldName(user), proto.FoldName(peer)
		for _, p := range s.directs {
			src, dst := proto.FoldName(p.Src), proto.FoldName(p.Dst)
			if (src == a && dst == b) || (src == b && dst == a) {
				list = append(list, p)
			}
		}
	}

	end := len(list)
	if before, ok, _ := d.OptString("before"); ok {
		if n, err := strconv.Atoi(before); err == nil && n >= 0 && n < end {
			end = n
		}
	}
	limit, ok, _ := d.OptInt("limit")
	if !ok || limit <= 0 {
		limit = proto.HistoryDefaultLimit
	}
	start := max(0, end-int(limit))
	reply := &proto.HistoryReply{Status: proto.StatusOK, Messages: slices.Clone(list[start:end])}
	if reply.Messages == nil {
		reply.Messages = []*proto.Publication{}
	}
	if start > 0 {
		reply.Before = strconv.Itoa(start)
	}
	return s.encode(proto.ServiceHistory, reply)
}

// retryReply is the error reply of msgsys's broker to a request whose
// server disconnected before replying.
type retryReply struct {
	Status      string `msgpack:"status"`
	Description string `msgpack:"description"`
	Message     string `msgpack:"message"`
	Retry       bool   `msgpack:"retry"`
	Timestamp   string `msgpack:"timestamp"`
	Clock       uint64 `msgpack:"clock"`
}
