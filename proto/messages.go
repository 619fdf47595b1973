package proto

// Service names of the protocol. Requests and replies carry them in the
// envelope's "service" key; a reply repeats its request's name.
const (
	ServiceLogin     = "login"
	ServiceUsers     = "users"
	ServiceChannel   = "channel"
	ServiceChannels  = "channels"
	ServicePublish   = "publish"
	ServiceMessage   = "message"
	ServiceHistory   = "history"
	ServiceError     = "error"
	ServiceRank      = "rank"
	ServiceList      = "list"
	ServiceHeartbeat = "heartbeat"
	ServiceElection  = "election"
	ServiceClock     = "clock"
)

// Reply statuses as the protocol spells them: login and channel reply
// "sucesso", publish, message and history reply "OK", and every failure is
// "erro".
const (
	StatusSuccess = "sucesso"
	StatusOK      = "OK"
	StatusError   = "erro"
)

// History limits: the default page and the largest a request may ask for.
const (
	HistoryDefaultLimit = 50
	HistoryMaxLimit     = 1000
)

// Every struct below is the data map of one message. Field order is the
// encoded key order, and each ends with Timestamp and Clock, which Encode
// fills from the sender's clocks.
//
// ID on the write requests is msgsys's addition: a client sets a fresh
// random id for each write and repeats it when it retries, so a server
// applies the write once although the first reply was lost. Lang on the
// client requests is another: the language, pt or en, of the error
// descriptions the client shows, which Encode fills from Meta.Lang.

