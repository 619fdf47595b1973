package proto

import (
	"fmt"
	"math"
	"msgsys/clock"
	"strings"
	"time"
	"unicode/utf8"
)

// Data is a decoded data map. Its accessors apply the protocol's lenient
// reading rules and return a *FieldError that names the field when a value
// is missing or has the wrong type.
type Data map[string]any

// FieldError names the field of a message is missing or invalid.
type FieldError struct {
	Field  string
	Reason string // "missing", "not a string", "bin instead of str" ...
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("proto: field %q: %s", e.Field, e.Reason)
}

// Reasons of a FieldError. Servers translate them for people.
const (
	ReasonMissing  = "missing"
	ReasonNotText  = "not a string"
	ReasonBin      = "bin instead of str"
	ReasonNotUTF8  = "not valid UTF-8"
	ReasonNotInt   = "not an integer"
	ReasonNegative = "negative"
	ReasonRange    = "out of range"
	ReasonTime     = "not a timestamp"
)

// String returns a required text field. Text must be a MessagePack str of
// valid UTF-8: bin is rejected because the protocol never sends it.
func (d Data) String(key string) (string, error) {
	s, ok, err := d.OptString(key)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", &FieldError{key, ReasonMissing}
	}
	return s, nil
}

// OptString returns a text field that may be absent or nil.
func (d Data) OptString(key string) (string, bool, error) {
	switch v := d[key].(type) {
	case nil:
		return "", false, nil
	case string:
		if !utf8.ValidString(v) {
			return "", false, &FieldError{key, ReasonNotUTF8}
		}
		return v, true, nil
	case []byte:
		return "", false, &FieldError{key, ReasonBin}
	default:
		return "", false, &FieldError{key, ReasonNotText}
	}
}

// OptInt returns an integer field that may be absent. Any MessagePack
// integer width is accepted, and so is a float with no fractional part.
func (d Data) OptInt(key string) (int64, bool, error) {
	value, present := d[key]
	if !present || value == nil {
		return 0, false, nil
	}
	n, ok := asInt64(value)
	if !ok {
		return 0, false, &FieldError{key, ReasonNotInt}
	}
	return n, true, nil
}

// MaxClock is the largest Lamport clock a message may carry, the value at
// which every msgsys clock stops (clock.MaxLamport). Above it a single
// hostile message could push every process's clock near 2^64, where the
// next tick overflows or is rejected by every reader.
const MaxClock = clock.MaxLamport

// Clock returns the sender's Lamport clock: missing means 0, and a
// negative, fractional, non-numeric or above-MaxClock clock is invalid.
func (d Data) Clock() (uint64, error) {
	value, present := d["clock"]
	if !present || value == nil {
		return 0, nil
	}
	if v, ok := value.(uint64); ok && v > MaxClock {
		return 0, &FieldError{"clock", ReasonRange}
	}
	n, ok := asInt64(value)
	if !ok {
		return 0, &FieldError{"clock", ReasonNotInt}
	}
	if n < 0 {
		return 0, &FieldError{"clock", ReasonNegative}
	}
	if n > MaxClock {
		return 0, &FieldError{"clock", ReasonRange}
	}
	return uint64(n), nil
}

// Timestamp returns the sender's time. It accepts Unix seconds as an
// integer or float, Unix milliseconds (any integer above 10^11), ISO 8601
// text with or without a zone (none means UTC), and the MessagePack
// timestamp extension. ok is false when the field is absent or nil, and the
// receiver then uses its own time. A timestamp never decides order.
func (d Data) Timestamp() (t time.Time, ok bool, err error) {
	value, present := d["timestamp"]
	if !present || value == nil {
		return time.Time{}, false, nil
	}
	bad := &FieldError{"timestamp", ReasonTime}
	switch v := value.(type) {
	case time.Time:
		return v.UTC(), true, nil
	case string:
		t, err := ParseTime(v)
		if err != nil {
			return time.Time{}, false, bad
		}
		return t, true, nil
	case float32, float64:
		f, _ := asFloat(v)
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e13 {
			return time.Time{}, false, bad
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
	}
	n, isInt := asInt64(value)
	if !isInt {
		return time.Time{}, false, bad
	}
	if n > 1e11 || n < -1e11 {
		return time.UnixMilli(n).UTC(), true, nil
	}
	return time.Unix(n, 0).UTC(), true, nil
}

// Time returns the message's timestamp, or now when it has none or it is
// unreadable: a bad timestamp is not worth rejecting a message for, because
// nothing orders by it.
func (d Data) Time(now time.Time) time.Time {
	if t, ok, err := d.Timestamp(); ok && err == nil {
		return t
	}
	return now
}

// asInt64 converts any MessagePack integer, or a float without a
// fractional part, to int64.
func asInt64(value any) (int64, bool) {
	switch v := value.(type) {
	case int:
		return int64(v), true
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case uint8:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint64:
		if v > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	case uint:
		if uint64(v) > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	case float32, float64:
		f, _ := asFloat(v)
		if f != math.Trunc(f) || math.Abs(f) > 1<<62 {
			return 0, false
		}
		return int64(f), true
	}
	return 0, false
}

func asFloat(value any) (float64, bool) {
	switch v := value.(type) {
	case float32:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// AsStrings reads a list of names, as in the users and channels replies.
// Non-string items are skipped rather than failing the whole list.
func AsStrings(value any) []string {
	items, _ := value.([]any)
	out := make([]string, 0, len(items))
	for _, item := range items {
		if s, ok := item.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// IsSuccess reports whether a reply status means success. Implementations
// spell it "sucesso", "success", "OK" or "ok".
func IsSuccess(status string) bool {
	switch strings.ToLower(status) {
	case "sucesso", "success", "ok":
		return true
	}
	return false
}
