package client

import (
	"time"

	"msgsys/proto"
)

// Message is a channel post or a direct message, as published or as
// listed in a history reply.
type Message struct {
	Channel string    // the post's channel; empty for a direct message
	From    string    // the post's author or the direct message's sender
	To      string    // the direct message's recipient; empty for a post
	Text    string    // the message text
	Time    time.Time // the sender's timestamp, or the receive time when it has none
	Clock   uint64    // the Lamport clock the message was published with
	Key     MessageKey
}

// Direct reports whether m is a direct message rather than a channel post.
func (m Message) Direct() bool { return m.Channel == "" }

// MessageKey identifies a publication well enough to recognise the same
// one twice, once from history and once live: two different posts with the
// same clock, author, text and timestamp are taken for one.
type MessageKey struct {
	Clock uint64
	From  string
	Text  string
	Stamp int64 // Unix nanoseconds of the timestamp, 0 when it has none
}

// ParseMessage reads a publication's data map leniently. topic is the
// pub/sub topic it arrived on, or "" for a history entry, and replaces a
// missing channel or recipient. A map with "src" or "from" is a direct
// message (the sender is under either key); otherwise it is a post, whose
// author is "user". now is used when the map has no readable timestamp.
func ParseMessage(topic string, d proto.Data, now time.Time) (Message, error) {
	text, err := d.String("message")
	if err != nil {
		return Message{}, err
	}
	clock, err := d.Clock()
	if err != nil {
		return Message{}, err
	}
	m := Message{Text: text, Clock: clock, Time: d.Time(now)}
	if stamp, ok, err := d.Timestamp(); ok && err == nil {
		m.Key.Stamp = stamp.UnixNano()
	}

	src, hasSrc, err := firstString(d, "src", "from")
	if err != nil {
		return Message{}, err
	}
	if hasSrc {
		m.From = src
		if m.To, _, err = d.OptString("dst"); err != nil {
			return Message{}, err
		}
		if m.To == "" {
			m.To = topic
		}
	} else {
		if m.From, err = d.String("user"); err != nil {
			return Message{}, err
		}
		if m.Channel, _, err = d.OptString("channel"); err != nil {
			return Message{}, err
		}
		if m.Channel == "" {
			m.Channel = topic
		}
		if m.Channel == "" {
			return Message{}, &proto.FieldError{Field: "channel", Reason: proto.ReasonMissing}
		}
	}
	m.Key.Clock, m.Key.From, m.Key.Text = m.Clock, m.From, m.Text
	return m, nil
}

// firstString returns the first of keys present with a non-empty string.
func firstString(d proto.Data, keys ...string) (string, bool, error) {
	for _, key := range keys {
		s, ok, err := d.OptString(key)
		if err != nil {
			return "", false, err
		}
		if ok && s != "" {
			return s, true, nil
		}
	}
	return "", false, nil
}
