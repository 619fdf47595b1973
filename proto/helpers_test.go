package proto

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"msgsys/internal/testkit"
)

var waitFor = testkit.WaitFor

type lockedBuffer = testkit.Buffer

// testLogger routes log records to t.Log, so they print only for a failing
// test or with -v.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// MessagePack value kinds as msgpackWalk reports them.
const (
	kindNil = iota
	kindBool
	kindInt
	kindFloat
	kindStr
	kindBin
	kindArray
	kindMap
	kindExt
)

// msgpackWalk is the tests' own MessagePack reader, independent of scan: it
// calls visit for every value at the start of b, map keys included, and
// returns the bytes after it. It recurses once per level, so use it only
// on trusted frames or after scan has accepted the input.
func msgpackWalk(b []byte, isKey bool, visit func(kind int, isKey bool, body []byte)) ([]byte, error) {
	if len(b) == 0 {
		return nil, io.ErrUnexpectedEOF
	}
	code, b := b[0], b[1:]
	sized := func(width int) (int, []byte, error) {
		if len(b) < width {
			return 0, nil, io.ErrUnexpectedEOF
		}
		var n uint64
		for _, c := range b[:width] {
			n = n<<8 | uint64(c)
		}
		if n > uint64(len(b)) {
			return 0, nil, io.ErrUnexpectedEOF
		}
		return int(n), b[width:], nil
	}
	leaf := func(kind, n int, rest []byte) ([]byte, error) {
		if n > len(rest) {
			return nil, io.ErrUnexpectedEOF
		}
		visit(kind, isKey, rest[:n])
		return rest[n:], nil
	}
	items := func(kind, n int, rest []byte) ([]byte, error) {
		visit(kind, isKey, nil)
		var err error
		for i := 0; i < n; i++ {
			key := kind == kindMap && i%2 == 0
			if rest, err = msgpackWalk(rest, key, visit); err != nil {
				return nil, err
			}
		}
		return rest, nil
	}

	switch {
	case code <= 0x7f || code >= 0xe0:
		return leaf(kindInt, 0, b)
	case code <= 0x8f:
		return items(kindMap, 2*int(code&0x0f), b)
	case code <= 0x9f:
		return items(kindArray, int(code&0x0f), b)
	case code <= 0xbf:
		return leaf(kindStr, int(code&0x1f), b)
	}
	switch code {
	case 0xc0:
		return leaf(kindNil, 0, b)
	case 0xc2, 0xc3:
		return leaf(kindBool, 0, b)
	case 0xc4, 0xc5, 0xc6:
		n, rest, err := sized(1 << (code - 0xc4))
		if err != nil {
			return nil, err
		}
		return leaf(kindBin, n, rest)
	case 0xc7, 0xc8, 0xc9:
		n, rest, err := sized(1 << (code - 0xc7))
		if err != nil {
			return nil, err
		}
		return leaf(kindExt, n+1, rest)
	case 0xca:
		return leaf(kindFloat, 4, b)
	case 0xcb:
		return leaf(kindFloat, 8, b)
	case 0xcc, 0xcd, 0xce, 0xcf:
		return leaf(kindInt, 1<<(code-0xcc), b)
	case 0xd0, 0xd1, 0xd2, 0xd3:
		return leaf(kindInt, 1<<(code-0xd0), b)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return leaf(kindExt, 1+1<<(code-0xd4), b)
	case 0xd9, 0xda, 0xdb:
		n, rest, err := sized(1 << (code - 0xd9))
		if err != nil {
			return nil, err
		}
		return leaf(kindStr, n, rest)
	case 0xdc, 0xdd:
		n, rest, err := sized(2 << (code - 0xdc))
		if err != nil {
			return nil, err
		}
		return items(kindArray, n, rest)
	case 0xde, 0xdf:
		n, rest, err := sized(2 << (code - 0xde))
		if err != nil {
			return nil, err
		}
		return items(kindMap, 2*n, rest)
	}
	return nil, fmt.Errorf("reserved code %#x", code)
}

// canonical converts a decoded value to the types encoding/json produces
// (float64 numbers, []any, map[string]any), so values decoded by different
// libraries, in whatever integer width, compare with reflect.DeepEqual.
func canonical(value any) any {
	switch v := value.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for key, item := range v {
			out[key] = canonical(item)
		}
		return out
	case Data:
		return canonical(map[string]any(v))
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = canonical(item)
		}
		return out
	case float32:
		return float64(v)
	case float64:
		return v
	case uint64:
		return float64(v)
	case int64:
		return float64(v)
	}
	if n, ok := asInt64(value); ok {
		return float64(n)
	}
	return value
}

// Frame builders for hand-made MessagePack.

// mpStr encodes s as the shortest MessagePack str.
func mpStr(s string) []byte {
	switch n := len(s); {
	case n < 32:
		return append([]byte{0xa0 | byte(n)}, s...)
	case n <= math.MaxUint8:
		return append([]byte{0xd9, byte(n)}, s...)
	case n <= math.MaxUint16:
		return append(binary.BigEndian.AppendUint16([]byte{0xda}, uint16(n)), s...)
	default:
		return append(binary.BigEndian.AppendUint32([]byte{0xdb}, uint32(n)), s...)
	}
}

// mpMap encodes a map from already encoded keys and values, in order.
func mpMap(pairs ...[]byte) []byte {
	if len(pairs)%2 != 0 {
		panic("mpMap needs key-value pairs")
	}
	out := []byte{0x80 | byte(len(pairs)/2)}
	for _, p := range pairs {
		out = append(out, p...)
	}
	return out
}

// dataWith encodes the data map {key: value} with value already encoded.
func dataWith(key string, value []byte) []byte {
	return mpMap(mpStr(key), value)
}

// Python interop helpers.

// interopDir is where the Python peers live, relative to the package.
var interopDir = filepath.Join("..", "testdata", "interop")

// requirePython skips the test unless the system's Python imports every
// module named.
func requirePython(t *testing.T, modules ...string) {
	t.Helper()
	testkit.RequirePython(t, modules...)
}

// startPython runs a script from testdata/interop with a deadline of
// timeout, as testkit.StartPython does.
func startPython(t *testing.T, timeout time.Duration, script string, args ...string) *testkit.PythonPeer {
	t.Helper()
	return testkit.StartPython(t, timeout, filepath.Join(interopDir, script), args...)
}
