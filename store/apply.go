package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Status is the outcome of one op in Apply.
type Status uint8

// Statuses of an op in an ApplyResult.
const (
	// StatusApplied: the op was appended to the log and materialised.
	StatusApplied Status = iota + 1
	// StatusDuplicate: the log already held the op's origin and seq, so it
	// was skipped.
	StatusDuplicate
	// StatusGap: ops of the same origin before this one are missing, so it
	// was skipped. ApplyResult.Missing names the seqs to fetch.
	StatusGap
	// StatusLogged: the op was appended to the log, so its origin's
	// sequence stays contiguous and replication passes it on, but it is not
	// materialised. Its kind is unknown to this version or a name in it is
	// invalid. OpResult.Reason gives the cause.
	StatusLogged
	// StatusInvalid: the op's origin or seq cannot be stored, so the op
	// was skipped. OpResult.Reason gives the cause.
	StatusInvalid
)

var statusNames = [...]string{
	StatusApplied:   "applied",
	StatusDuplicate: "duplicate",
	StatusGap:       "gap",
	StatusLogged:    "logged",
	StatusInvalid:   "invalid",
}

func (s Status) String() string {
	if int(s) < len(statusNames) && statusNames[s] != "" {
		return statusNames[s]
	}
	return "unknown"
}

// ChannelOutcome is the state in which an applied channel op found its
// channel.
type ChannelOutcome uint8

// Outcomes of a channel op. ChannelNone is the value for other ops.
const (
	ChannelNone ChannelOutcome = iota
	// ChannelCreated: no channel of that folded name existed before the op.
	ChannelCreated
	// ChannelExisted: a channel of that folded name existed. The op still
	// takes over its shown name if it is lower in the total order.
	ChannelExisted
)

// OpResult is the outcome of one op given to Apply.
type OpResult struct {
	Status  Status
	Channel ChannelOutcome // of an applied channel op
	NewUser bool           // an applied login op registered its user
	Reason  error          // cause of StatusLogged or StatusInvalid
}

// Range is a run of seqs of one origin, From to To inclusive.
type Range struct {
	Origin string
	From   uint64
	To     uint64
}

// ApplyResult is the outcome of one Apply call.
type ApplyResult struct {
	Ops     []OpResult        // one per input op, at the op's index
	Applied int               // ops appended to the log: StatusApplied and StatusLogged
	Missing []Range           // per origin with StatusGap ops, the seqs to fetch first, sorted by origin
	Version map[string]uint64 // version vector after the batch
}

// errNothingApplied rolls back the transaction of a batch that applied no
// op, which saves the commit's fsync.
var errNothingApplied = errors.New("store: no op applied")

// Apply stores a batch of ops in one read-write transaction, so one fsync.
// It sorts the ops by origin and seq first, so a batch may hold the ops of
// one origin in any order. An op whose seq is the next of its origin is
// appended to the log, and materialised unless its kind is unknown or a
// name in it is invalid (StatusLogged). Other ops are skipped, and the
// result gives the status of each. Apply returns an error, and changes
// nothing, only when the file cannot be read or written.
func (s *Store) Apply(ops []Op) (ApplyResult, error) {
	if s.readOnly {
		return ApplyResult{}, ErrReadOnly
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()

	s.mu.RLock()
	version := maps.Clone(s.version)
	counts := s.counts
	s.mu.RUnlock()

	order := make([]int, len(ops))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(ops[a].Origin, ops[b].Origin), cmp.Compare(ops[a].Seq, ops[b].Seq))
	})

	res := ApplyResult{Ops: make([]OpResult, len(ops))}
	firstGap := make(map[string]uint64)
	err := s.db.Update(func(tx *bolt.Tx) error {
		a := newApplier(tx, &counts)
		for _, i := range order {
			op := ops[i]
			if err := checkIdentity(op); err != nil {
				res.Ops[i] = OpResult{Status: StatusInvalid, Reason: err}
				continue
			}
			have := version[op.Origin]
			switch {
			case op.Seq <= have:
				res.Ops[i].Status = StatusDuplicate
				continue
			case op.Seq > have+1:
				res.Ops[i].Status = StatusGap
				if _, seen := firstGap[op.Origin]; !seen {
					firstGap[op.Origin] = op.Seq
				}
				continue
			}
			r, err := a.apply(op)
			if err != nil {
				return err
			}
			res.Ops[i] = r
			res.Applied++
			version[op.Origin] = op.Seq
		}
		if res.Applied == 0 {
			return errNothingApplied
		}
		return tx.Bucket(bucketMeta).Put(metaCounts, encodeCounts(counts))
	})
	if err != nil && !errors.Is(err, errNothingApplied) {
		return ApplyResult{}, fmt.Errorf("store: failed to apply %d ops: %w", len(ops), err)
	}

	s.mu.Lock()
	s.version = version
	s.counts = counts
	s.mu.Unlock()
	s.touch(res.Applied)
	s.trimAfterWrite()

	for origin, seq := range firstGap {
		res.Missing = append(res.Missing, Range{Origin: origin, From: version[origin] + 1, To: seq - 1})
	}
	slices.SortFunc(res.Missing, func(a, b Range) int { return cmp.Compare(a.Origin, b.Origin) })
	res.Version = maps.Clone(version)
	return res, nil
}

