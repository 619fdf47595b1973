package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
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

// applier writes ops inside one read-write transaction.
type applier struct {
	log      *bolt.Bucket
	users    *bolt.Bucket
	channels *bolt.Bucket
	logins   *bolt.Bucket
	posts    *bolt.Bucket
	directs  *bolt.Bucket
	rids     *ridTx
	counts   *Counts // updated as ops are materialised
	renamed  []nameRef

	// groupTails holds, for each group bucket written in this transaction,
	// its last key committed before, nil for an empty group.
	groupTails map[*bolt.Bucket][]byte
}

func newApplier(tx *bolt.Tx, counts *Counts, rids *ridTx) *applier {
	return &applier{
		log:      tx.Bucket(bucketLog),
		users:    tx.Bucket(bucketUsers),
		channels: tx.Bucket(bucketChannels),
		logins:   tx.Bucket(bucketLogins),
		posts:    tx.Bucket(bucketPosts),
		directs:  tx.Bucket(bucketDirects),
		rids:     rids,
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
	repeated, displaced, err := a.indexRID(op)
	if err != nil {
		return OpResult{}, err
	}
	for _, prev := range displaced {
		if err := a.unmaterialise(prev); err != nil {
			return OpResult{}, err
		}
	}
	if repeated != nil {
		return OpResult{Status: StatusLogged, Reason: fmt.Errorf("%w: %s/%d repeats request %q of %s/%d", ErrRetry, op.Origin, op.Seq, op.RID, repeated.Origin, repeated.Seq)}, nil
	}
	names, err := checkPayload(op)
	if err != nil {
		return OpResult{Status: StatusLogged, Reason: err}, nil
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
	created, err := a.putLowest(nameRef{key: names.userKey}, names.user, key)
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
	created, err := a.putLowest(nameRef{channel: true, key: names.channelKey}, names.channel, key)
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
// in the total order already named it. It reports whether the key was new,
// and notes a key it renames for the name cache.
func (a *applier) putLowest(ref nameRef, shown string, key []byte) (bool, error) {
	b := a.users
	if ref.channel {
		b = a.channels
	}
	folded := ref.key
	old := b.Get([]byte(folded))
	if old != nil {
		oldKey, _, err := decodeNameRecord(old)
		if err != nil {
			return false, err
		}
		if bytes.Compare(oldKey, key) <= 0 {
			return false, nil
		}
		a.renamed = append(a.renamed, ref)
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

// indexRID records that op carries its request id and settles which op
// carrying it is materialised. Several ops carry one id when a client
// retried a write whose reply was lost, and the retry may reach another
// server before the first attempt does. An op is materialised unless
// another op with the same id, lower in the total order, lies within
// ridHorizon slices of it (rids.go). The rule depends only on the set of
// ops, so every server shows the write once whatever the arrival order. indexRID returns
// the lowest such op, which op repeats, and the shown ops that now repeat
// op and that the caller removes from the view.
func (a *applier) indexRID(op Op) (repeated *Op, displaced []Op, err error) {
	if op.RID == "" {
		return nil, nil, nil
	}
	hash, slice := hashRID(op.RID), sliceOf(op.Time)
	near, err := a.rids.find(hash, slice, ridHorizon)
	if err != nil {
		return nil, nil, err
	}
	if len(near) > 0 {
		if repeated, displaced, err = a.settleRID(op, hash, slice); err != nil {
			return nil, nil, err
		}
	}
	return repeated, displaced, a.rids.put(hash, ridRef{origin: op.Origin, seq: op.Seq, slice: slice})
}

// settleRID applies the rule of indexRID to op and the ops already stored
// with its request id. Those within twice the horizon are read, because
// whether an op near op was materialised depends on its own neighbours.
func (a *applier) settleRID(op Op, hash ridHash, slice int64) (*Op, []Op, error) {
	refs, err := a.rids.find(hash, slice, 2*ridHorizon)
	if err != nil {
		return nil, nil, err
	}
	var stored []Op
	for _, ref := range refs {
		candidate, err := readLog(a.log, ref.origin, ref.seq)
		if err != nil {
			return nil, nil, err
		}
		seen := slices.ContainsFunc(stored, func(o Op) bool { return o.Origin == candidate.Origin && o.Seq == candidate.Seq })
		if candidate.RID == op.RID && !seen {
			stored = append(stored, candidate)
		}
	}

	// Even an op that repeats another may be the lowest one near a third
	// op, which then stops being shown.
	var displaced []Op
	for _, other := range stored {
		if within(sliceOf(other.Time), slice, ridHorizon) && lower(op, other) && repeats(other, stored) == nil {
			displaced = append(displaced, other)
		}
	}
	return repeats(op, stored), displaced, nil
}

// repeats returns the lowest op of stored that op repeats: one lower in the
// total order within ridHorizon slices of it. stored carries op's request id.
func repeats(op Op, stored []Op) *Op {
	var lowest *Op
	slice := sliceOf(op.Time)
	for i := range stored {
		other := &stored[i]
		if lower(*other, op) && within(sliceOf(other.Time), slice, ridHorizon) && (lowest == nil || lower(*other, *lowest)) {
			lowest = other
		}
	}
	return lowest
}

// lower reports whether a comes before b in the total order.
func lower(a, b Op) bool {
	return bytes.Compare(OrderKey(a), OrderKey(b)) < 0
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
