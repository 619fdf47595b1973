package proto

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shamaton/msgpack/v2"
	"golang.org/x/text/unicode/norm"
)

// addGoldenSeeds adds every golden frame to the fuzzer's corpus.
func addGoldenSeeds(f *testing.F) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join(goldenDir, "*.msgpack"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no golden frames to seed from: %v", err)
	}
	for _, path := range paths {
		frame, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
	}
}

// addHostileSeeds adds frames that once broke, or could break, a decoder.
func addHostileSeeds(f *testing.F) {
	f.Add([]byte{0x81, 0xc4, 0x01, 'k', 0x01})                                                 // bin map key
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})                                                // map32 of 4e9 pairs
	f.Add([]byte{0x91, 0x91, 0x91, 0x91, 0xc0})                                                // nesting
	f.Add([]byte{0x81, 0xa1, 'k', 0xd7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // bad ext timestamp
	f.Add([]byte{0x81, 0xa1, 'k', 0xc7, 0x0c, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})       // ext timestamp 96
	f.Add([]byte{0x81, 0xa1, 'k', 0xc1})                                                       // reserved code
}

// exerciseData calls every accessor on every key of d, so a panic in the
// lenient readers shows up.
func exerciseData(d Data) {
	_, _ = d.Clock()
	_, _, _ = d.Timestamp()
	for key, value := range d {
		_, _ = d.String(key)
		_, _, _ = d.OptInt(key)
		AsStrings(value)
		if nested, ok := value.(map[string]any); ok {
			exerciseData(nested)
		}
		if list, ok := value.([]any); ok {
			for _, item := range list {
				if nested, ok := item.(map[string]any); ok {
					exerciseData(nested)
				}
			}
		}
	}
}

func FuzzDecode(f *testing.F) {
	addGoldenSeeds(f)
	addHostileSeeds(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		env, err := Decode(frame)
		if err != nil {
			return
		}
		if err := scan(frame, MaxDepth); err != nil {
			t.Fatalf("Decode accepted a frame scan rejects: %v", err)
		}
		if env.Data == nil {
			t.Fatal("Decode returned nil data without an error")
		}
		exerciseData(env.Data)

		// What Decode accepted re-encodes and decodes to the same service.
		again, err := msgpack.Marshal(map[string]any{"service": env.Service, "data": map[string]any(env.Data)})
		if err != nil {
			return // values such as extension types need not re-encode
		}
		if env2, err := Decode(again); err == nil && env2.Service != env.Service {
			t.Fatalf("service %q became %q after re-encoding", env.Service, env2.Service)
		}
	})
}

func FuzzDecodeData(f *testing.F) {
	addGoldenSeeds(f)
	addHostileSeeds(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		data, err := DecodeData(frame)
		if err != nil {
			return
		}
		exerciseData(data)
		if clock, err := data.Clock(); err == nil && clock > 1<<63-1 {
			t.Fatalf("Clock() = %d, above the int64 range", clock)
		}
		if ts, ok, err := data.Timestamp(); ok && err == nil && ts.Location().String() != "UTC" {
			t.Fatalf("Timestamp() in %v, want UTC", ts.Location())
		}
		for key := range data {
			if s, err := data.String(key); err == nil && !utf8.ValidString(s) {
				t.Fatalf("String(%q) returned invalid UTF-8", key)
			}
		}
	})
}

func FuzzNormalizeName(f *testing.F) {
	for _, seed := range []string{
		"ana", "Ana", "JOSÉ", "Jose\u0301", "servers", "SERVERS", "\u017fervers", "ana\u200b",
		"a\u00adb", "#geral", strings.Repeat("a", 32), strings.Repeat("e\u0301", 33), "Straße",
		"ǰ", "ΐ", "\u0345", "ﬃ", "İstanbul", "ᾼ", "\xff",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		name, err := NormalizeName(input)
		if err != nil {
			if name != "" {
				t.Fatalf("NormalizeName(%q) = %q with error %v", input, name, err)
			}
			return
		}
		if !utf8.ValidString(name) || !norm.NFC.IsNormalString(name) {
			t.Fatalf("NormalizeName(%q) = %q, not NFC UTF-8", input, name)
		}
		if n := utf8.RuneCountInString(name); n < 1 || n > MaxNameRunes {
			t.Fatalf("NormalizeName(%q) = %q of %d characters", input, name, n)
		}
		if again, err := NormalizeName(name); err != nil || again != name {
			t.Fatalf("NormalizeName is not idempotent on %q: %q, %v", name, again, err)
		}
		if strings.ContainsAny(name, " ,#\t\n\x00") {
			t.Fatalf("NormalizeName(%q) = %q keeps a separator", input, name)
		}
		key := FoldName(name)
		if FoldName(input) != key {
			t.Fatalf("FoldName(%q) = %q, but FoldName of its normal form %q = %q", input, FoldName(input), name, key)
		}
		if FoldName(key) != key {
			t.Fatalf("FoldName is not idempotent on %q: %q", key, FoldName(key))
		}
		if key == ReservedTopic {
			t.Fatalf("NormalizeName(%q) accepted a name that folds to %q", input, ReservedTopic)
		}
		if channel, err := NormalizeChannel("#" + input); err != nil || channel != name {
			t.Fatalf("NormalizeChannel(#%q) = %q, %v; want %q", input, channel, err, name)
		}
	})
}

