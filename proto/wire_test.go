package proto

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/shamaton/msgpack/v2"
)

// TestAppendMatchesEncoder checks the hand-written encoders against the
// reflective one at every boundary between MessagePack formats, and reads
// each value back with a Reader.
func TestAppendMatchesEncoder(t *testing.T) {
	same := func(what string, mine []byte, value any) {
		t.Helper()
		theirs, err := msgpack.Marshal(value)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mine, theirs) {
			t.Errorf("%s: appended % x, encoder gives % x", what, head(mine), head(theirs))
		}
	}
	for _, v := range []uint64{0, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64} {
		b := AppendUint(nil, v)
		same("uint", b, v)
		if r := NewReader(b); r.Uint() != v || r.Err() != nil {
			t.Errorf("uint %d did not read back: %v", v, r.Err())
		}
	}
	for _, v := range []int64{0, 127, 128, -1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64, math.MaxInt64} {
		b := AppendInt(nil, v)
		same("int", b, v)
		if r := NewReader(b); r.Int() != v || r.Err() != nil {
			t.Errorf("int %d did not read back: %v", v, r.Err())
		}
	}
	for _, n := range []int{0, 31, 32, 255, 256, 65535, 65536} {
		s := strings.Repeat("a", n)
		b := AppendString(nil, s)
		same("str", b, s)
		if r := NewReader(b); r.String() != s || r.Err() != nil {
			t.Errorf("str of %d bytes did not read back: %v", n, r.Err())
		}
	}
	for _, n := range []int{0, 15, 16, 65535, 65536} {
		items := make([]any, n)
		b := AppendArrayHeader(nil, n)
		for range n {
			b = append(b, 0xc0)
		}
		same("array", b, items)
		if r := NewReader(b); r.ArrayLen() != n {
			t.Errorf("array of %d did not read back: %v", n, r.Err())
		}
	}
	for _, v := range []bool{false, true} {
		b := AppendBool(nil, v)
		same("bool", b, v)
		if r := NewReader(b); r.Bool() != v || r.Err() != nil {
			t.Errorf("bool %v did not read back", v)
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 48)] }

// TestReaderErrors checks that a Reader fails on the wrong type, on sizes
// beyond the frame, on negative unsigned values and on leftover bytes,
// and that the first error sticks.
func TestReaderErrors(t *testing.T) {
	cases := map[string]struct {
		frame []byte
		read  func(r *Reader)
		want  error
	}{
		"str for uint":      {AppendString(nil, "1"), func(r *Reader) { r.Uint() }, ErrWireType},
		"negative for uint": {AppendInt(nil, -1), func(r *Reader) { r.Uint() }, ErrWireType},
		"bin for str":       {[]byte{0xc4, 1, 'a'}, func(r *Reader) { _ = r.String() }, ErrWireType},
		"map beyond end":    {[]byte{0xdf, 0, 1, 0, 0}, func(r *Reader) { r.MapLen() }, errTruncated},
		"str beyond end":    {[]byte{0xd9, 9, 'a'}, func(r *Reader) { _ = r.String() }, errTruncated},
		"int cut short":     {[]byte{0xcd, 1}, func(r *Reader) { r.Int() }, errTruncated},
		"bytes left over":   {[]byte{0x01, 0x02}, func(r *Reader) { r.Uint() }, errTrailing},
		"key not str":       {[]byte{0x81, 0x01, 0x01}, func(r *Reader) { r.MapLen(); r.Key() }, ErrKeyNotStr},
		"too deep to skip":  {append(bytes.Repeat([]byte{0x91}, MaxDepth+2), 0xc0), func(r *Reader) { r.Skip() }, ErrTooDeep},
		"error sticks":      {[]byte{0xa1, 'x', 0x01}, func(r *Reader) { r.Uint(); r.Uint() }, ErrWireType},
	}
	for name, c := range cases {
		r := NewReader(c.frame)
		c.read(r)
		if err := r.Err(); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
		}
	}
}

// FuzzAnyMatchesReflection checks that DecodeValue, which reads with
// Reader.Any, gives what the reflective decoder and normalize give, and
// fails where they fail. The one exception is an ext of another type than
// the timestamp, which it reads as an Ext where the reflective decoder
// fails.
func FuzzAnyMatchesReflection(f *testing.F) {
	addGoldenSeeds(f)
	addHostileSeeds(f)
	f.Add([]byte{0x82, 0xa1, 'a', 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xa1, 'b', 0xc4, 2, 1, 2})
	f.Add([]byte{0x93, 0xd0, 0x80, 0xca, 0x3f, 0x80, 0, 0, 0xd6, 0xff, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, frame []byte) {
		got, err := DecodeValue(frame)
		var want any
		wantErr := scan(frame, MaxDepth)
		if wantErr == nil {
			if want, wantErr = unmarshal(frame); wantErr == nil {
				want, wantErr = normalize(want)
			}
		}
		if err == nil && wantErr != nil && holdsExt(frame) {
			return
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("% x: DecodeValue error %v, reflective decoder error %v", frame, err, wantErr)
		}
		// %#v shows types, sorts map keys and prints NaN alike, where
		// reflect.DeepEqual finds NaN unequal to itself.
		if err == nil && fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
			t.Fatalf("% x: DecodeValue gives %#v, reflective decoder %#v", frame, got, want)
		}
	})
}

// holdsExt reports whether the well-formed frame holds an ext value.
func holdsExt(frame []byte) bool {
	var walk func(b []byte) ([]byte, bool)
	walk = func(b []byte) ([]byte, bool) {
		r := NewReader(b)
		code := b[0]
		switch {
		case code >= 0x80 && code <= 0x8f, code == 0xde, code == 0xdf:
			n := r.MapLen()
			rest, found := r.b, false
			for range 2 * n {
				var in bool
				rest, in = walk(rest)
				found = found || in
			}
			return rest, found
		case code >= 0x90 && code <= 0x9f, code == 0xdc, code == 0xdd:
			n := r.ArrayLen()
			rest, found := r.b, false
			for range n {
				var in bool
				rest, in = walk(rest)
				found = found || in
			}
			return rest, found
		}
		r.Skip()
		return r.b, (code >= 0xd4 && code <= 0xd8) || (code >= 0xc7 && code <= 0xc9)
	}
	_, found := walk(frame)
	return found
}
