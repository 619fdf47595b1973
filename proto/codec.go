package proto

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/shamaton/msgpack/v2"
)

// Limits on what a decoder accepts, so a hostile frame costs a bounded
// amount of memory and stack.
const (
	// MaxFrameBytes bounds a client request, reply or publication. The
	// largest legal request is a post of MaxTextBytes plus names, and a
	// history reply of 1000 posts stays below it.
	MaxFrameBytes = 16 << 20
	// MaxDepth bounds the nesting of maps and arrays. The deepest legal
	// message is a history reply: envelope, data, messages, message.
	MaxDepth = 16
)

// TimeLayout is the layout of the timestamps msgsys writes: RFC 3339 in UTC with
// milliseconds, as in "2026-12-04T19:33:44.738Z".
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Errors of decoding. A receiver sends an error reply for each.
var (
	ErrFrameTooLarge = errors.New("proto: frame exceeds the size limit")
	ErrNotMap        = errors.New("proto: message is not a MessagePack map")
	ErrNoService     = errors.New("proto: service is missing or empty")
	ErrServiceType   = errors.New("proto: service is not a MessagePack str")
	ErrNoData        = errors.New("proto: data is missing or not a map")
)

// Envelope is a decoded request or reply: {"service": NAME, "data": {...}}.
type Envelope struct {
	Service string
	Data    Data
}

// envelope is the encoded form. A struct rather than a map keeps the key
// order fixed, so frames are byte-for-byte reproducible.
type envelope[T any] struct {
	Service string `msgpack:"service"`
	Data    T      `msgpack:"data"`
}

// Meta is the metadata every data map carries: the sender's wall-clock time and its
// Lamport clock. Lang, when set, goes into the requests whose structs have
// a Lang field, those of clients and a server's requests to the reference,
// and names the language of the error descriptions that the sender expects.
type Meta struct {
	Timestamp string
	Clock     uint64
	Lang      string
}

// FormatTime renders t as msgsys sends timestamps.
func FormatTime(t time.Time) string {
	return t.UTC().Format(TimeLayout)
}

// Encode builds one frame holding {"service": service, "data": data}. data
// is a pointer to one of the message structs of this package, and its
// Timestamp and Clock fields are set from meta first.
func Encode(service string, data any, meta Meta) ([]byte, error) {
	setMeta(data, meta)
	return msgpack.Marshal(envelope[any]{Service: service, Data: data})
}

// EncodeData encodes a bare data map, the payload of a publication.
func EncodeData(data any, meta Meta) ([]byte, error) {
	setMeta(data, meta)
	return msgpack.Marshal(data)
}

// Decode reads an envelope leniently: unknown keys are ignored, and the
// data map is normalised so that nested maps have string keys.
func Decode(frame []byte) (Envelope, error) {
	value, err := DecodeValue(frame)
	if err != nil {
		return Envelope{}, err
	}
	top, ok := value.(map[string]any)
	if !ok {
		return Envelope{}, ErrNotMap
	}

	var env Envelope
	field := top["service"]
	service, ok := field.(string)
	switch {
	case field == nil:
		return env, ErrNoService
	case !ok:
		return env, ErrServiceType
	}
	env.Service = service

	data, present := top["data"]
	switch d := data.(type) {
	case map[string]any:
		env.Data = d
	case nil:
		// A request without data, such as users or channels from a terse
		// client, is as good as one with an empty map.
		if present {
			return env, ErrNoData
		}
		env.Data = Data{}
	default:
		return env, ErrNoData
	}
	return env, nil
}

// DecodeData reads a bare data map, the payload of a publication.
func DecodeData(frame []byte) (Data, error) {
	value, err := DecodeValue(frame)
	if err != nil {
		return nil, err
	}
	data, ok := value.(map[string]any)
	if !ok {
		return nil, ErrNotMap
	}
	return data, nil
}

// DecodeValue decodes one MessagePack value after checking its size and
// nesting, and returns maps as map[string]any. A map key that is not a
// string is an error, as the protocol has none.
func DecodeValue(frame []byte) (any, error) {
	if len(frame) > MaxFrameBytes {
		return nil, ErrFrameTooLarge
	}
	if err := scan(frame, MaxDepth); err != nil {
		return nil, err
	}
	r := NewReader(frame)
	value := r.Any()
	err := r.Err()
	if err == nil {
		return value, nil
	}
	if !errors.Is(err, errExt) {
		return nil, fmt.Errorf("proto: invalid MessagePack: %w", err)
	}
	// Frames with an ext value are rare. The reflective decoder accepts
	// the timestamp ext and rejects the others.
	value, err = unmarshal(frame)
	if err != nil {
		return nil, err
	}
	return normalize(value)
}

