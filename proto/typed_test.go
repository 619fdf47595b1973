package proto

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/shamaton/msgpack/v2"
)

func TestDecodeIntoGoldenFrames(t *testing.T) {
	for _, c := range goldenCases {
		if c.service == "" {
			continue // publications have no envelope
		}
		t.Run(c.name, func(t *testing.T) {
			frame, err := os.ReadFile(c.path())
			if err != nil {
				t.Fatal(err)
			}
			decoded := reflect.New(reflect.TypeOf(c.build()).Elem()).Interface()
			service, err := DecodeInto(frame, decoded)
			if err != nil {
				t.Fatalf("DecodeInto: %v", err)
			}
			if service != c.service {
				t.Errorf("service = %q, want %q", service, c.service)
			}
			again, err := Encode(service, decoded, goldenMeta)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, frame) {
				t.Errorf("re-encoded % x\nwant         % x", again, frame)
			}
			if peeked, err := PeekService(frame); err != nil || peeked != c.service {
				t.Errorf("PeekService = %q, %v", peeked, err)
			}
		})
	}
}

// typedFrame builds {"service": "x", "data": {pairs...}}.
func typedFrame(pairs ...[]byte) []byte {
	return mpMap(mpStr("service"), mpStr("x"), mpStr("data"), mpMap(pairs...))
}

func TestDecodeIntoRejectsBadClock(t *testing.T) {
	tests := []struct {
		name   string
		value  []byte
		reason string
	}{
		{"negative fixint", []byte{0xff}, ReasonNegative},
		{"int8", []byte{0xd0, 0x80}, ReasonNegative},
		{"int16", append([]byte{0xd1}, be16(0xffff)...), ReasonNegative},
		{"int32", append([]byte{0xd2}, be32(0x80000000)...), ReasonNegative},
		{"int64", append([]byte{0xd3}, be64(1<<63)...), ReasonNegative},
		{"uint64 2^63+5", append([]byte{0xcf}, be64(1<<63+5)...), ReasonRange},
		{"uint64 above max clock", append([]byte{0xcf}, be64(MaxClock+1)...), ReasonRange},
		{"int64 above max clock", append([]byte{0xd3}, be64(MaxClock+1)...), ReasonRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var msg EmptyRequest
			_, err := DecodeInto(typedFrame(mpStr("clock"), tt.value), &msg)
			var fieldErr *FieldError
			if !errors.As(err, &fieldErr) || fieldErr.Field != "clock" || fieldErr.Reason != tt.reason {
				t.Errorf("DecodeInto err = %v (clock %d), want clock %s", err, msg.Clock, tt.reason)
			}
		})
	}
}

func TestDecodeIntoAcceptsClocks(t *testing.T) {
	tests := []struct {
		name  string
		pairs [][]byte
		want  uint64
	}{
		{"fixint", [][]byte{mpStr("clock"), {0x2a}}, 42},
		{"int8 positive", [][]byte{mpStr("clock"), {0xd0, 0x2a}}, 42},
		{"int64 positive", [][]byte{mpStr("clock"), append([]byte{0xd3}, be64(1<<40)...)}, 1 << 40},
		{"uint64 max clock", [][]byte{mpStr("clock"), append([]byte{0xcf}, be64(MaxClock)...)}, MaxClock},
		{"missing", nil, 0},
		{"nil", [][]byte{mpStr("clock"), {0xc0}}, 0},
		{"after other keys", [][]byte{mpStr("user"), mpStr("ana"), mpStr("clock"), {0x07}}, 7},
		{"repeated, last valid", [][]byte{mpStr("clock"), {0xff}, mpStr("clock"), {0x05}}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var msg LoginRequest
			if _, err := DecodeInto(typedFrame(tt.pairs...), &msg); err != nil || msg.Clock != tt.want {
				t.Errorf("DecodeInto = clock %d, %v; want %d", msg.Clock, err, tt.want)
			}
		})
	}

	// The check reads the last of repeated keys, as the decoder does.
	var msg LoginRequest
	if _, err := DecodeInto(typedFrame(mpStr("clock"), []byte{0x05}, mpStr("clock"), []byte{0xff}), &msg); err == nil {
		t.Errorf("repeated clock ending in -1 accepted as %d", msg.Clock)
	}
}

