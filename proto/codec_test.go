package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shamaton/msgpack/v2"
)

func TestFormatTime(t *testing.T) {
	zone := time.FixedZone("BRT", -3*3600)
	local := time.Date(2026, 12, 4, 16, 33, 44, 738_900_000, zone)
	if got := FormatTime(local); got != "2026-12-04T19:33:44.738Z" {
		t.Errorf("FormatTime = %q, want 2026-12-04T19:33:44.738Z (UTC, milliseconds)", got)
	}
	if got := FormatTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); got != "2026-01-02T03:04:05.000Z" {
		t.Errorf("FormatTime = %q, want three fraction digits", got)
	}
}

func TestDecodeEnvelope(t *testing.T) {
	frame := mpMap(
		mpStr("service"), mpStr("login"),
		mpStr("data"), mpMap(mpStr("user"), mpStr("ana"), mpStr("extra"), mpStr("ignored")),
		mpStr("unknown"), []byte{0x93, 0x01, 0x02, 0x03},
	)
	env, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	if env.Service != "login" {
		t.Errorf("service = %q", env.Service)
	}
	if user, err := env.Data.String("user"); err != nil || user != "ana" {
		t.Errorf("user = %q, %v", user, err)
	}
}

func TestDecodeEnvelopeErrors(t *testing.T) {
	login := mpStr("login")
	tests := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"array", []byte{0x91, 0x01}, ErrNotMap},
		{"string", mpStr("login"), ErrNotMap},
		{"nil", []byte{0xc0}, ErrNotMap},
		{"no service", mpMap(mpStr("data"), mpMap()), ErrNoService},
		{"service nil", mpMap(mpStr("service"), []byte{0xc0}), ErrNoService},
		{"service int", mpMap(mpStr("service"), []byte{0x05}), ErrServiceType},
		{"service bin", mpMap(mpStr("service"), []byte{0xc4, 0x01, 'x'}), ErrServiceType},
		{"service map", mpMap(mpStr("service"), mpMap()), ErrServiceType},
		{"data nil", mpMap(mpStr("service"), login, mpStr("data"), []byte{0xc0}), ErrNoData},
		{"data array", mpMap(mpStr("service"), login, mpStr("data"), []byte{0x90}), ErrNoData},
		{"data string", mpMap(mpStr("service"), login, mpStr("data"), mpStr("x")), ErrNoData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(tt.frame); !errors.Is(err, tt.want) {
				t.Errorf("Decode err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodeWithoutData(t *testing.T) {
	env, err := Decode(mpMap(mpStr("service"), mpStr("users")))
	if err != nil {
		t.Fatal(err)
	}
	if env.Data == nil || len(env.Data) != 0 {
		t.Errorf("data = %#v, want an empty map", env.Data)
	}
	if clock, err := env.Data.Clock(); err != nil || clock != 0 {
		t.Errorf("Clock() = %d, %v; want 0 for a missing clock", clock, err)
	}
}

func TestDecodeDataErrors(t *testing.T) {
	if _, err := DecodeData([]byte{0x92, 0x01, 0x02}); !errors.Is(err, ErrNotMap) {
		t.Errorf("array: err = %v, want ErrNotMap", err)
	}
	if _, err := DecodeData(nil); err == nil {
		t.Error("empty frame accepted")
	}
}

func TestDecodeNestedMapsHaveStringKeys(t *testing.T) {
	frame, err := os.ReadFile(goldenCases[findGolden(t, "list_reply")].path())
	if err != nil {
		t.Fatal(err)
	}
	env, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	list, ok := env.Data["list"].([]any)
	if !ok || len(list) != 2 {
		t.Fatalf("list = %#v", env.Data["list"])
	}
	server, ok := list[0].(map[string]any)
	if !ok {
		t.Fatalf("list item is %T, want map[string]any", list[0])
	}
	if name, err := Data(server).String("name"); err != nil || name != "srv-1" {
		t.Errorf("name = %q, %v", name, err)
	}
}

func findGolden(t *testing.T, name string) int {
	t.Helper()
	for i, c := range goldenCases {
		if c.name == name {
			return i
		}
	}
	t.Fatalf("no golden case %q", name)
	return -1
}

func TestDecodeRejectsNonStringKeys(t *testing.T) {
	value := mpStr("v")
	keys := map[string][]byte{
		"int":    {0x01},
		"nil":    {0xc0},
		"bool":   {0xc3},
		"float":  {0xcb, 0, 0, 0, 0, 0, 0, 0, 0},
		"bin":    {0xc4, 0x01, 'k'},
		"array":  {0x91, 0x01},
		"map":    {0x81, 0xa1, 'k', 0x01},
		"ext":    {0xd4, 0x05, 0x00},
		"negint": {0xff},
	}
	for name, key := range keys {
		frames := map[string][]byte{
			"top level":   mpMap(mpStr("service"), mpStr("login"), key, value),
			"in data":     mpMap(mpStr("service"), mpStr("login"), mpStr("data"), mpMap(key, value)),
			"in a list":   mpMap(mpStr("service"), mpStr("list"), mpStr("data"), mpMap(mpStr("list"), append([]byte{0x91}, mpMap(key, value)...))),
			"nested deep": mpMap(mpStr("a"), mpMap(mpStr("b"), mpMap(mpStr("c"), mpMap(key, value)))),
		}
		for where, frame := range frames {
			t.Run(name+" "+where, func(t *testing.T) {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("DecodeValue panicked: %v", r)
					}
				}()
				if _, err := DecodeValue(frame); err == nil {
					t.Errorf("frame % x accepted", frame)
				}
			})
		}
	}
}