// FuzzParseTime checks that ParseTime never panics on the byte positions
// it reads, and that whatever it accepts is in UTC.
func FuzzParseTime(f *testing.F) {
	for _, seed := range []string{
		"2026-12-04T19:33:44.738Z", "2026-12-05 13:07:04.328+00", "2026-12-05t13:07z",
		"20261205T130704,328+0100", "2026-12-31T23:59:60Z", "20261231 235960", "2026-12-05",
		"2026-12-05  13:07", "ontem", "", "2026-12-05T13:07:60Z",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		got, err := ParseTime(input)
		if err == nil && got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) = %v, not in UTC", input, got)
		}
	})
}

// decoderVerdict runs shamaton's decoder on frame and reports whether it
// panicked, and its error otherwise.
func decoderVerdict(frame []byte) (panicked any, err error) {
	defer func() { panicked = recover() }()
	var value any
	return nil, msgpack.Unmarshal(frame, &value)
}

// containsExt reports whether the value at the start of frame, which scan
// has accepted, contains an extension value.
func containsExt(frame []byte) bool {
	found := false
	_, _ = msgpackWalk(frame, false, func(kind int, _ bool, _ []byte) {
		found = found || kind == kindExt
	})
	return found
}

// FuzzScan compares scan's verdict with the decoder's. Whatever scan
// accepts must not panic the decoder, and may fail it only through an
// extension value the decoder does not know. Whatever the decoder accepts,
// scan must accept too unless it nests too deeply or has a non-str key.
func FuzzScan(f *testing.F) {
	addGoldenSeeds(f)
	addHostileSeeds(f)
	for _, value := range scanValues {
		f.Add(value)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) > 1<<16 {
			return
		}
		scanErr := scan(frame, MaxDepth)
		panicked, decodeErr := decoderVerdict(frame)
		if scanErr == nil {
			if panicked != nil {
				t.Fatalf("scan accepted % x, which panics the decoder: %v", frame, panicked)
			}
			if decodeErr != nil && !containsExt(frame) {
				t.Fatalf("scan accepted % x, which the decoder rejects: %v", frame, decodeErr)
			}
			return
		}
		if panicked == nil && decodeErr == nil && !errors.Is(scanErr, ErrTooDeep) && !errors.Is(scanErr, ErrKeyNotStr) {
			t.Fatalf("scan rejected % x (%v), which the decoder accepts", frame, scanErr)
		}
	})
}

// FuzzDecodeInto decodes arbitrary frames into the typed messages, as
// server-to-server handlers do, and requires an error rather than a panic
// for whatever does not fit.
func FuzzDecodeInto(f *testing.F) {
	addGoldenSeeds(f)
	addHostileSeeds(f)
	targets := []func() any{
		func() any { return new(HistoryReply) },
		func() any { return new(ListReply) },
		func() any { return new(ChannelsReply) },
		func() any { return new(Announcement) },
		func() any { return new(ClockReply) },
		func() any { return new(HistoryRequest) },
		func() any {
			return new(struct {
				When   time.Time         `msgpack:"when"`
				Fields map[string]string `msgpack:"fields"`
				Nested []map[string]any  `msgpack:"nested"`
				Bytes  []byte            `msgpack:"bytes"`
			})
		},
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		for _, target := range targets {
			data := target()
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("DecodeInto(%T) panicked on % x: %v", data, frame, r)
					}
				}()
				_, _ = DecodeInto(frame, data)
			}()
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("PeekService panicked on % x: %v", frame, r)
				}
			}()
			_, _ = PeekService(frame)
		}()

		// Typed and lenient decoding agree on the clock whenever both
		// accept the frame.
		var typed EmptyRequest
		if _, err := DecodeInto(frame, &typed); err != nil {
			return
		}
		env, err := Decode(frame)
		if err != nil {
			return
		}
		if clock, err := env.Data.Clock(); err != nil || clock != typed.Clock {
			t.Fatalf("DecodeInto clock %d, Decode clock %d, %v for % x", typed.Clock, clock, err, frame)
		}
	})
}
