package proto

import (
	"encoding/binary"
	"errors"
)

var (
	errTruncated = errors.New("proto: invalid MessagePack: truncated")
	errBadCode   = errors.New("proto: invalid MessagePack: reserved code 0xc1")
	errTrailing  = errors.New("proto: invalid MessagePack: bytes after the value")
)

// Errors of well-formed MessagePack that the protocol still rejects. A
// receiver describes each in its error reply.
var (
	// ErrTooDeep is a value whose maps and arrays nest deeper than MaxDepth.
	ErrTooDeep = errors.New("proto: invalid MessagePack: nested too deeply")
	// ErrKeyNotStr is a map key of another type than str, such as bin.
	ErrKeyNotStr = errors.New("proto: map key is not a MessagePack str")
)

// Scan checks that frame holds one well-formed MessagePack value that
// DecodeValue would accept, without decoding it: its errors are those of
// DecodeValue apart from the size limit. It reads the frame once and
// allocates nothing, so a receiver can learn why a frame that is too large
// for it is also malformed, such as ErrTooDeep for a deep nest.
func Scan(frame []byte) error {
	return scan(frame, MaxDepth)
}

// scan checks that frame holds exactly one well-formed MessagePack value
// nested at most maxDepth deep, whose map keys are all str, before the
// decoder sees it. The decoder recurses once per level and preallocates
// containers from their declared sizes, so both must be checked against
// the real bytes first. Keys must be str because the protocol has no
// other kind, and because the decoder panics on a bin key, which it tries
// to use as a key of a map[any]any.
func scan(frame []byte, maxDepth int) error {
	rest, err := skipValue(frame, maxDepth)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errTrailing
	}
	return nil
}

// skipValue returns what follows the value at the start of b.
func skipValue(b []byte, depth int) ([]byte, error) {
	if len(b) == 0 {
		return nil, errTruncated
	}
	code := b[0]
	b = b[1:]

	switch {
	case code <= 0x7f, code >= 0xe0, code == 0xc0, code == 0xc2, code == 0xc3:
		return b, nil
	case code >= 0x80 && code <= 0x8f:
		return skipMap(b, int(code&0x0f), depth)
	case code >= 0x90 && code <= 0x9f:
		return skipItems(b, int(code&0x0f), depth)
	case code >= 0xa0 && code <= 0xbf:
		return skipBytes(b, int(code&0x1f))
	}

	switch code {
	case 0xc1:
		return nil, errBadCode
	case 0xc4, 0xd9: // bin 8, str 8
		return skipSized(b, 1, 0)
	case 0xc5, 0xda: // bin 16, str 16
		return skipSized(b, 2, 0)
	case 0xc6, 0xdb: // bin 32, str 32
		return skipSized(b, 4, 0)
	case 0xc7: // ext 8: size, type, payload
		return skipSized(b, 1, 1)
	case 0xc8:
		return skipSized(b, 2, 1)
	case 0xc9:
		return skipSized(b, 4, 1)
	case 0xcc, 0xd0:
		return skipBytes(b, 1)
	case 0xcd, 0xd1:
		return skipBytes(b, 2)
	case 0xca, 0xce, 0xd2:
		return skipBytes(b, 4)
	case 0xcb, 0xcf, 0xd3:
		return skipBytes(b, 8)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16 plus the type byte
		return skipBytes(b, 1+(1<<(code-0xd4)))
	case 0xdc:
		n, rest, err := readSize(b, 2)
		if err != nil {
			return nil, err
		}
		return skipItems(rest, n, depth)
	case 0xdd:
		n, rest, err := readSize(b, 4)
		if err != nil {
			return nil, err
		}
		return skipItems(rest, n, depth)
	case 0xde:
		n, rest, err := readSize(b, 2)
		if err != nil {
			return nil, err
		}
		return skipMap(rest, n, depth)
	default: // 0xdf, map 32
		n, rest, err := readSize(b, 4)
		if err != nil {
			return nil, err
		}
		return skipMap(rest, n, depth)
	}
}

