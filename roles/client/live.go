package client

import (
	"context"
	"slices"
	"time"

	"msgsys/proto"
)

// dispatch prints live publications until ctx is done, and after every
// reconnection to the proxy refills the joined channels from history,
// because publications sent while the connection was down are lost. It
// prints a notice when the connection is lost, so that silence is not
// taken for a quiet channel.
func (c *Client) dispatch(ctx context.Context) {
	first := true
	// Channels joined and due for their refill, all at once when the
	// timer of the first fires.
	var joined []string
	var refillDue <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case channel := <-c.joined:
			if !slices.Contains(joined, channel) {
				joined = append(joined, channel)
			}
			if refillDue == nil {
				refillDue = time.After(joinRefillDelay)
			}
		case <-refillDue:
			for _, channel := range joined {
				c.refillChannel(ctx, channel)
			}
			joined, refillDue = nil, nil
		case d, ok := <-c.sub.Deliveries():
			if !ok {
				return
			}
			c.receive(d)
		case <-c.sub.Lost():
			if !c.sub.Up() && ctx.Err() == nil {
				c.out.Async(say(c.lang, textLiveLost))
			}
		case <-c.sub.Connected():
			if !first {
				c.out.Async(say(c.lang, textReconnected))
			}
			first = false
			c.refill(ctx)
		}
	}
}

// receive prints one publication. A direct message to the user is printed
// at once, and one to another user of a joined channel's name is dropped.
// A post goes through the view, which drops duplicates and posts of
// channels not joined, and holds posts of a channel still joining.
func (c *Client) receive(d proto.Delivery) {
	m, err := c.session.Decode(d)
	if err != nil {
		c.log.Debug("publication dropped", "topic", d.Topic, "err", err)
		return
	}
	if m.Direct() {
		if c.subs.HasName(d.Topic) {
			c.out.Async(formatMessage(c.lang, "", m))
		}
		return
	}
	c.view.Deliver(m)
}

// refill reads the recent history of every joined channel and prints what
// was never shown.
func (c *Client) refill(ctx context.Context) {
	for _, channel := range c.view.Live() {
		c.refillChannel(ctx, channel)
	}
}

// Bounds of a refill of one channel: pages of refillLimit posts, at most
// refillPages of them. The seenLimit keys of a channel's view cover them,
// so no post of a refill shows twice.
const (
	refillLimit = 200
	refillPages = 10
)

// refillChannel reads the history of channel back to the newest post of
// its join's history, or refillPages pages, and prints the posts that
// were never shown.
func (c *Client) refillChannel(ctx context.Context, channel string) {
	floor, ok := c.view.Floor(channel)
	if !ok {
		return
	}
	var pages [][]Message
	query := HistoryQuery{Channel: channel, Limit: refillLimit}
	for range refillPages {
		page, err := c.session.History(ctx, query)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("history refill failed", "channel", channel, "err", err)
			}
			break
		}
		pages = append(pages, page.Messages)
		if page.Before == "" || len(page.Messages) == 0 || page.Messages[0].Clock <= floor {
			break
		}
		query.Before = page.Before
	}

	// Oldest first, as the pages hold them.
	var posts []Message
	for i := len(pages) - 1; i >= 0; i-- {
		posts = append(posts, pages[i]...)
	}
	c.view.Refill(channel, posts)
}

// joinRefillDelay is how long after a join its refill runs: long enough
// for the proxy to have applied the subscription the join sent.
const joinRefillDelay = time.Second

// joinedQueue bounds the joins waiting for their refill.
const joinedQueue = 64

// refillLater queues channel for dispatch to refill after joinRefillDelay.
// A join beyond joinedQueue waiting ones gets no refill.
func (c *Client) refillLater(channel string) {
	select {
	case c.joined <- channel:
	default:
	}
}
