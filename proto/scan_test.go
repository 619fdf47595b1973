package proto

import (
	"bytes"
	"errors"
	"testing"
)

// scanValues are well-formed values of every MessagePack type, each with
// the shortest and longer encodings.
var scanValues = map[string][]byte{
	"positive fixint": {0x7f},
	"negative fixint": {0xe0},
	"nil":             {0xc0},
	"false":           {0xc2},
	"true":            {0xc3},
	"uint8":           {0xcc, 0xff},
	"uint16":          {0xcd, 0xff, 0xff},
	"uint32":          {0xce, 0, 0, 0, 1},
	"uint64":          {0xcf, 0, 0, 0, 0, 0, 0, 0, 1},
	"int8":            {0xd0, 0x80},
	"int16":           {0xd1, 0, 1},
	"int32":           {0xd2, 0, 0, 0, 1},
	"int64":           {0xd3, 0, 0, 0, 0, 0, 0, 0, 1},
	"float32":         {0xca, 0, 0, 0, 0},
	"float64":         {0xcb, 0, 0, 0, 0, 0, 0, 0, 0},
	"fixstr":          {0xa3, 'a', 'n', 'a'},
	"empty fixstr":    {0xa0},
	"str8":            {0xd9, 0x01, 'a'},
	"str16":           {0xda, 0, 1, 'a'},
	"str32":           {0xdb, 0, 0, 0, 1, 'a'},
	"bin8":            {0xc4, 0x01, 0xff},
	"bin16":           {0xc5, 0, 1, 0xff},
	"bin32":           {0xc6, 0, 0, 0, 1, 0xff},
	"fixarray":        {0x92, 0x01, 0x02},
	"array16":         {0xdc, 0, 2, 0x01, 0x02},
	"array32":         {0xdd, 0, 0, 0, 2, 0x01, 0x02},
	"fixmap":          {0x81, 0xa1, 'k', 0x01},
	"empty fixmap":    {0x80},
	"map16":           {0xde, 0, 1, 0xa1, 'k', 0x01},
	"map32":           {0xdf, 0, 0, 0, 1, 0xa1, 'k', 0x01},
	"map with str8":   {0x81, 0xd9, 0x01, 'k', 0x01},
	"fixext1":         {0xd4, 0x05, 0x00},
	"fixext2":         {0xd5, 0x05, 0, 0},
	"fixext4":         {0xd6, 0xff, 0, 0, 0, 0},
	"fixext8":         {0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0},
	"fixext16":        {0xd8, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	"ext8":            {0xc7, 0x02, 0x05, 0, 0},
	"ext16":           {0xc8, 0, 2, 0x05, 0, 0},
	"ext32":           {0xc9, 0, 0, 0, 2, 0x05, 0, 0},
}

func TestScanAcceptsEveryType(t *testing.T) {
	for name, value := range scanValues {
		if err := scan(value, MaxDepth); err != nil {
			t.Errorf("%s % x: %v", name, value, err)
		}
		// The same value inside a map and an array.
		nested := append([]byte{0x91}, dataWith("k", value)...)
		if err := scan(nested, MaxDepth); err != nil {
			t.Errorf("%s nested: %v", name, err)
		}
	}
}

func TestScanRejectsEveryTruncation(t *testing.T) {
	for name, value := range scanValues {
		frame := dataWith("k", value)
		for n := 0; n < len(frame); n++ {
			if err := scan(frame[:n], MaxDepth); !errors.Is(err, errTruncated) {
				t.Errorf("%s cut to %d of %d bytes: err = %v, want errTruncated", name, n, len(frame), err)
			}
		}
	}
}

func TestScanRejectsTrailingBytes(t *testing.T) {
	for name, value := range scanValues {
		if err := scan(append(bytes.Clone(value), 0xc0), MaxDepth); !errors.Is(err, errTrailing) {
			t.Errorf("%s: err = %v, want errTrailing", name, err)
		}
	}
}

func TestScanMapKeys(t *testing.T) {
	for name, key := range map[string][]byte{
		"fixstr": {0xa1, 'k'},
		"str8":   {0xd9, 0x01, 'k'},
		"str16":  {0xda, 0, 1, 'k'},
		"str32":  {0xdb, 0, 0, 0, 1, 'k'},
		"empty":  {0xa0},
	} {
		if err := scan(mpMap(key, []byte{0x01}), MaxDepth); err != nil {
			t.Errorf("%s key: %v", name, err)
		}
	}
	for name, value := range scanValues {
		if len(value) > 0 && isStr(value[0]) {
			continue
		}
		if err := scan(mpMap(value, []byte{0x01}), MaxDepth); !errors.Is(err, ErrKeyNotStr) {
			t.Errorf("%s key: err = %v, want ErrKeyNotStr", name, err)
		}
	}
}

func TestScanDeclaredSizeAboveInput(t *testing.T) {
	// Every container claims one more item than the input can hold.
	for name, frame := range map[string][]byte{
		"fixarray": {0x93, 0x01, 0x02},
		"fixmap":   {0x82, 0xa1, 'k', 0x01},
		"map of 2": {0x82, 0xa1, 'k'},
		"array16":  {0xdc, 0, 3, 0x01, 0x02},
		"map16":    {0xde, 0, 2, 0xa1, 'k', 0x01},
		"fixstr":   {0xa4, 'a', 'n', 'a'},
		"str8":     {0xd9, 0x04, 'a', 'n', 'a'},
		"ext8":     {0xc7, 0x03, 0x05, 0, 0},
	} {
		if err := scan(frame, MaxDepth); !errors.Is(err, errTruncated) {
			t.Errorf("%s: err = %v, want errTruncated", name, err)
		}
	}
}