// unmarshal runs the MessagePack decoder into an any.
func unmarshal(frame []byte) (any, error) {
	var value any
	if err := unmarshalInto(frame, &value); err != nil {
		return nil, fmt.Errorf("proto: invalid MessagePack: %w", err)
	}
	return value, nil
}

// unmarshalInto runs the MessagePack decoder and turns its panics into
// errors, because a frame from the network must never stop the process.
// The decoder panics, for example, on a str where a struct has a slice of
// strings, and scan cannot know the target's types.
func unmarshalInto(frame []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panicked: %v", r)
		}
	}()
	return msgpack.Unmarshal(frame, v)
}

func normalize(value any) (any, error) {
	switch v := value.(type) {
	case map[any]any:
		out := make(map[string]any, len(v))
		for key, item := range v {
			name, ok := key.(string)
			if !ok {
				return nil, fmt.Errorf("proto: map key %v is %T, not a string", key, key)
			}
			norm, err := normalize(item)
			if err != nil {
				return nil, err
			}
			out[name] = norm
		}
		return out, nil
	case map[string]any:
		for key, item := range v {
			norm, err := normalize(item)
			if err != nil {
				return nil, err
			}
			v[key] = norm
		}
		return v, nil
	case []any:
		for i, item := range v {
			norm, err := normalize(item)
			if err != nil {
				return nil, err
			}
			v[i] = norm
		}
		return v, nil
	default:
		return v, nil
	}
}

// messageFields caches, per message type, where setMeta writes.
var messageFields sync.Map // reflect.Type -> *fieldIndexes

// fieldIndexes locates a message struct's Timestamp and Clock fields and
// its slice fields without omitempty.
type fieldIndexes struct {
	timestamp []int
	clock     []int
	lang      []int // nil when the struct has no Lang field
	slices    [][]int
}

// setMeta stores meta in the Timestamp and Clock fields of the struct that
// data points to, and replaces its nil slices with empty ones. The encoder
// writes a nil slice as nil, but a peer that iterates over "users" or
// "list" must get an array. Every message type of this package has both
// meta fields, and a type without them is a programming error caught by
// the golden tests.
func setMeta(data any, meta Meta) {
	v := reflect.ValueOf(data)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("proto: message %T is not a pointer to a struct", data))
	}
	v = v.Elem()
	index := indexFields(v.Type())
	v.FieldByIndex(index.timestamp).SetString(meta.Timestamp)
	v.FieldByIndex(index.clock).SetUint(meta.Clock)
	if index.lang != nil {
		v.FieldByIndex(index.lang).SetString(meta.Lang)
	}
	for _, i := range index.slices {
		// FieldByIndexErr fails on a nil embedded pointer, whose fields
		// the encoder skips anyway.
		if f, err := v.FieldByIndexErr(i); err == nil && f.IsNil() {
			f.Set(reflect.MakeSlice(f.Type(), 0, 0))
		}
	}
}

func indexFields(t reflect.Type) *fieldIndexes {
	if cached, ok := messageFields.Load(t); ok {
		return cached.(*fieldIndexes)
	}
	ts, okTS := t.FieldByName("Timestamp")
	ck, okCK := t.FieldByName("Clock")
	if !okTS || !okCK {
		panic(fmt.Sprintf("proto: message %s lacks Timestamp or Clock", t))
	}
	index := &fieldIndexes{timestamp: ts.Index, clock: ck.Index}
	if lang, ok := t.FieldByName("Lang"); ok && lang.Type.Kind() == reflect.String {
		index.lang = lang.Index
	}
	for _, f := range reflect.VisibleFields(t) {
		if f.Type.Kind() == reflect.Slice && f.IsExported() && !strings.Contains(f.Tag.Get("msgpack"), ",omitempty") {
			index.slices = append(index.slices, f.Index)
		}
	}
	messageFields.Store(t, index)
	return index
}
