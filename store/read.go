package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Page sizes of History and Conversation.
const (
	DefaultLimit = 50   // used when limit <= 0
	MaxLimit     = 1000 // larger limits are cut to this
)

// Message is a channel post or a direct message as History and
// Conversation return it.
type Message struct {
	Kind    string // KindPost or KindDirect
	Channel string // of a post, as the op wrote it
	User    string // author or sender, as the op wrote it
	Peer    string // recipient of a direct message, as the op wrote it
	Text    string
	Time    time.Time // origin's physical time, UTC
	Clock   uint64
	Origin  string
	Rank    int64
	Seq     uint64
}

// Cursor returns the message's position in the total order, as Cursor(Op)
// does for the op that wrote it.
func (m Message) Cursor() string {
	return Cursor(Op{Clock: m.Clock, Rank: m.Rank, Origin: m.Origin, Seq: m.Seq})
}

func messageOf(op Op) Message {
	return Message{
		Kind:    op.Kind,
		Channel: op.Channel,
		User:    op.User,
		Peer:    op.Peer,
		Text:    op.Text,
		Time:    time.Unix(0, op.Time).UTC(),
		Clock:   op.Clock,
		Origin:  op.Origin,
		Rank:    op.Rank,
		Seq:     op.Seq,
	}
}

// shownNames gives the names of one history page as the users and
// channels buckets show them now. Two servers that created the same name
// at once in different case keep the spelling of the op first in the
// total order, so a post written before they converged would otherwise
// show the other spelling for good.
type shownNames struct {
	users, channels *bolt.Bucket
	seen            map[nameRef]string
}

func newShownNames(tx *bolt.Tx) *shownNames {
	return &shownNames{users: tx.Bucket(bucketUsers), channels: tx.Bucket(bucketChannels), seen: make(map[nameRef]string)}
}

func (n *shownNames) user(name string) string    { return n.lookup(n.users, false, name) }
func (n *shownNames) channel(name string) string { return n.lookup(n.channels, true, name) }

// lookup returns the shown name of name's key in b, or name itself when
// b has no readable record of it.
func (n *shownNames) lookup(b *bolt.Bucket, channel bool, name string) string {
	if name == "" {
		return ""
	}
	key, ok := foldKey(name)
	if !ok {
		return name
	}
	ref := nameRef{channel: channel, key: key}
	if shown, ok := n.seen[ref]; ok {
		return shown
	}
	shown := name
	if rec := b.Get([]byte(key)); rec != nil {
		if _, stored, err := decodeNameRecord(rec); err == nil {
			shown = string(stored)
		}
	}
	n.seen[ref] = shown
	return shown
}

// HasUser reports whether a user of that name, in any case, has logged in.
func (s *Store) HasUser(name string) bool {
	_, ok := s.UserName(name)
	return ok
}

// UserName returns the user's name as shown. It reports false for an
// unknown user, and also when the store is closed or the record is unreadable.
func (s *Store) UserName(name string) (string, bool) {
	return s.shownName(bucketUsers, name)
}

// Users returns the shown names of all users, sorted by folded name. It
// returns an empty list when the store is closed or a record is unreadable.
func (s *Store) Users() []string {
	return s.shownNames(bucketUsers)
}

// HasChannel reports whether a channel of that name, in any case, exists.
func (s *Store) HasChannel(name string) bool {
	_, ok := s.ChannelName(name)
	return ok
}

// ChannelName returns the channel's name as shown. It reports false for an
// unknown channel, and also when the store is closed or the record is
// unreadable.
func (s *Store) ChannelName(name string) (string, bool) {
	return s.shownName(bucketChannels, name)
}

// Channels returns the shown names of all channels, sorted by folded name.
// It returns an empty list when the store is closed or a record is unreadable.
func (s *Store) Channels() []string {
	return s.shownNames(bucketChannels)
}

// shownName reads the name record of a user or channel, from the name
// cache when it holds the name. Names are never removed, so a name found
// in the file exists whatever is pending, and only a miss commits the
// pending ops and looks again. Writes check their user and channel this
// way, and would otherwise commit for every request.
func (s *Store) shownName(bucket []byte, name string) (string, bool) {
	key, ok := foldKey(name)
	if !ok {
		return "", false
	}
	ref := nameRef{channel: bytes.Equal(bucket, bucketChannels), key: key}
	shown, cached, epoch := s.names.get(ref)
	if cached {
		return shown, true
	}

	// The counters are read before the file: a commit that lands between
	// the read and a later comparison would hide a miss of an op that was
	// pending when the read began.
	allCommitted := s.committedOps.Load() >= s.loggedOps.Load()
	shown, found := s.readName(bucket, key)
	if !found && !allCommitted {
		s.settle()
		shown, found = s.readName(bucket, key)
	}
	if found {
		s.names.put(ref, shown, epoch)
	}
	return shown, found
}

