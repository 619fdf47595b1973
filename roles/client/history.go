package client

import (
	"context"
	"strings"
)

// history prints the newest page of a channel's history, or with "@NAME"
// of the conversation with NAME. It first looks the channel or user up,
// so that an unknown one is reported the same way for both: a server
// returns an empty conversation with a user that does not exist.
func (c *Client) history(ctx context.Context, target string) {
	target = strings.TrimSpace(target)
	query := HistoryQuery{Limit: c.cfg.HistoryLimit}
	if peer, ok := strings.CutPrefix(target, "@"); ok {
		name, found := c.userExists(ctx, peer)
		if !found {
			return
		}
		query.Peer = name
	} else {
		name, found := c.channelExists(ctx, target)
		if !found {
			return
		}
		query.Channel = name
	}
	c.showPage(ctx, query)
}

// older prints the page before the history page shown last, of the same
// channel or conversation.
func (c *Client) older(ctx context.Context) {
	switch {
	case c.lastPage == nil:
		c.out.Line(say(c.lang, textOlderNothingShown))
	case c.lastPage.Before == "" && c.lastPage.Peer != "":
		c.out.Line(say(c.lang, textNoOlderPeer, c.lastPage.Peer))
	case c.lastPage.Before == "":
		c.out.Line(say(c.lang, textNoOlderChannel, c.lastPage.Channel))
	default:
		c.showPage(ctx, *c.lastPage)
	}
}

// showPage reads and prints one page of history, oldest message first,
// and remembers where the page before it starts.
func (c *Client) showPage(ctx context.Context, query HistoryQuery) {
	page, err := c.session.History(ctx, query)
	if err != nil {
		c.fail(err)
		return
	}

	if query.Peer != "" {
		c.out.Line(say(c.lang, textHistoryPeer, query.Peer))
	} else {
		c.out.Line(say(c.lang, textHistoryChannel, query.Channel))
	}
	// Above the page, where the older messages would be, as on joining.
	if page.Before != "" {
		c.out.Line(say(c.lang, textHistoryOlder))
	}
	self := c.session.User()
	for _, m := range page.Messages {
		c.out.Line(formatMessage(c.lang, self, m))
	}
	if len(page.Messages) == 0 {
		c.out.Line(say(c.lang, textHistoryEmpty))
	}
	if page.Skipped > 0 {
		c.out.Line(say(c.lang, textHistorySkipped, page.Skipped))
	}
	c.shownPage(query, page)
}

// shownPage records that page, read with query, is the history page shown
// last, so that /older reads the page before it.
func (c *Client) shownPage(query HistoryQuery, page HistoryPage) {
	query.Before = page.Before
	c.lastPage = &query
}
