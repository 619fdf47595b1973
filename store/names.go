package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	"msgsys/proto"
)

// opNames are the names of an op in NFC as shown and folded as keys.
type opNames struct {
	user, userKey       string
	channel, channelKey string
	peer, peerKey       string
}

// checkPayload validates the names an op of a known kind needs, because
// they become index keys. Text is not checked: the server validated it
// before it made the op, and the store keeps what the origin accepted.
func checkPayload(op Op) (opNames, error) {
	var needUser, needChannel, needPeer bool
	switch op.Kind {
	case KindLogin:
		needUser = true
	case KindChannel:
		needChannel = true
	case KindPost:
		needUser, needChannel = true, true
	case KindDirect:
		needUser, needPeer = true, true
	default:
		return opNames{}, fmt.Errorf("%w: unknown kind %q", ErrInvalidOp, op.Kind)
	}

	var names opNames
	var err error
	if names.user, names.userKey, err = checkName("user", op.User, needUser); err != nil {
		return opNames{}, err
	}
	if names.channel, names.channelKey, err = checkName("channel", op.Channel, needChannel); err != nil {
		return opNames{}, err
	}
	if names.peer, names.peerKey, err = checkName("peer", op.Peer, needPeer); err != nil {
		return opNames{}, err
	}
	return names, nil
}

// checkName returns the NFC and folded forms of a user or channel name. An
// empty name passes unless required.
func checkName(field, name string, required bool) (shown, key string, err error) {
	if name == "" && !required {
		return "", "", nil
	}
	shown, err = proto.NormalizeName(name)
	if err != nil {
		return "", "", fmt.Errorf("%w: %s %q: %w", ErrInvalidOp, field, name, err)
	}
	return shown, proto.FoldName(shown), nil
}

// foldKey folds a name given to a read method. It reports false for a name
// that no stored op can have, because it is empty or has the zero byte that
// separates the two names of a conversation key.
func foldKey(name string) (string, bool) {
	key := proto.FoldName(name)
	if key == "" || strings.IndexByte(key, 0) >= 0 {
		return "", false
	}
	return key, true
}

// conversationKey names the conversation of two folded users, the same from
// either side.
func conversationKey(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + "\x00" + b
}

// splitConversationKey returns the two folded users of a conversation key.
func splitConversationKey(key []byte) (string, string) {
	a, b, _ := bytes.Cut(key, []byte{0})
	return string(a), string(b)
}

// A name record is the order key of the op that named a user or channel,
// as a uvarint length and its bytes, followed by the name as shown.
func encodeNameRecord(key []byte, shown string) []byte {
	buf := make([]byte, 0, binary.MaxVarintLen16+len(key)+len(shown))
	buf = binary.AppendUvarint(buf, uint64(len(key)))
	buf = append(buf, key...)
	return append(buf, shown...)
}

// decodeNameRecord returns slices of rec, valid only in the transaction.
func decodeNameRecord(rec []byte) (key []byte, shown []byte, err error) {
	n, size := binary.Uvarint(rec)
	if size <= 0 || n > uint64(len(rec)-size) {
		return nil, nil, fmt.Errorf("%w: name record of %d bytes", ErrCorrupt, len(rec))
	}
	rest := rec[size:]
	return rest[:n], rest[n:], nil
}

// ridKeyBytes is the size of a request id's hash in the index.
const ridKeyBytes = 8

// hashRID returns the key of a request id in the index: the first 8 bytes
// of its SHA-256. Ids of any length then make keys of one small size, which
// keeps the index compact in memory and in the file.
func hashRID(rid string) ridHash {
	sum := sha256.Sum256([]byte(rid))
	return ridHash(binary.BigEndian.Uint64(sum[:ridKeyBytes]))
}
