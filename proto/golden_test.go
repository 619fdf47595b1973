package proto

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden MessagePack frames in testdata/golden")

// goldenDir holds one MessagePack frame per message of the protocol.
var goldenDir = filepath.Join("..", "testdata", "golden")

// goldenMeta is the metadata every golden frame carries.
var goldenMeta = Meta{Timestamp: "2026-12-04T19:33:44.738Z", Clock: 42}

// goldenTime is goldenMeta.Timestamp as a time.
var goldenTime = time.Date(2026, 12, 4, 19, 33, 44, 738e6, time.UTC)

// goldenCase is one message: how to build it, and the fields a decoder must
// find in the frame, written by hand so that a misspelt key fails.
type goldenCase struct {
	name    string // file name without .msgpack
	service string // envelope service, or "" for a bare data map (publication)
	build   func() any
	want    map[string]any // expected data, timestamp and clock included
}

// meta adds goldenMeta's fields to a data map.
func meta(fields map[string]any) map[string]any {
	fields["timestamp"] = goldenMeta.Timestamp
	fields["clock"] = 42
	return fields
}

var goldenCases = []goldenCase{
	{"login_request", ServiceLogin,
		func() any { return &LoginRequest{User: "ana"} },
		meta(map[string]any{"user": "ana"})},
	{"login_reply", ServiceLogin,
		func() any { return &StatusReply{Status: StatusSuccess} },
		meta(map[string]any{"status": "sucesso"})},
	{"login_error_reply", ServiceLogin,
		func() any { return &StatusReply{Status: StatusError, Description: "nome inválido"} },
		meta(map[string]any{"status": "erro", "description": "nome inválido"})},
	{"users_request", ServiceUsers,
		func() any { return &EmptyRequest{} },
		meta(map[string]any{})},
	{"users_reply", ServiceUsers,
		func() any { return &UsersReply{Users: []string{"ana", "bob", "José"}} },
		meta(map[string]any{"users": []any{"ana", "bob", "José"}})},
	{"users_reply_empty", ServiceUsers,
		func() any { return &UsersReply{} },
		meta(map[string]any{"users": []any{}})},
	{"channel_request", ServiceChannel,
		func() any { return &ChannelRequest{Channel: "geral"} },
		meta(map[string]any{"channel": "geral"})},
	{"channel_reply", ServiceChannel,
		func() any { return &StatusReply{Status: StatusSuccess} },
		meta(map[string]any{"status": "sucesso"})},
	{"channels_request", ServiceChannels,
		func() any { return &EmptyRequest{} },
		meta(map[string]any{})},
	{"channels_reply", ServiceChannels,
		func() any {
			names := []string{"dev", "geral"}
			return &ChannelsReply{Users: names, Channels: names}
		},
		meta(map[string]any{"users": []any{"dev", "geral"}, "channels": []any{"dev", "geral"}})},
	{"channels_reply_empty", ServiceChannels,
		func() any { return &ChannelsReply{} },
		meta(map[string]any{"users": []any{}, "channels": []any{}})},
	{"publish_request", ServicePublish,
		func() any { return &PublishRequest{User: "ana", Channel: "geral", Message: "olá, mundo"} },
		meta(map[string]any{"user": "ana", "channel": "geral", "message": "olá, mundo"})},
	{"publish_reply", ServicePublish,
		func() any { return &ResultReply{Status: StatusOK} },
		meta(map[string]any{"status": "OK"})},
	{"publish_error_reply", ServicePublish,
		func() any { return &ResultReply{Status: StatusError, Message: "canal desconhecido"} },
		meta(map[string]any{"status": "erro", "message": "canal desconhecido"})},
	{"message_request", ServiceMessage,
		func() any { return &DirectRequest{Src: "ana", Dst: "bob", Message: "oi\nbob"} },
		meta(map[string]any{"src": "ana", "dst": "bob", "message": "oi\nbob"})},
	{"message_reply", ServiceMessage,
		func() any { return &ResultReply{Status: StatusOK} },
		meta(map[string]any{"status": "OK"})},
	{"history_request", ServiceHistory,
		func() any { return &HistoryRequest{Channel: "geral", Limit: 2, Before: "c-17"} },
		meta(map[string]any{"channel": "geral", "limit": 2, "before": "c-17"})},
	{"history_conversation_request", ServiceHistory,
		func() any { return &HistoryRequest{User: "ana", Peer: "bob"} },
		meta(map[string]any{"user": "ana", "peer": "bob"})},
	{"history_reply", ServiceHistory,
		func() any {
			return &HistoryReply{
				Status: StatusOK,
				Messages: []*Publication{
					{User: "ana", Channel: "geral", Message: "primeiro", Timestamp: "2026-12-04T19:30:00.000Z", Clock: 15},
					{User: "bob", Channel: "geral", Message: "segundo", Timestamp: "2026-12-04T19:31:00.000Z", Clock: 16},
				},
				Before: "c-15",
			}
		},
		meta(map[string]any{
			"status": "OK",
			"messages": []any{
				map[string]any{"user": "ana", "channel": "geral", "message": "primeiro", "timestamp": "2026-12-04T19:30:00.000Z", "clock": 15},
				map[string]any{"user": "bob", "channel": "geral", "message": "segundo", "timestamp": "2026-12-04T19:31:00.000Z", "clock": 16},
			},
			"before": "c-15",
		})},
	{"history_reply_empty", ServiceHistory,
		func() any { return &HistoryReply{Status: StatusOK} },
		meta(map[string]any{"status": "OK", "messages": []any{}})},
	{"error_reply", ServiceError,
		func() any { return &StatusReply{Status: StatusError, Description: "serviço desconhecido"} },
		meta(map[string]any{"status": "erro", "description": "serviço desconhecido"})},
	{"post_publication", "",
		func() any { return &Publication{User: "ana", Channel: "geral", Message: "olá, mundo"} },
		meta(map[string]any{"user": "ana", "channel": "geral", "message": "olá, mundo"})},
	{"direct_publication", "",
		func() any { return &Publication{Src: "ana", From: "ana", Dst: "bob", Message: "oi"} },
		meta(map[string]any{"src": "ana", "from": "ana", "dst": "bob", "message": "oi"})},
	{"rank_request", ServiceRank,
		func() any { return &RankRequest{User: "srv-1", Addr: "tcp://127.0.0.1:5560"} },
		meta(map[string]any{"user": "srv-1", "addr": "tcp://127.0.0.1:5560"})},
	{"rank_reply", ServiceRank,
		func() any { return &RankReply{Rank: 3} },
		meta(map[string]any{"rank": 3})},
	{"list_request", ServiceList,
		func() any { return &EmptyRequest{} },
		meta(map[string]any{})},
	{"list_reply", ServiceList,
		func() any {
			return &ListReply{List: []ServerInfo{
				{Name: "srv-1", Rank: 1, Addr: "tcp://127.0.0.1:5560"},
				{Name: "srv-3", Rank: 3},
			}}
		},
		meta(map[string]any{"list": []any{
			map[string]any{"name": "srv-1", "rank": 1, "addr": "tcp://127.0.0.1:5560"},
			map[string]any{"name": "srv-3", "rank": 3},
		}})},
	{"heartbeat_request", ServiceHeartbeat,
		func() any { return &HeartbeatRequest{User: "srv-1"} },
		meta(map[string]any{"user": "srv-1"})},
	{"heartbeat_reply", ServiceHeartbeat,
		func() any { return &EmptyRequest{} },
		meta(map[string]any{})},
	{"election_request", ServiceElection,
		func() any { return &EmptyRequest{} },
		meta(map[string]any{})},
	{"election_reply", ServiceElection,
		func() any { return &ElectionReply{Election: StatusOK} },
		meta(map[string]any{"election": "OK"})},
	{"clock_request", ServiceClock,
		func() any { return &EmptyRequest{} },
		meta(map[string]any{})},
	{"clock_reply", ServiceClock,
		func() any { return &ClockReply{Time: 1796412824.738} },
		meta(map[string]any{"time": 1796412824.738})},
	{"announcement", ServiceElection,
		func() any { return &Announcement{Coordinator: "srv-3", Rank: 3, Epoch: 7} },
		meta(map[string]any{"coordinator": "srv-3", "rank": 3, "epoch": 7})},
}

