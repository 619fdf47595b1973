package store

import (
	"encoding/binary"
	"fmt"
)

// Log records hold an op without its origin and seq, which are the record's
// bucket name and key. The layout is a format byte, a kind byte, then
// uvarint Clock, varint Rank, varint Time, and User, Channel, Peer, Text
// and RID each as a uvarint length and its bytes. Kind byte 0 is followed
// by the kind as a length-prefixed string, so the log keeps ops of kinds
// this version does not know.
const recordFormat = 1

var kindCodes = map[string]byte{KindLogin: 1, KindChannel: 2, KindPost: 3, KindDirect: 4}

var kindNames = [...]string{1: KindLogin, 2: KindChannel, 3: KindPost, 4: KindDirect}

func encodeRecord(op Op) []byte {
	size := 2 + 9*binary.MaxVarintLen64 +
		len(op.Kind) + len(op.User) + len(op.Channel) + len(op.Peer) + len(op.Text) + len(op.RID)
	buf := make([]byte, 0, size)
	buf = append(buf, recordFormat)
	if code, ok := kindCodes[op.Kind]; ok {
		buf = append(buf, code)
	} else {
		buf = append(buf, 0)
		buf = appendString(buf, op.Kind)
	}
	buf = binary.AppendUvarint(buf, op.Clock)
	buf = binary.AppendVarint(buf, op.Rank)
	buf = binary.AppendVarint(buf, op.Time)
	for _, s := range [...]string{op.User, op.Channel, op.Peer, op.Text, op.RID} {
		buf = appendString(buf, s)
	}
	return buf
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// recordReader reads the fields of a log record in order and remembers the
// first error, so decodeRecord checks it once at the end.
type recordReader struct {
	data []byte
	err  error
}

func (r *recordReader) fail(field string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: log record truncated in %s", ErrCorrupt, field)
	}
	r.data = nil
}

func (r *recordReader) readByte(field string) byte {
	if len(r.data) == 0 {
		r.fail(field)
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return b
}

func (r *recordReader) readUvarint(field string) uint64 {
	v, n := binary.Uvarint(r.data)
	if n <= 0 {
		r.fail(field)
		return 0
	}
	r.data = r.data[n:]
	return v
}

func (r *recordReader) readVarint(field string) int64 {
	v, n := binary.Varint(r.data)
	if n <= 0 {
		r.fail(field)
		return 0
	}
	r.data = r.data[n:]
	return v
}

// readString copies the bytes out, because bbolt's values point into its memory
// map and are valid only during the transaction.
func (r *recordReader) readString(field string) string {
	n := r.readUvarint(field)
	if n > uint64(len(r.data)) {
		r.fail(field)
		return ""
	}
	s := string(r.data[:n])
	r.data = r.data[n:]
	return s
}

func decodeRecord(origin string, seq uint64, data []byte) (Op, error) {
	r := recordReader{data: data}
	if format := r.readByte("format"); r.err == nil && format != recordFormat {
		return Op{}, fmt.Errorf("%w: log record format %d of %s/%d", ErrCorrupt, format, origin, seq)
	}
	op := Op{Origin: origin, Seq: seq}
	code := r.readByte("kind")
	switch {
	case code == 0:
		op.Kind = r.readString("kind")
	case int(code) < len(kindNames):
		op.Kind = kindNames[code]
	default:
		return Op{}, fmt.Errorf("%w: kind code %d of %s/%d", ErrCorrupt, code, origin, seq)
	}
	op.Clock = r.readUvarint("clock")
	op.Rank = r.readVarint("rank")
	op.Time = r.readVarint("time")
	op.User = r.readString("user")
	op.Channel = r.readString("channel")
	op.Peer = r.readString("peer")
	op.Text = r.readString("text")
	op.RID = r.readString("rid")
	if r.err != nil {
		return Op{}, fmt.Errorf("%w (%s/%d)", r.err, origin, seq)
	}
	return op, nil
}