func TestDecodeDeepNestingRejected(t *testing.T) {
	for _, opener := range []byte{0x91, 0xdc} {
		var frame []byte
		for range 100000 {
			frame = append(frame, opener)
			if opener == 0xdc {
				frame = append(frame, 0x00, 0x01)
			}
		}
		frame = append(frame, 0xc0)
		start := time.Now()
		_, err := DecodeValue(frame)
		if !errors.Is(err, ErrTooDeep) {
			t.Errorf("opener %#x: err = %v, want ErrTooDeep", opener, err)
		}
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Errorf("opener %#x: rejecting took %v", opener, elapsed)
		}
	}

	// Maps nested the same way: {"a": {"a": ... nil}}.
	var frame []byte
	for range 100000 {
		frame = append(frame, 0x81, 0xa1, 'a')
	}
	frame = append(frame, 0xc0)
	if _, err := DecodeValue(frame); !errors.Is(err, ErrTooDeep) {
		t.Errorf("nested maps: err = %v, want ErrTooDeep", err)
	}
}

func TestDecodeDepthLimit(t *testing.T) {
	nest := func(levels int) []byte {
		frame := bytes.Repeat([]byte{0x91}, levels)
		return append(frame, 0x01)
	}
	if _, err := DecodeValue(nest(MaxDepth)); err != nil {
		t.Errorf("%d levels: %v", MaxDepth, err)
	}
	if _, err := DecodeValue(nest(MaxDepth + 1)); !errors.Is(err, ErrTooDeep) {
		t.Errorf("%d levels: err = %v, want ErrTooDeep", MaxDepth+1, err)
	}
	// An empty container at the limit counts as a level too.
	if _, err := DecodeValue(append(bytes.Repeat([]byte{0x91}, MaxDepth), 0x90)); !errors.Is(err, ErrTooDeep) {
		t.Errorf("empty array below %d levels: err = %v, want ErrTooDeep", MaxDepth, err)
	}
}

func TestDecodeHugeDeclaredSizes(t *testing.T) {
	huge := []byte{0xff, 0xff, 0xff, 0xff}
	tests := map[string][]byte{
		"map32":     append([]byte{0xdf}, huge...),
		"array32":   append([]byte{0xdd}, huge...),
		"str32":     append([]byte{0xdb}, huge...),
		"bin32":     append([]byte{0xc6}, huge...),
		"ext32":     append(append([]byte{0xc9}, huge...), 0x01),
		"map16":     {0xde, 0xff, 0xff, 0xa1, 'a', 0x01},
		"in data":   mpMap(mpStr("service"), mpStr("x"), mpStr("data"), append([]byte{0xdf}, huge...)),
		"map32 4e9": {0xdf, 0xee, 0x6b, 0x28, 0x00, 0xa1, 'a', 0x01},
	}
	for name, frame := range tests {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := DecodeValue(frame)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("frame % x accepted", frame)
			}
			if elapsed > 100*time.Millisecond {
				t.Errorf("rejecting took %v", elapsed)
			}
			if grown := after.TotalAlloc - before.TotalAlloc; grown > 1<<20 {
				t.Errorf("rejecting allocated %d bytes", grown)
			}
		})
	}
}