// LoginRequest registers the user on first use and records every login.
type LoginRequest struct {
	User      string `msgpack:"user"`
	ID        string `msgpack:"id,omitempty"`
	Lang      string `msgpack:"lang,omitempty"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// ChannelRequest creates a channel.
type ChannelRequest struct {
	Channel   string `msgpack:"channel"`
	ID        string `msgpack:"id,omitempty"`
	Lang      string `msgpack:"lang,omitempty"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// EmptyRequest is the data of users, channels, list, election and clock
// requests, which carry only the sender's clocks.
type EmptyRequest struct {
	Lang      string `msgpack:"lang,omitempty"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// PublishRequest posts to a channel.
type PublishRequest struct {
	User      string `msgpack:"user"`
	Channel   string `msgpack:"channel"`
	Message   string `msgpack:"message"`
	ID        string `msgpack:"id,omitempty"`
	Lang      string `msgpack:"lang,omitempty"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// DirectRequest sends a direct message from Src to Dst.
type DirectRequest struct {
	Src       string `msgpack:"src"`
	Dst       string `msgpack:"dst"`
	Message   string `msgpack:"message"`
	ID        string `msgpack:"id,omitempty"`
	Lang      string `msgpack:"lang,omitempty"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// HistoryRequest reads a channel's posts, or with User and Peer a
// conversation, newest Limit before the cursor Before, oldest first.
type HistoryRequest struct {
	Channel   string `msgpack:"channel,omitempty"`
	User      string `msgpack:"user,omitempty"`
	Peer      string `msgpack:"peer,omitempty"`
	Limit     int    `msgpack:"limit,omitempty"`
	Before    string `msgpack:"before,omitempty"`
	Lang      string `msgpack:"lang,omitempty"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// StatusReply is the reply to login and channel, and is the error reply of every
// service whose failures carry a description.
type StatusReply struct {
	Status      string `msgpack:"status"`
	Description string `msgpack:"description,omitempty"`
	// Retry, a msgsys extension, marks an error after which the same
	// request sent again may succeed.
	Retry     bool   `msgpack:"retry,omitempty"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// ResultReply is the reply to publish and message. On failure Message holds the
// reason, as the protocol puts it there for these two services.
type ResultReply struct {
	Status  string `msgpack:"status"`
	Message string `msgpack:"message,omitempty"`
	// Retry, a msgsys extension, as in StatusReply.
	Retry     bool   `msgpack:"retry,omitempty"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// UsersReply lists every registered user, sorted.
type UsersReply struct {
	Users     []string `msgpack:"users"`
	Timestamp string   `msgpack:"timestamp"`
	Clock     uint64   `msgpack:"clock"`
}

// ChannelsReply lists the channels under both keys that implementations
// read: "users" (the standard's) and "channels".
type ChannelsReply struct {
	Users     []string `msgpack:"users"`
	Channels  []string `msgpack:"channels"`
	Timestamp string   `msgpack:"timestamp"`
	Clock     uint64   `msgpack:"clock"`
}

// HistoryReply carries a page of publications, oldest first, and a cursor
// for the page before it when older messages exist.
type HistoryReply struct {
	Status    string         `msgpack:"status"`
	Messages  []*Publication `msgpack:"messages"`
	Before    string         `msgpack:"before,omitempty"`
	Message   string         `msgpack:"message,omitempty"`
	Timestamp string         `msgpack:"timestamp"`
	Clock     uint64         `msgpack:"clock"`
}

// Publication is a channel post (User, Channel) or a direct message (Src,
// From, Dst) as published and as listed in history. From repeats Src
// because some clients read one and some the other.
type Publication struct {
	User      string `msgpack:"user,omitempty"`
	Channel   string `msgpack:"channel,omitempty"`
	Src       string `msgpack:"src,omitempty"`
	From      string `msgpack:"from,omitempty"`
	Dst       string `msgpack:"dst,omitempty"`
	Message   string `msgpack:"message"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// RankRequest requests from the reference a server's rank. Addr, the server's
// server-to-server endpoint, is msgsys's addition, and so is Lang, the
// language of the description of an error reply.
type RankRequest struct {
	User      string `msgpack:"user"`
	Addr      string `msgpack:"addr,omitempty"`
	Rank      int64  `msgpack:"rank,omitempty"` // the rank a server was started with, if any
	Lang      string `msgpack:"lang,omitempty"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// RankReply carries a rank: positive, unique, and stable per name.
type RankReply struct {
	Rank      int64  `msgpack:"rank"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// ServerInfo is one available server in the reference's list.
type ServerInfo struct {
	Name string `msgpack:"name"`
	Rank int64  `msgpack:"rank"`
	Addr string `msgpack:"addr,omitempty"`
}

// ListReply lists the available servers.
type ListReply struct {
	List []ServerInfo `msgpack:"list"`
	// Registered lists every server the reference has registered,
	// available or not, a msgsys addition. A server that starts waits for
	// them in its catch-up, because after a restart of the whole cluster
	// List names only the servers that have registered again.
	Registered []ServerInfo `msgpack:"registered,omitempty"`
	Timestamp  string       `msgpack:"timestamp"`
	Clock      uint64       `msgpack:"clock"`
}

// HeartbeatRequest keeps a server available at the reference. Lang is as
// in RankRequest.
type HeartbeatRequest struct {
	User      string `msgpack:"user"`
	Addr      string `msgpack:"addr,omitempty"`
	Rank      int64  `msgpack:"rank,omitempty"` // the rank the server uses, so a reference that lost its data restores it
	Lang      string `msgpack:"lang,omitempty"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// ElectionReply is a Bully OK: "I am alive and take over".
type ElectionReply struct {
	Election  string `msgpack:"election"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// ClockReply carries the replier's physical clock in Unix seconds.
type ClockReply struct {
	Time      float64 `msgpack:"time"`
	Timestamp string  `msgpack:"timestamp"`
	Clock     uint64  `msgpack:"clock"`
}

// Announcement is the data of a coordinator announcement on topic
// "servers". Rank, Epoch and Addr are msgsys's additions: a server ignores an
// announcement older than the newest epoch it has seen.
type Announcement struct {
	Coordinator string `msgpack:"coordinator"`
	Rank        int64  `msgpack:"rank,omitempty"`
	Epoch       uint64 `msgpack:"epoch,omitempty"`
	Addr        string `msgpack:"addr,omitempty"` // the coordinator's server-to-server endpoint
	Timestamp   string `msgpack:"timestamp"`
	Clock       uint64 `msgpack:"clock"`
}