// skipItems skips n values inside a container one level deeper. Each item
// takes at least one byte, so a declared size larger than what is left is
// rejected before any item is read.
func skipItems(b []byte, n int, depth int) ([]byte, error) {
	if depth <= 0 {
		return nil, ErrTooDeep
	}
	if n > len(b) {
		return nil, errTruncated
	}
	var err error
	for i := 0; i < n; i++ {
		if b, err = skipValue(b, depth-1); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// skipMap skips n key-value pairs one level deeper, and rejects a key
// that is not a str. Each pair takes at least two bytes.
func skipMap(b []byte, n int, depth int) ([]byte, error) {
	if depth <= 0 {
		return nil, ErrTooDeep
	}
	if n > len(b)/2 {
		return nil, errTruncated
	}
	var err error
	for i := 0; i < n; i++ {
		if len(b) == 0 {
			return nil, errTruncated
		}
		if !isStr(b[0]) {
			return nil, ErrKeyNotStr
		}
		if b, err = skipValue(b, depth-1); err != nil {
			return nil, err
		}
		if b, err = skipValue(b, depth-1); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// isStr reports whether code starts a MessagePack str.
func isStr(code byte) bool {
	return (code >= 0xa0 && code <= 0xbf) || code == 0xd9 || code == 0xda || code == 0xdb
}

// skipSized skips a length-prefixed payload whose length field has
// sizeBytes bytes and is followed by extra bytes (the ext type).
func skipSized(b []byte, sizeBytes, extra int) ([]byte, error) {
	n, rest, err := readSize(b, sizeBytes)
	if err != nil {
		return nil, err
	}
	return skipBytes(rest, extra+n)
}

func readSize(b []byte, width int) (int, []byte, error) {
	if len(b) < width {
		return 0, nil, errTruncated
	}
	var n uint64
	switch width {
	case 1:
		n = uint64(b[0])
	case 2:
		n = uint64(binary.BigEndian.Uint16(b))
	default:
		n = uint64(binary.BigEndian.Uint32(b))
	}
	if n > uint64(len(b)) {
		return 0, nil, errTruncated
	}
	return int(n), b[width:], nil
}

func skipBytes(b []byte, n int) ([]byte, error) {
	if n > len(b) {
		return nil, errTruncated
	}
	return b[n:], nil
}

// checkDataClock applies the protocol's clock rule to data.clock in a
// frame that scan accepted. A decoder that fills a uint64 field turns -1
// into 2^64-1 without an error, which would push a Lamport clock to its
// maximum, so typed decoding must look at the encoded value first.
func checkDataClock(frame []byte) error {
	data := mapValue(frame, "data")
	if data == nil {
		return nil
	}
	clock := mapValue(data, "clock")
	if len(clock) == 0 {
		return nil
	}
	code, body := clock[0], clock[1:]
	switch {
	case code >= 0xe0,
		code == 0xd0 && int8(body[0]) < 0,
		code == 0xd1 && int16(binary.BigEndian.Uint16(body)) < 0,
		code == 0xd2 && int32(binary.BigEndian.Uint32(body)) < 0,
		code == 0xd3 && int64(binary.BigEndian.Uint64(body)) < 0:
		return &FieldError{"clock", ReasonNegative}
	case code == 0xcf && binary.BigEndian.Uint64(body) > MaxClock,
		code == 0xd3 && int64(binary.BigEndian.Uint64(body)) > MaxClock:
		return &FieldError{"clock", ReasonRange}
	}
	return nil
}

// mapValue returns the encoded value under key in the map at the start of
// b, which scan accepted, or nil when b is not a map or lacks the key.
// With a repeated key the last one counts, as in the decoder.
func mapValue(b []byte, key string) []byte {
	var n int
	switch code := b[0]; {
	case code >= 0x80 && code <= 0x8f:
		n, b = int(code&0x0f), b[1:]
	case code == 0xde:
		n, b = int(binary.BigEndian.Uint16(b[1:])), b[3:]
	case code == 0xdf:
		n, b = int(binary.BigEndian.Uint32(b[1:])), b[5:]
	default:
		return nil
	}
	var found []byte
	for range n {
		name, rest := strBody(b)
		end, err := skipValue(rest, MaxDepth)
		if err != nil {
			return nil
		}
		if string(name) == key {
			found = rest[:len(rest)-len(end)]
		}
		b = end
	}
	return found
}

// strBody splits the str at the start of b, which scan accepted, into its
// bytes and what follows.
func strBody(b []byte) (body, rest []byte) {
	var n, header int
	switch code := b[0]; {
	case code >= 0xa0 && code <= 0xbf:
		n, header = int(code&0x1f), 1
	case code == 0xd9:
		n, header = int(b[1]), 2
	case code == 0xda:
		n, header = int(binary.BigEndian.Uint16(b[1:])), 3
	default: // 0xdb
		n, header = int(binary.BigEndian.Uint32(b[1:])), 5
	}
	return b[header : header+n], b[header+n:]
}
