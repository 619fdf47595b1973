package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// dumpTimeLayout is RFC 3339 in UTC with milliseconds, as the wire protocol
// writes timestamps.
const dumpTimeLayout = "2006-01-02T15:04:05.000Z"

// dumpEvent is one login, channel creation, post or direct message in a dump.
type dumpEvent struct {
	User   string `json:"user,omitempty"`
	Peer   string `json:"peer,omitempty"`
	Text   string `json:"text,omitempty"`
	Time   string `json:"time"`
	Origin string `json:"origin"`
	Seq    uint64 `json:"seq"`
	Clock  uint64 `json:"clock"`
}

func eventOf(op Op) dumpEvent {
	return dumpEvent{
		User:   op.User,
		Peer:   op.Peer,
		Text:   op.Text,
		Time:   time.Unix(0, op.Time).UTC().Format(dumpTimeLayout),
		Origin: op.Origin,
		Seq:    op.Seq,
		Clock:  op.Clock,
	}
}

// Dump writes the materialised view as indented JSON from one consistent
// read transaction. Users come sorted by folded name with their logins, and
// channels sorted by folded name with their creation and posts.
// Conversations come sorted by their two folded names with their messages.
// Events are in the total order. The dump holds nothing local to this
// server, so servers that hold the same ops write byte-identical dumps.
// Ops logged but not materialised (StatusLogged) are left out.
func (s *Store) Dump(w io.Writer) error {
	s.settle()
	bw := bufio.NewWriterSize(w, 64<<10)
	err := s.db.View(func(tx *bolt.Tx) error {
		d := dumper{store: s, tx: tx, log: tx.Bucket(bucketLog), out: &jsonWriter{w: bw}}
		return d.dump()
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("store: failed to dump: %w", err)
	}
	return nil
}

type dumper struct {
	store *Store
	tx    *bolt.Tx
	log   *bolt.Bucket
	out   *jsonWriter
}

func (d *dumper) dump() error {
	top := d.out.object("")
	steps := []struct {
		name  string
		write func(indent string) error
	}{
		{"users", d.users},
		{"channels", d.channels},
		{"conversations", d.conversations},
	}
	for _, step := range steps {
		if err := step.write(top.key(step.name)); err != nil {
			return err
		}
	}
	top.end()
	d.out.raw("\n")
	return d.out.err
}

func (d *dumper) users(indent string) error {
	users := d.out.list(indent)
	err := d.tx.Bucket(bucketUsers).ForEach(func(key, rec []byte) error {
		_, shown, err := decodeNameRecord(rec)
		if err != nil {
			return err
		}
		user := d.out.object(users.next())
		user.field("name", string(shown))
		if err := d.events(user.key("logins"), bucketLogins, key); err != nil {
			return err
		}
		user.end()
		return d.out.err
	})
	users.end()
	return err
}

func (d *dumper) channels(indent string) error {
	names := d.tx.Bucket(bucketChannels)
	// A post can arrive before the op that created its channel, so the
	// channel list is the union of both buckets.
	var keys [][]byte
	err := names.ForEach(func(k, _ []byte) error {
		keys = append(keys, bytes.Clone(k))
		return nil
	})
	if err == nil {
		err = d.tx.Bucket(bucketPosts).ForEachBucket(func(k []byte) error {
			if names.Get(k) == nil {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
	}
	if err != nil {
		return err
	}
	slices.SortFunc(keys, bytes.Compare)

	channels := d.out.list(indent)
	for _, key := range keys {
		if err := d.channel(channels.next(), key, names.Get(key)); err != nil {
			return err
		}
	}
	channels.end()
	return nil
}

// channel writes one channel. rec is nil for a channel known only by its posts.
func (d *dumper) channel(indent string, key, rec []byte) error {
	channel := d.out.object(indent)
	if rec == nil {
		channel.field("name", nil)
		channel.field("created", nil)
	} else {
		creator, shown, err := decodeNameRecord(rec)
		if err != nil {
			return err
		}
		op, err := readOrderKey(d.log, creator)
		if err != nil {
			return err
		}
		channel.field("name", string(shown))
		channel.field("created", eventOf(op))
	}
	if err := d.events(channel.key("posts"), bucketPosts, key); err != nil {
		return err
	}
	channel.end()
	return d.out.err
}

func (d *dumper) conversations(indent string) error {
	directs := d.tx.Bucket(bucketDirects)
	conversations := d.out.list(indent)
	err := directs.ForEachBucket(func(key []byte) error {
		a, b := splitConversationKey(key)
		conversation := d.out.object(conversations.next())
		conversation.field("users", []string{a, b})
		if err := d.events(conversation.key("messages"), bucketDirects, key); err != nil {
			return err
		}
		conversation.end()
		return d.out.err
	})
	conversations.end()
	return err
}

// events writes the ops of one group of an index bucket as a JSON array.
func (d *dumper) events(indent string, index, group []byte) error {
	events := d.out.list(indent)
	defer events.end()
	g := d.tx.Bucket(index).Bucket(group)
	if g == nil {
		return nil
	}
	c := g.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		op, err := readOrderKey(d.log, k)
		if err != nil {
			return err
		}
		events.item(eventOf(op))
		if d.out.err != nil {
			return d.out.err
		}
		d.store.touch(1)
		d.store.trim(d.tx)
	}
	return nil
}

// jsonWriter streams indented JSON, so a dump of a large store never holds
// all its messages in memory. It keeps the first write error.
type jsonWriter struct {
	w   *bufio.Writer
	buf bytes.Buffer
	err error
}

func (j *jsonWriter) raw(s string) {
	if j.err == nil {
		_, j.err = j.w.WriteString(s)
	}
}

// value writes v as indented JSON that starts at the given indentation.
func (j *jsonWriter) value(indent string, v any) {
	if j.err != nil {
		return
	}
	j.buf.Reset()
	enc := json.NewEncoder(&j.buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(indent, "  ")
	if j.err = enc.Encode(v); j.err == nil {
		_, j.err = j.w.Write(bytes.TrimSuffix(j.buf.Bytes(), []byte("\n")))
	}
}

// jsonList is a JSON array being written, one element at a time.
type jsonList struct {
	out    *jsonWriter
	indent string
	n      int
}

func (j *jsonWriter) list(indent string) *jsonList {
	j.raw("[")
	return &jsonList{out: j, indent: indent}
}

// next starts an element and returns its indentation.
func (l *jsonList) next() string {
	if l.n > 0 {
		l.out.raw(",")
	}
	l.n++
	inner := l.indent + "  "
	l.out.raw("\n" + inner)
	return inner
}

func (l *jsonList) item(v any) {
	l.out.value(l.next(), v)
}

func (l *jsonList) end() {
	if l.n > 0 {
		l.out.raw("\n" + l.indent)
	}
	l.out.raw("]")
}

// jsonObject is a JSON object being written, one member at a time.
type jsonObject struct {
	out    *jsonWriter
	indent string
	n      int
}

func (j *jsonWriter) object(indent string) *jsonObject {
	j.raw("{")
	return &jsonObject{out: j, indent: indent}
}

// key starts a member and returns the indentation of its value.
func (o *jsonObject) key(name string) string {
	if o.n > 0 {
		o.out.raw(",")
	}
	o.n++
	inner := o.indent + "  "
	o.out.raw("\n" + inner + strconv.Quote(name) + ": ")
	return inner
}

func (o *jsonObject) field(name string, v any) {
	o.out.value(o.key(name), v)
}

func (o *jsonObject) end() {
	if o.n > 0 {
		o.out.raw("\n" + o.indent)
	}
	o.out.raw("}")
}
