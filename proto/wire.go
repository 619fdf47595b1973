package proto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The functions and the Reader below write and read MessagePack without
// reflection, for the messages a server sends and receives for every
// write: replication batches and their replies. These messages have fixed
// shapes, and the reflective codec looks up struct fields and allocates
// for each value (docs/benchmarks.md has the profile).

// AppendMapHeader appends the header of a map of n pairs.
func AppendMapHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
	}
}

// AppendArrayHeader appends the header of an array of n items.
func AppendArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
	}
}

// AppendString appends s as a str.
func AppendString(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

// AppendUint appends v in the smallest unsigned format.
func AppendUint(b []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
	}
}

// AppendInt appends v in the smallest format: unsigned when v is not
// negative, as most encoders do.
func AppendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0:
		return AppendUint(b, uint64(v))
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
	}
}

// AppendBool appends v.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

// ErrWireType is wrapped by a Reader's errors for a value of another
// type than the message requires.
var ErrWireType = errors.New("proto: invalid message: value of the wrong type")

// A Reader reads a MessagePack frame of a known shape item by item. The
// first error sticks: later reads return zero values, and Err reports it.
// nil reads as the zero value of every type, as in the reflective decoder,
// so an encoder that writes nil for an empty string or list is accepted.
type Reader struct {
	b   []byte
	err error
}

// NewReader returns a Reader of frame. It rejects frames larger than
// MaxMessageBytes.
func NewReader(frame []byte) *Reader {
	r := &Reader{b: frame}
	if len(frame) > MaxMessageBytes {
		r.err = ErrFrameTooLarge
	}
	return r
}

// Err returns the first error, or an error when bytes are left after the
// value that was read.
func (r *Reader) Err() error {
	if r.err == nil && len(r.b) > 0 {
		return errTrailing
	}
	return r.err
}

// Fail stops the reader with err, for a value that has the right type
// but breaks a rule of the message.
func (r *Reader) Fail(err error) { r.fail(err) }

func (r *Reader) fail(err error) {
	if r.err == nil {
		r.err = err
		r.b = nil
	}
}

func (r *Reader) failType(expected string, code byte) {
	r.fail(fmt.Errorf("%w: expected %s, got code 0x%02x", ErrWireType, expected, code))
}

// skipNil consumes a nil and reports whether there was one.
func (r *Reader) skipNil() bool {
	if r.err == nil && len(r.b) > 0 && r.b[0] == 0xc0 {
		r.b = r.b[1:]
		return true
	}
	return false
}

// size reads a size field of width bytes.
func (r *Reader) size(width int) int {
	n, rest, err := readSize(r.b, width)
	if err != nil {
		r.fail(err)
		return 0
	}
	r.b = rest
	return n
}

// MapLen reads a map header and returns its number of pairs. Each pair
// takes at least two bytes, so a size beyond what is left is an error.
func (r *Reader) MapLen() int {
	return r.containerLen("map", 0x80, 0xde, 2)
}

// ArrayLen reads an array header and returns its number of items.
func (r *Reader) ArrayLen() int {
	return r.containerLen("array", 0x90, 0xdc, 1)
}

// containerLen reads the header of a map or an array: a fix format whose
// first code is fix, or the 16- and 32-bit formats, whose codes are wide
// and wide+1. Each of the n entries takes at least minBytes bytes.
func (r *Reader) containerLen(kind string, fix, wide byte, minBytes int) int {
	if r.err != nil || r.skipNil() {
		return 0
	}
	if len(r.b) == 0 {
		r.fail(errTruncated)
		return 0
	}
	code := r.b[0]
	r.b = r.b[1:]
	var n int
	switch {
	case code >= fix && code <= fix+0x0f:
		n = int(code & 0x0f)
	case code == wide:
		n = r.size(2)
	case code == wide+1:
		n = r.size(4)
	default:
		r.failType(kind, code)
		return 0
	}
	if n > len(r.b)/minBytes {
		r.fail(errTruncated)
		return 0
	}
	return n
}

// Key reads a map key, which the protocol requires to be a str, without
// copying it. The result is valid until the frame changes.
func (r *Reader) Key() []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) == 0 || !isStr(r.b[0]) {
		r.fail(ErrKeyNotStr)
		return nil
	}
	return r.str()
}

// String reads a str.
func (r *Reader) String() string {
	return string(r.StringBytes())
}

// StringBytes reads a str as String does, without copying it. The result
// is valid until the frame changes.
func (r *Reader) StringBytes() []byte {
	if r.err != nil || r.skipNil() {
		return nil
	}
	if len(r.b) == 0 || !isStr(r.b[0]) {
		if len(r.b) == 0 {
			r.fail(errTruncated)
		} else {
			r.failType("str", r.b[0])
		}
		return nil
	}
	return r.str()
}

