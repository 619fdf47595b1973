package client

import (
	"context"
	"strings"

	"msgsys/proto"
)

// The actions below are shared by the menu and the slash commands. Each
// prints its result or its error; none returns one.

// login logs in as name and subscribes to the topics of direct messages
// to it, dropping those of the previous user. It subscribes to the name
// before it sends the login request, because the subscription travels
// through the proxy to every server and could miss a direct message sent
// right after the reply.
func (c *Client) login(ctx context.Context, name string) {
	ahead := ""
	if normalized, err := proto.NormalizeName(strings.TrimSpace(name)); err == nil && !c.subs.HasName(normalized) {
		ahead = normalized
		c.subs.AddName(ahead)
	}
	user, err := c.session.Login(ctx, strings.TrimSpace(name))
	if err != nil {
		if ahead != "" {
			c.subs.RemoveName(ahead)
		}
		c.fail(err)
		return
	}
	names := []string{user}
	// A server may publish direct messages on the name as first written,
	// which can differ in case from what was typed, so subscribe to both.
	// The client then shows that spelling, which the other users see.
	if users, err := c.session.Users(ctx); err == nil {
		if first, ok, _ := findFolded(users, user); ok && first != user {
			names = append(names, first)
			c.session.showAs(first)
			user = first
		}
	}
	c.subs.SetNames(names)
	// A conversation shown belongs to the previous user.
	if c.lastPage != nil && c.lastPage.Peer != "" {
		c.lastPage = nil
	}
	c.showMenu = true
	c.out.Line(say(c.lang, textWelcome, user))
}

// loggedIn reports whether a user is logged in, and prints a request to
// log in when none is.
func (c *Client) loggedIn() bool {
	if c.session.User() != "" {
		return true
	}
	c.out.Line(say(c.lang, textNotLoggedIn))
	return false
}

func (c *Client) listUsers(ctx context.Context) {
	users, err := c.session.Users(ctx)
	switch {
	case err != nil:
		c.fail(err)
	case len(users) == 0:
		c.out.Line(say(c.lang, textNoUsers))
	default:
		c.out.Line(say(c.lang, textUsers, len(users), strings.Join(users, ", ")))
	}
}

func (c *Client) listChannels(ctx context.Context) {
	channels, err := c.session.Channels(ctx)
	switch {
	case err != nil:
		c.fail(err)
	case len(channels) == 0:
		c.out.Line(say(c.lang, textNoChannels))
	default:
		c.out.Line(say(c.lang, textChannels, len(channels), "#"+strings.Join(channels, ", #")))
	}
}

func (c *Client) create(ctx context.Context, name string) {
	channel, err := c.session.CreateChannel(ctx, strings.TrimSpace(name))
	if err != nil {
		c.fail(err)
		return
	}
	c.out.Line(say(c.lang, textCreated, channel))
}

// post publishes text to channel. quiet leaves out the confirmation, for
// text typed in a joined channel, whose own publication shows it.
func (c *Client) post(ctx context.Context, channel, text string, quiet bool) {
	channel = strings.TrimSpace(channel)
	if _, err := c.session.Publish(ctx, channel, text); err != nil {
		c.fail(err)
		return
	}
	if !quiet {
		c.out.Line(say(c.lang, textPublished, strings.TrimPrefix(channel, "#")))
	}
}

// send sends text to the user typed as to, with or without a leading '@',
// and confirms it with the name as registered, which the other users see.
// The reply does not name the recipient, so the users list gives the
// registered spelling. The name as typed is shown when that list cannot be
// read.
func (c *Client) send(ctx context.Context, to, text string) {
	to = strings.TrimPrefix(strings.TrimSpace(to), "@")
	if !c.deliver(ctx, to, text) {
		return
	}
	registered := to
	if user, ok, err := c.session.FindUser(ctx, to); err == nil && ok {
		registered = user
	}
	c.out.Line(say(c.lang, textSent, registered))
}

// deliver sends text to the user to as a direct message and reports
// whether the server accepted it, printing the error when it did not.
func (c *Client) deliver(ctx context.Context, to, text string) bool {
	if _, err := c.session.Send(ctx, to, text); err != nil {
		c.fail(err)
		return false
	}
	return true
}

// join subscribes to a channel and shows its recent history, then its live
// posts. The subscription comes first, so a post published while the
// history is read is held and shown after it, once. With chat set, plain
// text goes to the channel afterwards.
func (c *Client) join(ctx context.Context, name string, chat bool) {
	if !c.loggedIn() {
		return
	}
	name = strings.TrimSpace(name)
	if channel, ok := c.view.Joined(name); ok {
		c.enter(channel, chat)
		return
	}
	channel, ok, err := c.session.FindChannel(ctx, name)
	if err != nil {
		c.fail(err)
		return
	}
	if !ok {
		bare := strings.TrimPrefix(name, "#")
		c.out.Line(say(c.lang, textNoSuchChannel, bare, bare))
		return
	}

	// ZeroMQ does not acknowledge subscriptions, so a post published after
	// the history reply but before the proxy applies the subscription
	// would be missed. The refill that follows the join shows it.
	defer c.refillLater(channel)
	c.view.Begin(channel)
	c.subs.AddChannel(channel)
	if c.cfg.HistoryLimit == 0 {
		// A request's limit of 0 would ask for the server's default. The
		// newest post, not shown, marks where live posts begin.
		page, err := c.session.History(ctx, HistoryQuery{Channel: channel, Limit: 1})
		if err != nil {
			c.log.Debug("newest post not read", "channel", channel, "err", err)
		}
		c.view.Finish(channel, page.Messages, false)
		c.enter(channel, chat)
		return
	}
	query := HistoryQuery{Channel: channel, Limit: c.cfg.HistoryLimit}
	page, err := c.session.History(ctx, query)
	if err != nil {
		c.out.Line(say(c.lang, textHistoryFailed, channel, err))
	} else {
		c.out.Line(say(c.lang, textHistoryChannel, channel))
		if len(page.Messages) == 0 {
			c.out.Line(say(c.lang, textHistoryEmpty))
		}
		// Above the page, where the older messages would be.
		if page.Before != "" {
			c.out.Line(say(c.lang, textHistoryOlder))
		}
		c.shownPage(query, page)
	}
	c.view.Finish(channel, page.Messages, true)
	c.enter(channel, chat)
}

// enter confirms a joined channel and, with chat set, makes it current.
func (c *Client) enter(channel string, chat bool) {
	if chat {
		c.current = channel
		c.out.Line(say(c.lang, textChatMode, channel))
		return
	}
	c.out.Line(say(c.lang, textSubscribed, channel))
}

// leave unsubscribes from a channel, the current one when name is empty.
func (c *Client) leave(name string) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = c.current
	}
	if name == "" {
		c.out.Line(say(c.lang, textNoCurrent))
		return
	}
	channel, ok := c.view.Leave(strings.TrimPrefix(name, "#"))
	if !ok {
		c.out.Line(say(c.lang, textNotJoined, strings.TrimPrefix(name, "#")))
		return
	}
	c.subs.RemoveChannel(channel)
	if proto.FoldName(c.current) == proto.FoldName(channel) {
		c.current = ""
		c.showMenu = true
	}
	c.out.Line(say(c.lang, textLeft, channel))
}