func (s *Store) readName(bucket []byte, key string) (string, bool) {
	var shown string
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		rec := tx.Bucket(bucket).Get([]byte(key))
		if rec == nil {
			return nil
		}
		_, name, err := decodeNameRecord(rec)
		shown, found = string(name), err == nil
		return err
	})
	return shown, found && err == nil
}

func (s *Store) shownNames(bucket []byte) []string {
	s.settle()
	names := []string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, rec []byte) error {
			_, name, err := decodeNameRecord(rec)
			names = append(names, string(name))
			return err
		})
	})
	if err != nil {
		return []string{}
	}
	return names
}

// History returns the channel's newest posts older than the cursor before
// (all posts when before is ""), at most limit of them, oldest first. The
// second result is the cursor for the page before this one, or "" when no
// older post exists. An unknown channel has no posts.
func (s *Store) History(channel, before string, limit int) ([]Message, string, error) {
	key, ok := foldKey(channel)
	if !ok {
		return []Message{}, "", nil
	}
	return s.page(bucketPosts, key, before, limit)
}

// Conversation pages through the direct messages between users a and b in
// both directions, as History does for a channel. Conversation(a, b, ...)
// and Conversation(b, a, ...) return the same page.
func (s *Store) Conversation(a, b, before string, limit int) ([]Message, string, error) {
	keyA, okA := foldKey(a)
	keyB, okB := foldKey(b)
	if !okA || !okB {
		return []Message{}, "", nil
	}
	return s.page(bucketDirects, conversationKey(keyA, keyB), before, limit)
}

// page reads one page of the group of an index bucket, walking back from
// the cursor, and resolves each order key in the log.
func (s *Store) page(index []byte, group string, before string, limit int) ([]Message, string, error) {
	s.settle()
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var upper []byte
	if before != "" {
		var err error
		if upper, err = parseCursor(before); err != nil {
			return nil, "", err
		}
	}

	messages := []Message{}
	var next string
	err := s.db.View(func(tx *bolt.Tx) error {
		g := tx.Bucket(index).Bucket([]byte(group))
		if g == nil {
			return nil
		}
		c := g.Cursor()
		var k []byte
		if upper == nil {
			k, _ = c.Last()
		} else if k, _ = c.Seek(upper); k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}

		log := tx.Bucket(bucketLog)
		names := newShownNames(tx)
		for ; k != nil && len(messages) < limit; k, _ = c.Prev() {
			op, err := readOrderKey(log, k)
			if err != nil {
				return err
			}
			m := messageOf(op)
			m.User, m.Peer = names.user(m.User), names.user(m.Peer)
			m.Channel = names.channel(m.Channel)
			messages = append(messages, m)
		}
		if k != nil {
			next = messages[len(messages)-1].Cursor()
		}
		s.touch(len(messages))
		s.trim(tx)
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: failed to read history: %w", err)
	}
	slices.Reverse(messages)
	return messages, next, nil
}

// LookupRID returns the op that carries the request id and whose
// timestamp is near at, as indexRID matches retries: the lowest in the total
// order if several do. It reports false for an unknown id. It searches the
// ops pending a commit in memory instead of committing them, because every
// write looks its id up first.
func (s *Store) LookupRID(rid string, at time.Time) (Op, bool, error) {
	if rid == "" {
		return Op{}, false, nil
	}
	hash, slice := hashRID(rid), sliceOf(at.UnixNano())
	pending := s.pendingRID(rid, slice)
	s.rids.mu.RLock()
	refs := s.rids.lookup(nil, hash, slice, ridHorizon)
	inFile := slice-ridHorizon <= s.rids.fileTop
	s.rids.mu.RUnlock()

	var found *Op
	for i := range pending {
		if found == nil || lower(pending[i], *found) {
			found = &pending[i]
		}
	}
	if len(refs) == 0 && !inFile {
		// Nearly every id is new, and a read transaction costs more than
		// the rest of the lookup.
		if found == nil {
			return Op{}, false, nil
		}
		return *found, true, nil
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if inFile {
			if refs, err = findInFile(refs, tx.Bucket(bucketRIDs), hash, slice, ridHorizon); err != nil {
				return err
			}
		}
		for _, ref := range refs {
			op, err := readLog(tx.Bucket(bucketLog), ref.origin, ref.seq)
			if err != nil {
				return err
			}
			if op.RID == rid && (found == nil || lower(op, *found)) {
				found = &op
			}
		}
		return nil
	})
	if err != nil {
		return Op{}, false, fmt.Errorf("store: failed to look up request id %q: %w", rid, err)
	}
	if found == nil {
		return Op{}, false, nil
	}
	return *found, true, nil
}