// str reads a str whose first byte is known to start one.
func (r *Reader) str() []byte {
	code := r.b[0]
	r.b = r.b[1:]
	var n int
	switch {
	case code >= 0xa0 && code <= 0xbf:
		n = int(code & 0x1f)
	case code == 0xd9:
		n = r.size(1)
	case code == 0xda:
		n = r.size(2)
	default:
		n = r.size(4)
	}
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail(errTruncated)
		return nil
	}
	body := r.b[:n:n]
	r.b = r.b[n:]
	return body
}

// Uint reads an integer that must not be negative.
func (r *Reader) Uint() uint64 {
	v, negative := r.integer()
	if negative {
		r.fail(fmt.Errorf("%w: negative where only positive integers belong", ErrWireType))
		return 0
	}
	return v
}

// Int reads an integer that fits an int64.
func (r *Reader) Int() int64 {
	v, negative := r.integer()
	if negative {
		return int64(v)
	}
	if v > math.MaxInt64 {
		r.fail(fmt.Errorf("%w: integer beyond int64", ErrWireType))
		return 0
	}
	return int64(v)
}

// integer reads any integer format and returns its two's complement bits
// and whether it is negative.
func (r *Reader) integer() (uint64, bool) {
	if r.err != nil || r.skipNil() {
		return 0, false
	}
	if len(r.b) == 0 {
		r.fail(errTruncated)
		return 0, false
	}
	code := r.b[0]

	switch {
	case code <= 0x7f:
		r.b = r.b[1:]
		return uint64(code), false
	case code >= 0xe0:
		r.b = r.b[1:]
		return uint64(int64(int8(code))), true
	}

	width := 0
	switch code {
	case 0xcc, 0xd0:
		width = 1
	case 0xcd, 0xd1:
		width = 2
	case 0xce, 0xd2:
		width = 4
	case 0xcf, 0xd3:
		width = 8
	default:
		r.failType("integer", code)
		return 0, false
	}
	if len(r.b) < 1+width {
		r.fail(errTruncated)
		return 0, false
	}

	body := r.b[1 : 1+width]
	r.b = r.b[1+width:]
	var u uint64
	var s int64
	switch width {
	case 1:
		u, s = uint64(body[0]), int64(int8(body[0]))
	case 2:
		v := binary.BigEndian.Uint16(body)
		u, s = uint64(v), int64(int16(v))
	case 4:
		v := binary.BigEndian.Uint32(body)
		u, s = uint64(v), int64(int32(v))
	default:
		u = binary.BigEndian.Uint64(body)
		s = int64(u)
	}

	if code >= 0xd0 { // signed formats
		return uint64(s), s < 0
	}
	return u, false
}

// Bool reads a bool.
func (r *Reader) Bool() bool {
	if r.err != nil || r.skipNil() {
		return false
	}
	if len(r.b) == 0 {
		r.fail(errTruncated)
		return false
	}
	switch code := r.b[0]; code {
	case 0xc2, 0xc3:
		r.b = r.b[1:]
		return code == 0xc3
	default:
		r.failType("bool", code)
		return false
	}
}

// Skip passes over one value of any type, such as the value of a key the
// reader does not know, with the nesting limit that Decode applies.
func (r *Reader) Skip() {
	if r.err != nil {
		return
	}
	rest, err := skipValue(r.b, MaxDepth)
	if err != nil {
		r.fail(err)
		return
	}
	r.b = rest
}

// Clock reads a Lamport clock under the protocol's rules: not negative
// and at most MaxClock.
func (r *Reader) Clock() uint64 {
	v, negative := r.integer()
	switch {
	case r.err != nil:
		return 0
	case negative:
		r.fail(&FieldError{"clock", ReasonNegative})
		return 0
	case v > MaxClock:
		r.fail(&FieldError{"clock", ReasonRange})
		return 0
	}
	return v
}

// AppendEnvelope appends the head of a frame {"service": service, "data":
// {...}} whose data map has n pairs. The caller appends the pairs, with
// AppendMeta for the two that every data map carries.
func AppendEnvelope(b []byte, service string, n int) []byte {
	b = AppendMapHeader(b, 2)
	b = AppendString(b, "service")
	b = AppendString(b, service)
	b = AppendString(b, "data")
	return AppendMapHeader(b, n)
}

// AppendMeta appends the timestamp and clock pairs of a data map.
func AppendMeta(b []byte, meta Meta) []byte {
	b = AppendString(b, "timestamp")
	b = AppendString(b, meta.Timestamp)
	b = AppendString(b, "clock")
	return AppendUint(b, meta.Clock)
}

// ReadEnvelope reads a frame {"service": ..., "data": {...}} and calls
// field with each key of the data map, which must read or skip its value.
// Other keys of the envelope are skipped, and a missing data map reads as
// an empty one.
func ReadEnvelope(frame []byte, field func(r *Reader, key []byte)) (service string, err error) {
	r := NewReader(frame)
	for range r.MapLen() {
		switch string(r.Key()) {
		case "service":
			service = r.String()
		case "data":
			for range r.MapLen() {
				key := r.Key()
				if r.err == nil {
					field(r, key)
				}
			}
		default:
			r.Skip()
		}
	}
	if err := r.Err(); err != nil {
		return "", err
	}
	if service == "" {
		return "", ErrNoService
	}
	return service, nil
}