// applier writes ops inside one read-write transaction.
type applier struct {
	log      *bolt.Bucket
	users    *bolt.Bucket
	channels *bolt.Bucket
	logins   *bolt.Bucket
	posts    *bolt.Bucket
	directs  *bolt.Bucket
	rids     *bolt.Bucket
	counts   *Counts // updated as ops are materialised

	// groupTails holds, for each group bucket written in this transaction,
	// its last key committed before, nil for an empty group.
	groupTails map[*bolt.Bucket][]byte
}

func newApplier(tx *bolt.Tx, counts *Counts) *applier {
	return &applier{
		log:      tx.Bucket(bucketLog),
		users:    tx.Bucket(bucketUsers),
		channels: tx.Bucket(bucketChannels),
		logins:   tx.Bucket(bucketLogins),
		posts:    tx.Bucket(bucketPosts),
		directs:  tx.Bucket(bucketDirects),
		rids:     tx.Bucket(bucketRIDs),
		counts:   counts,

		groupTails: make(map[*bolt.Bucket][]byte),
	}
}

// apply appends op, whose seq the caller checked, to the log and
// materialises it. An error means the transaction must roll back.
func (a *applier) apply(op Op) (OpResult, error) {
	originLog, err := subBucket(a.log, []byte(op.Origin))
	if err != nil {
		return OpResult{}, err
	}
	originLog.FillPercent = logFillPercent
	if err := originLog.Put(seqKey(op.Seq), encodeRecord(op)); err != nil {
		return OpResult{}, err
	}

	key := OrderKey(op)
	prev, retry, err := a.indexRID(op, key)
	if err != nil {
		return OpResult{}, err
	}
	if retry {
		return OpResult{Status: StatusLogged, Reason: fmt.Errorf("%w: %s/%d repeats request %q of %s/%d", ErrRetry, op.Origin, op.Seq, op.RID, prev.Origin, prev.Seq)}, nil
	}
	names, err := checkPayload(op)
	if err != nil {
		return OpResult{Status: StatusLogged, Reason: err}, nil
	}
	if prev != nil {
		if err := a.unmaterialise(*prev); err != nil {
			return OpResult{}, err
		}
	}

	res := OpResult{Status: StatusApplied}
	switch op.Kind {
	case KindLogin:
		res.NewUser, err = a.login(names, key)
	case KindChannel:
		res.Channel, err = a.channel(names, key)
	case KindPost:
		err = a.addToGroup(a.posts, names.channelKey, key)
		a.counts.Posts++
	case KindDirect:
		err = a.addToGroup(a.directs, conversationKey(names.userKey, names.peerKey), key)
		a.counts.Directs++
	}
	return res, err
}

func (a *applier) login(names opNames, key []byte) (bool, error) {
	created, err := putLowest(a.users, names.userKey, names.user, key)
	if err != nil {
		return false, err
	}
	if created {
		a.counts.Users++
	}
	a.counts.Logins++
	return created, a.addToGroup(a.logins, names.userKey, key)
}