func (c goldenCase) path() string { return filepath.Join(goldenDir, c.name+".msgpack") }

func (c goldenCase) encode() ([]byte, error) {
	if c.service == "" {
		return EncodeData(c.build(), goldenMeta)
	}
	return Encode(c.service, c.build(), goldenMeta)
}

// TestGoldenEncode checks that encoding each message gives the golden
// file's bytes. With -update it rewrites the files instead.
func TestGoldenEncode(t *testing.T) {
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.encode()
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if *update {
				if err := os.WriteFile(c.path(), got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(c.path())
			if err != nil {
				t.Fatalf("%v (run go test ./proto -run TestGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encoded frame differs from %s\n got % x\nwant % x", c.path(), got, want)
			}
		})
	}
}

// TestGoldenDecode decodes each golden file and compares it with the
// fields written by hand, through Decode or DecodeData and the accessors.
func TestGoldenDecode(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			frame, err := os.ReadFile(c.path())
			if err != nil {
				t.Fatal(err)
			}
			var data Data
			if c.service == "" {
				data, err = DecodeData(frame)
				if err != nil {
					t.Fatalf("DecodeData: %v", err)
				}
			} else {
				env, err := Decode(frame)
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if env.Service != c.service {
					t.Errorf("service = %q, want %q", env.Service, c.service)
				}
				data = env.Data
			}

			if got, want := canonical(data), canonical(c.want); !reflect.DeepEqual(got, want) {
				t.Errorf("data\n got %#v\nwant %#v", got, want)
			}
			if clock, err := data.Clock(); err != nil || clock != 42 {
				t.Errorf("Clock() = %d, %v; want 42", clock, err)
			}
			if ts, ok, err := data.Timestamp(); err != nil || !ok || !ts.Equal(goldenTime) {
				t.Errorf("Timestamp() = %v, %v, %v; want %v", ts, ok, err, goldenTime)
			}
			for key, value := range c.want {
				text, isText := value.(string)
				if !isText {
					continue
				}
				if got, err := data.String(key); err != nil || got != text {
					t.Errorf("String(%q) = %q, %v; want %q", key, got, err, text)
				}
			}
		})
	}
}