// errExt stops Any at a timestamp ext, which the reflective decoder reads
// as a time.Time, so DecodeValue leaves such frames to it.
var errExt = errors.New("proto: timestamp ext value")

// Ext is an ext value of a type the protocol does not use. The protocol
// ignores keys it does not know, so such a value must not fail the
// message that carries it.
type Ext struct {
	Type int8
	Data []byte
}

// Any reads one value of any type as the reflective decoder reads it
// into an any, except that maps come out as map[string]any at once.
// Integers keep the type of their format (uint8 for a positive fixint,
// int8 for a negative one), and bin becomes []byte. Callers check the
// frame with scan first, which bounds its nesting and requires str keys.
func (r *Reader) Any() any {
	if r.err != nil {
		return nil
	}
	if len(r.b) == 0 {
		r.fail(errTruncated)
		return nil
	}
	code := r.b[0]

	switch {
	case code == 0xc0:
		r.b = r.b[1:]
		return nil
	case code == 0xc2 || code == 0xc3:
		return r.Bool()
	case code <= 0x7f:
		r.b = r.b[1:]
		return code
	case code >= 0xe0:
		r.b = r.b[1:]
		return int8(code)
	case isStr(code):
		return r.String()
	case code >= 0x90 && code <= 0x9f, code == 0xdc, code == 0xdd:
		items := make([]any, r.ArrayLen())
		for i := range items {
			items[i] = r.Any()
		}
		return items
	case code >= 0x80 && code <= 0x8f, code == 0xde, code == 0xdf:
		n := r.MapLen()
		m := make(map[string]any, n)
		for range n {
			key := string(r.Key())
			m[key] = r.Any()
		}
		return m
	}

	if ext, ok := r.ext(code); ok || r.err != nil {
		return ext
	}
	body, ok := r.fixed(code)
	if !ok {
		return nil
	}
	switch code {
	case 0xc4, 0xc5, 0xc6:
		return append([]byte{}, body...)
	case 0xca:
		return math.Float32frombits(binary.BigEndian.Uint32(body))
	case 0xcb:
		return math.Float64frombits(binary.BigEndian.Uint64(body))
	case 0xcc:
		return body[0]
	case 0xcd:
		return binary.BigEndian.Uint16(body)
	case 0xce:
		return binary.BigEndian.Uint32(body)
	case 0xcf:
		return binary.BigEndian.Uint64(body)
	case 0xd0:
		return int8(body[0])
	case 0xd1:
		return int16(binary.BigEndian.Uint16(body))
	case 0xd2:
		return int32(binary.BigEndian.Uint32(body))
	case 0xd3:
		return int64(binary.BigEndian.Uint64(body))
	}
	r.fail(errExt)
	return nil
}

// ext reads the ext value at the start of the frame when code starts one.
// A timestamp ext fails the reader with errExt.
func (r *Reader) ext(code byte) (Ext, bool) {
	var n, header int
	switch code {
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
		n, header = 1<<(code-0xd4), 1
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32
		r.b = r.b[1:]
		n = r.size(1 << (code - 0xc7))
		if r.err != nil {
			return Ext{}, false
		}
	default:
		return Ext{}, false
	}
	if len(r.b) < header+1+n {
		r.fail(errTruncated)
		return Ext{}, false
	}
	typ := int8(r.b[header])
	if typ == -1 {
		r.fail(errExt)
		return Ext{}, false
	}
	data := append([]byte{}, r.b[header+1:header+1+n]...)
	r.b = r.b[header+1+n:]
	return Ext{Type: typ, Data: data}, true
}

// fixed reads a bin or a number and returns its payload.
func (r *Reader) fixed(code byte) ([]byte, bool) {
	var width int
	switch code {
	case 0xc4, 0xc5, 0xc6:
		r.b = r.b[1:]
		n := r.size(1 << (code - 0xc4))
		if r.err != nil || n > len(r.b) {
			r.fail(errTruncated)
			return nil, false
		}
		body := r.b[:n]
		r.b = r.b[n:]
		return body, true
	case 0xcc, 0xd0:
		width = 1
	case 0xcd, 0xd1:
		width = 2
	case 0xca, 0xce, 0xd2:
		width = 4
	case 0xcb, 0xcf, 0xd3:
		width = 8
	case 0xc1:
		r.fail(errBadCode)
		return nil, false
	default: // an ext, which Any tried first
		return nil, false
	}
	if len(r.b) < 1+width {
		r.fail(errTruncated)
		return nil, false
	}
	body := r.b[1 : 1+width]
	r.b = r.b[1+width:]
	return body, true
}