func TestDecodeIntoWrongTypes(t *testing.T) {
	tests := map[string]struct {
		frame  []byte
		target any
	}{
		// The decoder panics on this one; DecodeInto must return an error.
		"str for a list":     {typedFrame(mpStr("users"), mpStr("ana")), new(ChannelsReply)},
		"int for a str":      {typedFrame(mpStr("user"), []byte{0x01}), new(LoginRequest)},
		"str for an int":     {typedFrame(mpStr("rank"), mpStr("3")), new(RankReply)},
		"float for a clock":  {typedFrame(mpStr("clock"), float64Bytes(3.5)), new(LoginRequest)},
		"map for a list":     {typedFrame(mpStr("list"), mpMap()), new(ListReply)},
		"list for a map":     {mpMap(mpStr("service"), mpStr("x"), mpStr("data"), []byte{0x91, 0x01}), new(LoginRequest)},
		"bin key":            {[]byte{0x81, 0xc4, 0x01, 'k', 0x01}, new(LoginRequest)},
		"trailing bytes":     {append(typedFrame(), 0xc0), new(LoginRequest)},
		"str for a messages": {typedFrame(mpStr("messages"), mpStr("x")), new(HistoryReply)},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("DecodeInto panicked: %v", r)
				}
			}()
			if _, err := DecodeInto(tt.frame, tt.target); err == nil {
				t.Errorf("DecodeInto accepted % x into %T", tt.frame, tt.target)
			}
		})
	}
}

func TestPeekServiceErrors(t *testing.T) {
	if _, err := PeekService(mpMap(mpStr("data"), mpMap())); !errors.Is(err, ErrNoService) {
		t.Errorf("no service: err = %v, want ErrNoService", err)
	}
	if _, err := PeekService([]byte{0x91, 0x01}); !errors.Is(err, ErrNotMap) {
		t.Errorf("array: err = %v, want ErrNotMap", err)
	}
	for name, value := range map[string][]byte{"int": {0x05}, "bin": {0xc4, 0x01, 'x'}} {
		_, err := PeekService(mpMap(mpStr("service"), value))
		if !errors.Is(err, ErrServiceType) {
			t.Errorf("service %s: err = %v, want ErrServiceType", name, err)
		}
		if errors.Is(err, ErrNoService) {
			t.Errorf("service %s: err = %v, want it not taken for a missing service", name, err)
		}
	}
	if _, err := PeekService(append(bytes.Repeat([]byte{0x91}, 100), 0xc0)); !errors.Is(err, ErrTooDeep) {
		t.Errorf("deep nesting: err = %v, want ErrTooDeep", err)
	}
}

// TestPeekRetrySafe reads which requests a broker may send to a second
// server: reads, and writes with a non-empty text id, logins included.
func TestPeekRetrySafe(t *testing.T) {
	encode := func(service string, data map[string]any) []byte {
		t.Helper()
		frame, err := msgpack.Marshal(map[string]any{"service": service, "data": data})
		if err != nil {
			t.Fatal(err)
		}
		return frame
	}
	cases := []struct {
		name  string
		frame []byte
		safe  bool
	}{
		{"users", encode(ServiceUsers, map[string]any{}), true},
		{"history", encode(ServiceHistory, map[string]any{"channel": "geral"}), true},
		{"login without id", encode(ServiceLogin, map[string]any{"user": "ana"}), false},
		{"login with id", encode(ServiceLogin, map[string]any{"user": "ana", "id": "a1"}), true},
		{"publish with id", encode(ServicePublish, map[string]any{"user": "ana", "id": "p1"}), true},
		{"publish with an empty id", encode(ServicePublish, map[string]any{"user": "ana", "id": ""}), false},
		{"publish with a number for an id", encode(ServicePublish, map[string]any{"user": "ana", "id": 7}), false},
		{"not MessagePack", []byte{0xc1}, false},
	}
	for _, tc := range cases {
		if got := PeekRetrySafe(tc.frame); got != tc.safe {
			t.Errorf("%s: retry-safe %v, want %v", tc.name, got, tc.safe)
		}
	}
}
