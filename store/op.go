package store

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	"msgsys/proto"
)

// Kinds of replicated operation.
const (
	KindLogin   = "login"
	KindChannel = "channel"
	KindPost    = "post"
	KindDirect  = "dm"
)

// MaxOriginBytes is the longest origin, in bytes, that Apply stores.
const MaxOriginBytes = 255

// Op is one replicated write. Field tags are short because ops travel in replication batches.
type Op struct {
	Origin  string `msgpack:"o"` // server that accepted the write
	Seq     uint64 `msgpack:"s"` // origin's sequence number: 1, 2, 3 ... with no gaps
	Rank    int64  `msgpack:"r"` // origin's rank, tie-breaker of the total order
	Clock   uint64 `msgpack:"c"` // origin's Lamport clock when it accepted the write
	Time    int64  `msgpack:"t"` // origin's physical timestamp, Unix nanoseconds
	Kind    string `msgpack:"k"` // KindLogin, KindChannel, KindPost, KindDirect ("login","channel","post","dm")
	User    string `msgpack:"u"` // login name, post author, direct message sender (as first written, NFC)
	Channel string `msgpack:"ch,omitempty"`
	Peer    string `msgpack:"p,omitempty"` // direct message recipient
	Text    string `msgpack:"x,omitempty"`
	RID     string `msgpack:"id,omitempty"` // request id that deduplicates client retries; may be empty
}

// orderKeyFixed is the size of an order key without its origin: clock, rank,
// the origin's terminating zero byte and seq.
const orderKeyFixed = 8 + 8 + 1 + 8

// OrderKey encodes the op's place in the cluster-wide total order
// (Clock, Rank, Origin, Seq) so that bytes.Compare sorts keys in that order.
// Clock and Seq are big-endian, Rank is big-endian with the sign bit flipped,
// and Origin ends with a zero byte, which checkIdentity keeps out of origins.
func OrderKey(op Op) []byte {
	key := make([]byte, 0, orderKeyFixed+len(op.Origin))
	key = binary.BigEndian.AppendUint64(key, op.Clock)
	key = binary.BigEndian.AppendUint64(key, uint64(op.Rank)^(1<<63))
	key = append(key, op.Origin...)
	key = append(key, 0)
	key = binary.BigEndian.AppendUint64(key, op.Seq)
	return key
}

// orderPosition is an order key taken apart.
type orderPosition struct {
	Clock  uint64
	Rank   int64
	Origin string
	Seq    uint64
}

// parseOrderKey splits an order key made by OrderKey.
func parseOrderKey(key []byte) (orderPosition, error) {
	if len(key) < orderKeyFixed+1 || key[len(key)-9] != 0 {
		return orderPosition{}, fmt.Errorf("%w: order key of %d bytes", ErrCorrupt, len(key))
	}
	origin := key[16 : len(key)-9]
	if bytes.IndexByte(origin, 0) >= 0 {
		return orderPosition{}, fmt.Errorf("%w: order key origin has a zero byte", ErrCorrupt)
	}
	return orderPosition{
		Clock:  binary.BigEndian.Uint64(key[0:8]),
		Rank:   int64(binary.BigEndian.Uint64(key[8:16]) ^ (1 << 63)),
		Origin: string(origin),
		Seq:    binary.BigEndian.Uint64(key[len(key)-8:]),
	}, nil
}

// Cursor returns the op's position in the total order as an opaque string,
// the form History and Conversation take as their before argument.
func Cursor(op Op) string {
	return base64.RawURLEncoding.EncodeToString(OrderKey(op))
}

// parseCursor decodes a cursor made by Cursor back into an order key.
func parseCursor(cursor string) ([]byte, error) {
	key, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrBadCursor, cursor)
	}
	if _, err := parseOrderKey(key); err != nil {
		return nil, fmt.Errorf("%w: %q", ErrBadCursor, cursor)
	}
	return key, nil
}

// CheckReceived rejects an op that no msgsys server would have written, so
// that a peer cannot store what a client request could not. Such an op has
// a clock past the protocol's limit, or a text that is empty, too long,
// not UTF-8 or holds control characters. Names are checked when the op is
// applied.
func CheckReceived(op Op) error {
	if err := checkIdentity(op); err != nil {
		return err
	}
	if op.Clock > proto.MaxClock {
		return fmt.Errorf("%w: clock %d is above %d", ErrInvalidOp, op.Clock, uint64(proto.MaxClock))
	}
	if op.Kind == KindPost || op.Kind == KindDirect || op.Text != "" {
		if err := proto.ValidateText(op.Text); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidOp, err)
		}
	}
	return nil
}

// checkIdentity rejects an op whose origin or seq cannot be stored: the log
// keys ops by origin and seq, and order keys end the origin with a zero byte.
func checkIdentity(op Op) error {
	switch {
	case op.Origin == "":
		return fmt.Errorf("%w: origin is empty", ErrInvalidOp)
	case len(op.Origin) > MaxOriginBytes:
		return fmt.Errorf("%w: origin is longer than %d bytes", ErrInvalidOp, MaxOriginBytes)
	case !utf8.ValidString(op.Origin):
		return fmt.Errorf("%w: origin is not valid UTF-8", ErrInvalidOp)
	case strings.IndexByte(op.Origin, 0) >= 0:
		return fmt.Errorf("%w: origin has a zero byte", ErrInvalidOp)
	case op.Seq == 0:
		return fmt.Errorf("%w: seq is 0, sequences start at 1", ErrInvalidOp)
	}
	return nil
}