// lowercaseKey is the spelling of every key the protocol defines.
var lowercaseKey = regexp.MustCompile(`^[a-z]+$`)

// TestGoldenBytes inspects the raw frames: every key is a lowercase str,
// all text is str (never bin), and there are no extension values.
func TestGoldenBytes(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			frame, err := os.ReadFile(c.path())
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			rest, err := msgpackWalk(frame, false, func(kind int, isKey bool, body []byte) {
				switch {
				case isKey && kind != kindStr:
					t.Errorf("map key of kind %d, want str", kind)
				case isKey:
					keys = append(keys, string(body))
				case kind == kindBin:
					t.Errorf("bin value %q; text must be str", body)
				case kind == kindExt:
					t.Errorf("extension value % x", body)
				}
			})
			if err != nil || len(rest) != 0 {
				t.Fatalf("walk: %v, %d bytes left", err, len(rest))
			}
			for _, key := range keys {
				if !lowercaseKey.MatchString(key) {
					t.Errorf("key %q is not lowercase ASCII", key)
				}
			}
			if c.service != "" && (len(keys) < 2 || keys[0] != "service" || keys[1] != "data") {
				t.Errorf("envelope keys start %q, want service then data", keys)
			}
			if frame[0] < 0x80 || frame[0] > 0x8f {
				t.Errorf("frame starts with %#x, want a fixmap", frame[0])
			}
		})
	}
}

// TestGoldenNoStrayFiles fails on a golden file that no case produces, such
// as one left behind by a renamed message.
func TestGoldenNoStrayFiles(t *testing.T) {
	entries, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range goldenCases {
		names = append(names, c.name+".msgpack")
	}
	for _, entry := range entries {
		if strings.HasSuffix(entry.Name(), ".msgpack") && !slices.Contains(names, entry.Name()) {
			t.Errorf("%s has no golden case", entry.Name())
		}
	}
}

// TestEncodeFillsNilSlices checks that a reply built without a list sends
// an empty array, which a peer can iterate, and not nil.
func TestEncodeFillsNilSlices(t *testing.T) {
	frame, err := Encode(ServiceUsers, &UsersReply{}, goldenMeta)
	if err != nil {
		t.Fatal(err)
	}
	env, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	users, ok := env.Data["users"].([]any)
	if !ok {
		t.Fatalf("users = %#v, want an empty array", env.Data["users"])
	}
	if len(users) != 0 {
		t.Fatalf("users = %v, want empty", users)
	}
}

// Extra is embedded by pointer in a test message.
type Extra struct {
	Tags []string `msgpack:"tags"`
}

func TestEncodeNilEmbeddedPointer(t *testing.T) {
	msg := &struct {
		*Extra
		Names     []string `msgpack:"names"`
		Skipped   []string `msgpack:"skipped,omitempty"`
		Timestamp string   `msgpack:"timestamp"`
		Clock     uint64   `msgpack:"clock"`
	}{}
	frame, err := EncodeData(msg, goldenMeta)
	if err != nil {
		t.Fatal(err)
	}
	data, err := DecodeData(frame)
	if err != nil {
		t.Fatal(err)
	}
	if names, ok := data["names"].([]any); !ok || len(names) != 0 {
		t.Errorf("names = %#v, want an empty array", data["names"])
	}
	if _, present := data["skipped"]; present {
		t.Errorf("omitempty slice sent as %#v", data["skipped"])
	}
}

// TestEncodeSetsMeta checks that Encode overwrites whatever metadata the
// struct held with the sender's.
func TestEncodeSetsMeta(t *testing.T) {
	msg := &LoginRequest{User: "ana", Timestamp: "stale", Clock: 7}
	frame, err := Encode(ServiceLogin, msg, goldenMeta)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Timestamp != goldenMeta.Timestamp || msg.Clock != goldenMeta.Clock {
		t.Errorf("struct meta = %q, %d; want goldenMeta", msg.Timestamp, msg.Clock)
	}
	want, err := os.ReadFile(filepath.Join(goldenDir, "login_request.msgpack"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(frame, want) {
		t.Errorf("frame % x\nwant  % x", frame, want)
	}
}

// TestEncodeRejectsNonStruct checks that a message that is not a pointer to
// a struct with Timestamp and Clock is a programming error that panics.
func TestEncodeRejectsNonStruct(t *testing.T) {
	for name, data := range map[string]any{
		"struct value":  LoginRequest{},
		"map":           map[string]any{"user": "ana"},
		"without clock": &struct{ Timestamp string }{},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Encode did not panic")
				}
			}()
			_, _ = Encode(ServiceLogin, data, goldenMeta)
		})
	}
}