// opOverhead is an upper bound of the bytes MessagePack spends on one Op
// besides the contents of its strings: the map header, the eleven keys, the
// string headers and the four integers at their widest.
const opOverhead = 96

// OpsAfter returns the origin's ops with seqs after the given one, in seq
// order. It stops after limit ops, or before the ops' estimated MessagePack
// size passes maxBytes, but it returns at least one op when one exists.
// A limit or maxBytes <= 0 sets no bound of that kind.
func (s *Store) OpsAfter(origin string, after uint64, limit int, maxBytes int) ([]Op, error) {
	s.settle()
	ops := []Op{}
	if after == math.MaxUint64 {
		return ops, nil
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLog).Bucket([]byte(origin))
		if b == nil {
			return nil
		}
		size := 0
		c := b.Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil; k, v = c.Next() {
			if limit > 0 && len(ops) >= limit {
				break
			}
			if len(k) != 8 {
				return fmt.Errorf("%w: log key of %d bytes in origin %q", ErrCorrupt, len(k), origin)
			}
			op, err := decodeRecord(origin, binary.BigEndian.Uint64(k), v)
			if err != nil {
				return err
			}
			size += opOverhead + len(op.Origin) + len(op.Kind) + len(op.User) +
				len(op.Channel) + len(op.Peer) + len(op.Text) + len(op.RID)
			if maxBytes > 0 && len(ops) > 0 && size > maxBytes {
				break
			}
			ops = append(ops, op)
		}
		s.touch(len(ops))
		s.trim(tx)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: failed to read the log of %q after %d: %w", origin, after, err)
	}
	return ops, nil
}

// readLog reads the log record of origin and seq.
func readLog(log *bolt.Bucket, origin string, seq uint64) (Op, error) {
	b := log.Bucket([]byte(origin))
	if b == nil {
		return Op{}, fmt.Errorf("%w: no log of origin %q", ErrCorrupt, origin)
	}
	v := b.Get(seqKey(seq))
	if v == nil {
		return Op{}, fmt.Errorf("%w: no log record %s/%d", ErrCorrupt, origin, seq)
	}
	return decodeRecord(origin, seq, v)
}

// readOrderKey reads the log record that an index's order key names.
func readOrderKey(log *bolt.Bucket, key []byte) (Op, error) {
	pos, err := parseOrderKey(key)
	if err != nil {
		return Op{}, err
	}
	op, err := readLog(log, pos.Origin, pos.Seq)
	if err != nil {
		return Op{}, err
	}
	if !bytes.Equal(OrderKey(op), key) {
		return Op{}, fmt.Errorf("%w: log record %s/%d does not match its index key", ErrCorrupt, pos.Origin, pos.Seq)
	}
	return op, nil
}

// HighestClock returns the highest Lamport clock of the posts, direct
// messages, logins and channels that listings show. Order keys start with
// the clock, so the last key of each group is enough.
func (s *Store) HighestClock() (uint64, error) {
	s.settle()
	var highest uint64
	see := func(key []byte) {
		if len(key) >= 8 {
			highest = max(highest, binary.BigEndian.Uint64(key))
		}
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketPosts, bucketDirects, bucketLogins} {
			index := tx.Bucket(name)
			err := index.ForEachBucket(func(group []byte) error {
				last, _ := index.Bucket(group).Cursor().Last()
				see(last)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return tx.Bucket(bucketChannels).ForEach(func(_, record []byte) error {
			key, _, err := decodeNameRecord(record)
			if err != nil {
				return err
			}
			see(key)
			return nil
		})
	})
	return highest, err
}