func (a *applier) channel(names opNames, key []byte) (ChannelOutcome, error) {
	created, err := putLowest(a.channels, names.channelKey, names.channel, key)
	if err != nil {
		return ChannelNone, err
	}
	if !created {
		return ChannelExisted, nil
	}
	a.counts.Channels++
	return ChannelCreated, nil
}

// putLowest records shown as the name of the folded key unless an op lower
// in the total order already named it. It reports whether the key was new.
func putLowest(b *bolt.Bucket, folded string, shown string, key []byte) (bool, error) {
	old := b.Get([]byte(folded))
	if old != nil {
		oldKey, _, err := decodeNameRecord(old)
		if err != nil {
			return false, err
		}
		if bytes.Compare(oldKey, key) <= 0 {
			return false, nil
		}
	}
	return old == nil, b.Put([]byte(folded), encodeNameRecord(key, shown))
}

// addToGroup inserts key into the group bucket of an index, and picks the
// group's fill percentage for this commit: appendFillPercent while every
// key goes after the keys committed before, insertFillPercent once one
// does not.
func (a *applier) addToGroup(index *bolt.Bucket, group string, key []byte) error {
	b, err := subBucket(index, []byte(group))
	if err != nil {
		return err
	}
	tail, seen := a.groupTails[b]
	if !seen {
		last, _ := b.Cursor().Last()
		tail = bytes.Clone(last)
		a.groupTails[b] = tail
		b.FillPercent = appendFillPercent
	}
	if tail != nil && bytes.Compare(key, tail) < 0 {
		b.FillPercent = insertFillPercent
	}
	return b.Put(key, []byte{})
}

// indexRID records that op carries its request id. Several ops carry the
// same id when a client retried a write whose reply was lost and the retry
// reached another server before the first attempt did. Only the op lowest
// in the total order is materialised, so every server shows the write
// once whatever the arrival order. When an earlier op holds the id, op is
// a retry. When op is lower, it takes over, and the caller removes prev
// from the view. Ids are keyed by a 16-byte SHA-256 prefix, and two ids
// whose keys collided would be settled the same way.
func (a *applier) indexRID(op Op, key []byte) (prev *Op, retry bool, err error) {
	if op.RID == "" {
		return nil, false, nil
	}
	ridKey := hashRID(op.RID)
	if old := a.rids.Get(ridKey); old != nil {
		origin, seq, err := decodeRef(old)
		if err != nil {
			return nil, false, err
		}
		held, err := readLog(a.log, origin, seq)
		if err != nil {
			return nil, false, err
		}
		if bytes.Compare(OrderKey(held), key) <= 0 {
			return &held, true, nil
		}
		prev = &held
	}
	return prev, false, a.rids.Put(ridKey, encodeRef(op.Origin, op.Seq))
}

// unmaterialise removes a post, direct message or login from the view
// when a retry lower in the total order replaces it. The user a login
// created stays, because the replacing op is a login of the same name.
func (a *applier) unmaterialise(prev Op) error {
	names, err := checkPayload(prev)
	if err != nil {
		return nil // never materialised
	}
	key := OrderKey(prev)
	switch prev.Kind {
	case KindPost:
		a.counts.Posts--
		return removeFromGroup(a.posts, names.channelKey, key)
	case KindDirect:
		a.counts.Directs--
		return removeFromGroup(a.directs, conversationKey(names.userKey, names.peerKey), key)
	case KindLogin:
		a.counts.Logins--
		return removeFromGroup(a.logins, names.userKey, key)
	}
	return nil
}

func removeFromGroup(index *bolt.Bucket, group string, key []byte) error {
	b := index.Bucket([]byte(group))
	if b == nil {
		return nil
	}
	return b.Delete(key)
}

// subBucket returns the child bucket name of parent, creating it if needed.
// bbolt returns the same handle for the rest of the transaction, and the
// handle, not the file, carries FillPercent.
func subBucket(parent *bolt.Bucket, name []byte) (*bolt.Bucket, error) {
	if b := parent.Bucket(name); b != nil {
		return b, nil
	}
	return parent.CreateBucket(name)
}

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}
