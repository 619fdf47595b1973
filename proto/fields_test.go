package proto

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/shamaton/msgpack/v2"

	"msgsys/clock"
)

// decodeField decodes the data map {key: value}, with value already
// encoded, as a receiver would.
func decodeField(t *testing.T, key string, value []byte) Data {
	t.Helper()
	data, err := DecodeData(dataWith(key, value))
	if err != nil {
		t.Fatalf("DecodeData(% x): %v", value, err)
	}
	return data
}

func be16(n uint16) []byte { return binary.BigEndian.AppendUint16(nil, n) }
func be32(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
func be64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func float32Bytes(f float32) []byte { return append([]byte{0xca}, be32(math.Float32bits(f))...) }
func float64Bytes(f float64) []byte { return append([]byte{0xcb}, be64(math.Float64bits(f))...) }

func TestClockIntegerWidths(t *testing.T) {
	tests := []struct {
		name  string
		value []byte
		want  uint64
	}{
		{"positive fixint", []byte{0x2a}, 42},
		{"zero", []byte{0x00}, 0},
		{"uint8", []byte{0xcc, 0xc8}, 200},
		{"uint16", append([]byte{0xcd}, be16(60000)...), 60000},
		{"uint32", append([]byte{0xce}, be32(4_000_000_000)...), 4_000_000_000},
		{"uint64", append([]byte{0xcf}, be64(1<<40)...), 1 << 40},
		{"uint64 max clock", append([]byte{0xcf}, be64(MaxClock)...), MaxClock},
		{"int8", []byte{0xd0, 0x2a}, 42},
		{"int16", append([]byte{0xd1}, be16(30000)...), 30000},
		{"int32", append([]byte{0xd2}, be32(2_000_000_000)...), 2_000_000_000},
		{"int64", append([]byte{0xd3}, be64(1<<50)...), 1 << 50},
		{"float64 3.0", float64Bytes(3.0), 3},
		{"float32 3.0", float32Bytes(3.0), 3},
		{"nil", []byte{0xc0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeField(t, "clock", tt.value).Clock()
			if err != nil || got != tt.want {
				t.Errorf("Clock() = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestClockMissing(t *testing.T) {
	got, err := Data{}.Clock()
	if err != nil || got != 0 {
		t.Errorf("Clock() = %d, %v; want 0", got, err)
	}
}

func TestClockInvalid(t *testing.T) {
	tests := []struct {
		name   string
		value  []byte
		reason string
	}{
		{"negative fixint", []byte{0xff}, ReasonNegative},
		{"int8 -1", []byte{0xd0, 0xff}, ReasonNegative},
		{"int16 negative", append([]byte{0xd1}, be16(0x8000)...), ReasonNegative},
		{"int32 negative", append([]byte{0xd2}, be32(0xffffff00)...), ReasonNegative},
		{"int64 min", append([]byte{0xd3}, be64(1<<63)...), ReasonNegative},
		{"uint64 2^63+5", append([]byte{0xcf}, be64(1<<63+5)...), ReasonRange},
		{"uint64 max", append([]byte{0xcf}, be64(math.MaxUint64)...), ReasonRange},
		{"uint64 max int64", append([]byte{0xcf}, be64(math.MaxInt64)...), ReasonRange},
		{"int64 above max clock", append([]byte{0xd3}, be64(MaxClock+1)...), ReasonRange},
		{"float 3.5", float64Bytes(3.5), ReasonNotInt},
		{"float -2.0", float64Bytes(-2.0), ReasonNegative},
		{"float NaN", float64Bytes(math.NaN()), ReasonNotInt},
		{"float +Inf", float64Bytes(math.Inf(1)), ReasonNotInt},
		{"float 1e300", float64Bytes(1e300), ReasonNotInt},
		{"string", mpStr("3"), ReasonNotInt},
		{"bool", []byte{0xc3}, ReasonNotInt},
		{"bin", []byte{0xc4, 0x01, 0x03}, ReasonNotInt},
		{"array", []byte{0x91, 0x03}, ReasonNotInt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeField(t, "clock", tt.value).Clock()
			var fieldErr *FieldError
			if !errors.As(err, &fieldErr) {
				t.Fatalf("Clock() = %d, %v; want a FieldError", got, err)
			}
			if fieldErr.Field != "clock" || fieldErr.Reason != tt.reason {
				t.Errorf("error = %v, want field clock, reason %q", err, tt.reason)
			}
		})
	}
}

func TestClocksWitness(t *testing.T) {
	clocks := Clocks{Lamport: new(clock.Lamport), Physical: clock.NewPhysical(clock.PhysicalConfig{})}
	if got := clocks.Meta().Clock; got != 1 {
		t.Fatalf("first Meta clock = %d, want 1", got)
	}
	if got, err := clocks.Witness(Data{"clock": uint16(500)}); err != nil || got != 500 {
		t.Errorf("Witness(500) = %d, %v", got, err)
	}
	if got, err := clocks.Witness(Data{"clock": uint8(3)}); err != nil || got != 500 {
		t.Errorf("Witness(3) = %d, %v; the clock must not go back", got, err)
	}
	if _, err := clocks.Witness(Data{"clock": int8(-1)}); err == nil {
		t.Error("Witness accepted a negative clock")
	}
	if got := clocks.Lamport.Value(); got != 500 {
		t.Errorf("clock after a rejected message = %d, want 500", got)
	}
	meta := clocks.Meta()
	if meta.Clock != 501 {
		t.Errorf("Meta clock = %d, want 501", meta.Clock)
	}
	if _, err := time.Parse(TimeLayout, meta.Timestamp); err != nil {
		t.Errorf("Meta timestamp %q: %v", meta.Timestamp, err)
	}
}

func TestTimestampLenient(t *testing.T) {
	at := goldenTime                                // 2026-12-04T19:33:44.738Z
	second := at.Truncate(time.Second)              // 2026-12-04T19:33:44Z
	seconds := uint32(second.Unix())                // 1796412824
	millis := uint64(at.UnixMilli())                // 1796412824738
	threeHoursEarlier := second.Add(-3 * time.Hour) // for zones east of UTC
	encodedTime := func(tm time.Time) []byte {
		t.Helper()
		b, err := msgpack.Marshal(tm)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	tests := []struct {
		name  string
		value []byte
		want  time.Time
		slack time.Duration
	}{
		{"uint32 seconds", append([]byte{0xce}, be32(seconds)...), second, 0},
		{"int64 seconds", append([]byte{0xd3}, be64(uint64(seconds))...), second, 0},
		{"uint64 milliseconds", append([]byte{0xcf}, be64(millis)...), at, 0},
		{"int64 milliseconds", append([]byte{0xd3}, be64(millis)...), at, 0},
		{"float64 seconds", float64Bytes(float64(at.UnixMilli()) / 1000), at, time.Microsecond},
		{"float32 seconds", float32Bytes(float32(seconds)), second, 2 * time.Minute},
		{"just above 10^11 is milliseconds", append([]byte{0xcf}, be64(100_000_000_001)...), time.UnixMilli(100_000_000_001), 0},
		{"10^11 is seconds", append([]byte{0xcf}, be64(100_000_000_000)...), time.Unix(100_000_000_000, 0), 0},
		{"zero", []byte{0x00}, time.Unix(0, 0), 0},
		{"RFC 3339 with Z", mpStr("2026-12-04T19:33:44.738Z"), at, 0},
		{"RFC 3339 without fraction", mpStr("2026-12-04T19:33:44Z"), second, 0},
		{"RFC 3339 with offset", mpStr("2026-12-04T16:33:44.738-03:00"), at, 0},
		{"offset without colon", mpStr("2026-12-04T22:33:44+0300"), second, 0},
		{"ISO without zone is UTC", mpStr("2026-12-04T19:33:44"), second, 0},
		{"ISO with microseconds, no zone", mpStr("2026-12-04T19:33:44.738000"), at, 0},
		{"space separator", mpStr("2026-12-04 19:33:44"), second, 0},
		{"space separator with zone", mpStr("2026-12-04 19:33:44.738+00:00"), at, 0},
		{"space separator east of UTC", mpStr("2026-12-04 19:33:44+03:00"), threeHoursEarlier, 0},
		{"surrounding spaces", mpStr(" 2026-12-04T19:33:44Z "), second, 0},
		{"date only", mpStr("2026-12-04"), time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), 0},
		{"ext timestamp 32", encodedTime(second), second, 0},
		{"ext timestamp 64", encodedTime(at), at, 0},
		{"ext timestamp 96", encodedTime(time.Date(2600, 1, 2, 3, 4, 5, 6, time.UTC)), time.Date(2600, 1, 2, 3, 4, 5, 6, time.UTC), 0},
		{"ext timestamp before 1970", encodedTime(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)), time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := decodeField(t, "timestamp", tt.value).Timestamp()
			if err != nil || !ok {
				t.Fatalf("Timestamp() = %v, %v, %v", got, ok, err)
			}
			if diff := got.Sub(tt.want).Abs(); diff > tt.slack {
				t.Errorf("Timestamp() = %v, want %v (off by %v)", got, tt.want, diff)
			}
			if got.Location() != time.UTC {
				t.Errorf("Timestamp() location = %v, want UTC", got.Location())
			}
		})
	}
}

func TestTimestampAbsent(t *testing.T) {
	for name, data := range map[string]Data{
		"missing": {},
		"nil":     decodeField(t, "timestamp", []byte{0xc0}),
	} {
		got, ok, err := data.Timestamp()
		if ok || err != nil || !got.IsZero() {
			t.Errorf("%s: Timestamp() = %v, %v, %v; want absent", name, got, ok, err)
		}
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		if got := data.Time(now); !got.Equal(now) {
			t.Errorf("%s: Time(now) = %v, want now", name, got)
		}
	}
}

func TestTimestampInvalid(t *testing.T) {
	tests := map[string][]byte{
		"text":       mpStr("yesterday"),
		"empty":      mpStr(""),
		"bad month":  mpStr("2026-13-04T19:33:44Z"),
		"bool":       {0xc3},
		"bin":        {0xc4, 0x01, 0x01},
		"array":      {0x91, 0x01},
		"NaN":        float64Bytes(math.NaN()),
		"Inf":        float64Bytes(math.Inf(-1)),
		"huge float": float64Bytes(1e300),
		"uint64 max": append([]byte{0xcf}, be64(math.MaxUint64)...),
	}
	for name, value := range tests {
		t.Run(name, func(t *testing.T) {
			data := decodeField(t, "timestamp", value)
			_, ok, err := data.Timestamp()
			var fieldErr *FieldError
			if ok || !errors.As(err, &fieldErr) || fieldErr.Reason != ReasonTime {
				t.Errorf("Timestamp() ok=%v err=%v; want %q", ok, err, ReasonTime)
			}
			now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			if got := data.Time(now); !got.Equal(now) {
				t.Errorf("Time(now) = %v, want now for an unreadable timestamp", got)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	got, err := ParseTime("2026-12-04T19:33:44.738Z")
	if err != nil || !got.Equal(goldenTime) {
		t.Errorf("ParseTime = %v, %v", got, err)
	}
	if _, err := ParseTime("04/12/2026"); err == nil {
		t.Error("ParseTime accepted a day-first date")
	}
}

func TestParseTimeISOForms(t *testing.T) {
	at := func(hour, minute, second, milli int) time.Time {
		return time.Date(2026, 12, 5, hour, minute, second, milli*1e6, time.UTC)
	}
	newYear := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		text string
		want time.Time
	}{
		// Offsets of whole hours, as PostgreSQL prints a timestamptz.
		{"2026-12-05 13:07:04.328+00", at(13, 7, 4, 328)},
		{"2026-12-05T13:07:04-03", at(16, 7, 4, 0)},
		{"2026-12-05T13:07:04.328+01", at(12, 7, 4, 328)},
		{"2026-12-05 13:07:04.328-00", at(13, 7, 4, 328)},

		// Minutes without seconds, with each kind of zone.
		{"2026-12-05T13:07", at(13, 7, 0, 0)},
		{"2026-12-05T13:07Z", at(13, 7, 0, 0)},
		{"2026-12-05T13:07+01:00", at(12, 7, 0, 0)},
		{"2026-12-05T13:07-0300", at(16, 7, 0, 0)},
		{"2026-12-05T13:07+01", at(12, 7, 0, 0)},
		{"2026-12-05 13:07", at(13, 7, 0, 0)},
		{"2026-12-05 13:07z", at(13, 7, 0, 0)},

		// Lowercase t and z, and a space for the T.
		{"2026-12-05t13:07:04.328z", at(13, 7, 4, 328)},
		{"2026-12-05T13:07:04.328z", at(13, 7, 4, 328)},
		{"2026-12-05t13:07:04+01:00", at(12, 7, 4, 0)},
		{"2026-12-05 13:07:04z", at(13, 7, 4, 0)},
		{"2026-12-05t13:07", at(13, 7, 0, 0)},
		{"2026-12-05 13:07:04-0300", at(16, 7, 4, 0)},
		{"2026-12-05  13:07:04z", at(13, 7, 4, 0)},

		// The basic format.
		{"20261205T130704Z", at(13, 7, 4, 0)},
		{"20261205T130704.328+0100", at(12, 7, 4, 328)},
		{"20261205T130704", at(13, 7, 4, 0)},
		{"20261205t130704z", at(13, 7, 4, 0)},
		{"20261205 130704.328", at(13, 7, 4, 328)},
		{"20261205T130704-03", at(16, 7, 4, 0)},
		{"20261205T130704+01:00", at(12, 7, 4, 0)},

		// Leap seconds, read as the next second.
		{"2026-12-31T23:59:60Z", newYear},
		{"2026-12-31T23:59:60.5Z", newYear.Add(500 * time.Millisecond)},
		{"2026-12-31 23:59:60", newYear},
		{"2026-12-31t23:59:60z", newYear},
		{"2027-01-01T02:59:60+03:00", newYear},
		{"2026-12-31T20:59:60-03", newYear},
		{"2026-12-31T23:59:60,25+00", newYear.Add(250 * time.Millisecond)},
		{"20261231T235960Z", newYear},
		{"20261231T205960-0300", newYear},
		{"2026-06-30T23:59:60Z", time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)},

		// A comma before the fraction, which time.Parse reads as a point.
		{"2026-12-05T13:07:04,328Z", at(13, 7, 4, 328)},
		{"2026-12-05T13:07:04,328", at(13, 7, 4, 328)},
		{"2026-12-05 13:07:04,328+00", at(13, 7, 4, 328)},
		{"2026-12-05t13:07:04,328z", at(13, 7, 4, 328)},
		{"20261205T130704,328Z", at(13, 7, 4, 328)},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, err := ParseTime(tt.text)
			if err != nil {
				t.Fatalf("ParseTime(%q): %v", tt.text, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseTime(%q) = %v, want %v", tt.text, got, tt.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("ParseTime(%q) location = %v, want UTC", tt.text, got.Location())
			}
		})
	}
}

func TestParseTimeRejects(t *testing.T) {
	for _, text := range []string{
		"",
		"   ",
		"ontem",
		"true",
		"2026-13-45",
		"2026-13-45T13:07:04Z",
		"2026-12-05T25:07:04Z",
		"04/12/2026",
		"2026-12-05T13:07:04Zjunk",
		"2026-12-05T13:07:04.328+01:00 x",
		"2026-12-05T13:07Z junk",
		"2026-12-05T13:07:04ZZ",
		"2026-12-05T13:07:04 Z",
		"2026-12-05X13:07:04Z",
		"2026-12-05T13:07:04.Z",
		"2026-12-05T13:07:04+1",
		"2026-12-05T13:07:04+01:00:00",
		"20261305T130704Z",
		"20261205T130704Zjunk",
		"20261205T130704.328+01junk",
		"2026-12-05T13:07:60Z",      // a leap second only ends a UTC day
		"2026-12-05T23:59:60Z",      // and only the last day of a month
		"2026-12-31T23:59:60+01:00", // 22:59:60 UTC
		"2026-12-31T23:59:61Z",
		"20261231T130760Z",
	} {
		t.Run(text, func(t *testing.T) {
			if got, err := ParseTime(text); err == nil {
				t.Errorf("ParseTime(%q) = %v, want an error", text, got)
			}
			_, ok, err := Data{"timestamp": text}.Timestamp()
			var fieldErr *FieldError
			if ok || !errors.As(err, &fieldErr) || fieldErr.Reason != ReasonTime {
				t.Errorf("Timestamp(%q) ok=%v err=%v; want reason %q", text, ok, err, ReasonTime)
			}
		})
	}
}

// BenchmarkParseTime reads the RFC 3339 form that msgsys sends, which a
// server checks on every client request.
func BenchmarkParseTime(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTime("2026-12-04T19:33:44.738Z"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestStringFields(t *testing.T) {
	data := decodeField(t, "user", mpStr("ana"))
	if got, err := data.String("user"); err != nil || got != "ana" {
		t.Errorf("String(user) = %q, %v", got, err)
	}

	var fieldErr *FieldError
	tests := []struct {
		name   string
		value  []byte
		reason string
	}{
		{"bin", []byte{0xc4, 0x03, 'a', 'n', 'a'}, ReasonBin},
		{"invalid UTF-8", []byte{0xa2, 0xff, 0xfe}, ReasonNotUTF8},
		{"surrogate half", []byte{0xa3, 0xed, 0xa0, 0x80}, ReasonNotUTF8},
		{"int", []byte{0x01}, ReasonNotText},
		{"map", mpMap(mpStr("a"), mpStr("b")), ReasonNotText},
		{"nil", []byte{0xc0}, ReasonMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := decodeField(t, "user", tt.value)
			_, err := data.String("user")
			if !errors.As(err, &fieldErr) || fieldErr.Field != "user" || fieldErr.Reason != tt.reason {
				t.Errorf("String(user) err = %v, want reason %q", err, tt.reason)
			}
		})
	}

	if _, err := (Data{}).String("user"); !errors.As(err, &fieldErr) || fieldErr.Reason != ReasonMissing {
		t.Errorf("missing: err = %v", err)
	}
	if s, ok, err := (Data{}).OptString("user"); s != "" || ok || err != nil {
		t.Errorf("OptString(missing) = %q, %v, %v", s, ok, err)
	}
}

func TestOptInt(t *testing.T) {
	tests := []struct {
		name  string
		value []byte
		want  int64
		ok    bool
		err   bool
	}{
		{"fixint", []byte{0x32}, 50, true, false},
		{"uint16", append([]byte{0xcd}, be16(1000)...), 1000, true, false},
		{"negative", []byte{0xff}, -1, true, false},
		{"float 2.0", float64Bytes(2), 2, true, false},
		{"nil", []byte{0xc0}, 0, false, false},
		{"float 2.5", float64Bytes(2.5), 0, false, true},
		{"string", mpStr("50"), 0, false, true},
		{"uint64 above int64", append([]byte{0xcf}, be64(1<<63)...), 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := decodeField(t, "limit", tt.value).OptInt("limit")
			if got != tt.want || ok != tt.ok || (err != nil) != tt.err {
				t.Errorf("OptInt = %d, %v, %v; want %d, %v, error %v", got, ok, err, tt.want, tt.ok, tt.err)
			}
		})
	}
}

func TestAsStrings(t *testing.T) {
	data := decodeField(t, "users", []byte{0x94, 0xa3, 'a', 'n', 'a', 0x01, 0xc0, 0xa3, 'b', 'o', 'b'})
	if got := AsStrings(data["users"]); !slices.Equal(got, []string{"ana", "bob"}) {
		t.Errorf("AsStrings = %q", got)
	}
	if got := AsStrings(nil); got == nil || len(got) != 0 {
		t.Errorf("AsStrings(nil) = %#v, want empty", got)
	}
	if got := AsStrings("ana"); len(got) != 0 {
		t.Errorf("AsStrings(string) = %q", got)
	}
}

func TestIsSuccess(t *testing.T) {
	for _, status := range []string{"sucesso", "success", "OK", "ok", "Sucesso"} {
		if !IsSuccess(status) {
			t.Errorf("IsSuccess(%q) = false", status)
		}
	}
	for _, status := range []string{"erro", "error", "", "okay", "sucess"} {
		if IsSuccess(status) {
			t.Errorf("IsSuccess(%q) = true", status)
		}
	}
}

func TestFieldErrorMessage(t *testing.T) {
	err := &FieldError{Field: "clock", Reason: ReasonNegative}
	if got := err.Error(); got != `proto: field "clock": negative` {
		t.Errorf("Error() = %q", got)
	}
}