func TestDecodeTrailingBytesRejected(t *testing.T) {
	frame, err := Encode(ServiceLogin, &LoginRequest{User: "ana"}, goldenMeta)
	if err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]byte{{0x00}, {0xc0}, frame} {
		if _, err := Decode(append(bytes.Clone(frame), extra...)); !errors.Is(err, errTrailing) {
			t.Errorf("trailing % x: err = %v, want errTrailing", extra, err)
		}
	}
}

func TestDecodeTruncatedFrames(t *testing.T) {
	for _, c := range goldenCases {
		frame, err := os.ReadFile(c.path())
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(frame); n++ {
			if _, err := DecodeValue(frame[:n]); err == nil {
				t.Errorf("%s cut to %d bytes accepted", c.name, n)
			}
		}
	}
}

func TestDecodeReservedCode(t *testing.T) {
	if _, err := DecodeValue(dataWith("x", []byte{0xc1})); !errors.Is(err, errBadCode) {
		t.Errorf("err = %v, want errBadCode", err)
	}
}

func TestDecodeFrameSizeLimit(t *testing.T) {
	// {"x": bin32 of n bytes} takes 8 bytes besides the payload.
	build := func(total int) []byte {
		frame := []byte{0x81, 0xa1, 'x', 0xc6}
		frame = binary.BigEndian.AppendUint32(frame, uint32(total-8))
		return append(frame, make([]byte, total-8)...)
	}
	if _, err := DecodeValue(build(MaxFrameBytes)); err != nil {
		t.Errorf("frame of MaxFrameBytes: %v", err)
	}
	if _, err := DecodeValue(build(MaxFrameBytes + 1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("frame of MaxFrameBytes+1: err = %v, want ErrFrameTooLarge", err)
	}
}

func TestDecodeLargestLegalMessages(t *testing.T) {
	text := strings.Repeat("é", MaxTextBytes/2)
	frame, err := Encode(ServicePublish, &PublishRequest{User: "ana", Channel: "geral", Message: text}, goldenMeta)
	if err != nil {
		t.Fatal(err)
	}
	env, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := env.Data.String("message"); err != nil || got != text {
		t.Errorf("message of %d bytes, %v", len(got), err)
	}

	reply := &HistoryReply{Status: StatusOK}
	for range HistoryMaxLimit {
		reply.Messages = append(reply.Messages, &Publication{
			User: strings.Repeat("u", MaxNameRunes), Channel: strings.Repeat("c", MaxNameRunes),
			Message: strings.Repeat("m", MaxTextBytes), Timestamp: goldenMeta.Timestamp, Clock: 1 << 40,
		})
	}
	frame, err = Encode(ServiceHistory, reply, goldenMeta)
	if err != nil {
		t.Fatal(err)
	}
	if len(frame) > MaxFrameBytes {
		t.Fatalf("a full history page takes %d bytes, above MaxFrameBytes", len(frame))
	}
	if _, err := Decode(frame); err != nil {
		t.Errorf("full history page: %v", err)
	}
}

func TestDecodeKeepsTextAndBinApart(t *testing.T) {
	data, err := DecodeData(mpMap(
		mpStr("text"), mpStr("ana"),
		mpStr("bin"), []byte{0xc4, 0x03, 'a', 'n', 'a'},
		mpStr("bad"), []byte{0xa2, 0xc3, 0x28},
	))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := data["text"].(string); !ok {
		t.Errorf("str decoded as %T", data["text"])
	}
	if _, ok := data["bin"].([]byte); !ok {
		t.Errorf("bin decoded as %T", data["bin"])
	}
	var fieldErr *FieldError
	if _, err := data.String("bin"); !errors.As(err, &fieldErr) || fieldErr.Reason != ReasonBin {
		t.Errorf("String(bin) err = %v, want %q", err, ReasonBin)
	}
	if _, err := data.String("bad"); !errors.As(err, &fieldErr) || fieldErr.Reason != ReasonNotUTF8 {
		t.Errorf("String(bad) err = %v, want %q", err, ReasonNotUTF8)
	}
}

func TestDecodeUnknownExtension(t *testing.T) {
	// An extension type other than the timestamp decodes as an Ext, so a
	// key the receiver ignores cannot fail the message, and a field that
	// must be a string reports the wrong type.
	data := mpMap(mpStr("user"), []byte{0xc7, 0x02, 0x07, 0xab, 0xcd}, mpStr("x"), []byte{0xd4, 0x05, 0x00})
	env, err := Decode(mpMap(mpStr("service"), mpStr("login"), mpStr("data"), data))
	if err != nil {
		t.Fatalf("unknown extension rejected: %v", err)
	}
	if got, want := env.Data["x"], (Ext{Type: 5, Data: []byte{0}}); !reflect.DeepEqual(got, want) {
		t.Errorf("fixext 1 decoded as %#v, want %#v", got, want)
	}
	if got, want := env.Data["user"], (Ext{Type: 7, Data: []byte{0xab, 0xcd}}); !reflect.DeepEqual(got, want) {
		t.Errorf("ext 8 decoded as %#v, want %#v", got, want)
	}
	if _, err := env.Data.String("user"); err == nil {
		t.Error("String(user) accepted an ext")
	}
	if _, err := Decode(mpMap(mpStr("service"), mpStr("login"), mpStr("x"), []byte{0xc7, 0x09, 0x05, 0x00})); err == nil {
		t.Error("truncated ext 8 accepted")
	}
}

func TestDecodeAgreesWithShamaton(t *testing.T) {
	// A frame encoded by the library from a Go map, as another Go peer
	// might, decodes to the same values.
	source := map[string]any{
		"service": "publish",
		"data": map[string]any{
			"user": "ana", "channel": "geral", "message": "oi",
			"clock": uint64(7), "timestamp": "2026-12-04T19:33:44Z",
		},
	}
	frame, err := msgpack.Marshal(source)
	if err != nil {
		t.Fatal(err)
	}
	env, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	if clock, err := env.Data.Clock(); err != nil || clock != 7 {
		t.Errorf("clock = %d, %v", clock, err)
	}
	if msg, err := env.Data.String("message"); err != nil || msg != "oi" {
		t.Errorf("message = %q, %v", msg, err)
	}
}

// TestEncodeLangOnlyWhenSet checks that Encode puts Meta.Lang into client
// requests and leaves the key out when it is empty or the message has no
// Lang field.
func TestEncodeLangOnlyWhenSet(t *testing.T) {
	cases := []struct {
		name string
		data any
		lang string
		want any // nil for no key
	}{
		{"login in English", &LoginRequest{User: "ana"}, "en", "en"},
		{"users in Portuguese", &EmptyRequest{}, "pt", "pt"},
		{"publish without a language", &PublishRequest{User: "ana", Channel: "geral", Message: "oi"}, "", nil},
		{"reply, which has no Lang field", &StatusReply{Status: StatusSuccess}, "en", nil},
	}
	for _, c := range cases {
		frame, err := Encode("svc", c.data, Meta{Timestamp: "2026-12-05T13:00:00.000Z", Clock: 1, Lang: c.lang})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		env, err := Decode(frame)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := env.Data["lang"]; got != c.want {
			t.Errorf("%s: lang = %#v, want %#v", c.name, got, c.want)
		}
	}
}

func TestPeekLang(t *testing.T) {
	cases := []struct {
		name  string
		frame []byte
		want  string
	}{
		{"lang in data", mustEncode(t, "publish", &PublishRequest{User: "ana", Channel: "geral", Message: "oi"}, Meta{Lang: "en"}), "en"},
		{"no lang", mustEncode(t, "publish", &PublishRequest{User: "ana", Channel: "geral", Message: "oi"}, Meta{}), ""},
		{"lang not text", mustMarshal(t, map[string]any{"service": "users", "data": map[string]any{"lang": 7}}), ""},
		{"no data", mustMarshal(t, map[string]any{"service": "users"}), ""},
		{"malformed", []byte{0x81, 0xa4, 'd', 'a'}, ""},
	}
	for _, c := range cases {
		if got := PeekLang(c.frame); got != c.want {
			t.Errorf("%s: PeekLang = %q, want %q", c.name, got, c.want)
		}
	}
}

func mustEncode(t *testing.T, service string, data any, meta Meta) []byte {
	t.Helper()
	frame, err := Encode(service, data, meta)
	if err != nil {
		t.Fatal(err)
	}
	return frame
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	frame, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return frame
}
