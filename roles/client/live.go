package client

import (
	"context"

	"msgsys/proto"
)

// dispatch prints live publications until ctx is done, and after every
// reconnection to the proxy refills the joined channels from history,
// because publications sent while the connection was down are lost. It
// prints a notice when the connection is lost, so that silence is not
// taken for a quiet channel.
func (c *Client) dispatch(ctx context.Context) {
	first := true
	for {
		select {
		case <-ctx.Done():
			return
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
		page, err := c.session.History(ctx, HistoryQuery{Channel: channel, Limit: c.cfg.HistoryLimit})
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("history refill failed", "channel", channel, "err", err)
			}
			continue
		}
		c.view.Refill(channel, page.Messages)
	}
}
