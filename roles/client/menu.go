package client

import (
	"context"
	"strings"

	"msgsys/lang"
)

// printMenu shows the numbered menu: only logging in and quitting before
// login, every action after.
func (c *Client) printMenu() {
	user := c.session.User()
	if user == "" {
		c.out.Line(strings.Join([]string{
			say(c.lang, textMenuTitle),
			say(c.lang, textMenuLogin),
			say(c.lang, textMenuQuit),
			say(c.lang, textMenuHint),
		}, "\n"))
		return
	}
	items := []lang.Text{textMenuRelogin, textMenuUsers, textMenuCreate, textMenuChannels,
		textMenuPost, textMenuDirect, textMenuJoin, textMenuQuit, textMenuHint}
	lines := []string{say(c.lang, textMenuTitleUser, user)}
	for _, item := range items {
		lines = append(lines, say(c.lang, item))
	}
	c.out.Line(strings.Join(lines, "\n"))
}

// menu runs the menu option choice, asking for each value on its own
// prompt.
func (c *Client) menu(ctx context.Context, choice string) {
	switch choice {
	case "0":
		c.quit = true
		return
	case "1":
		if name, ok := c.ask(ctx, textPromptName); ok {
			c.login(ctx, name)
		}
		return
	case "2", "3", "4", "5", "6", "7":
		if !c.loggedIn() {
			return
		}
	default:
		c.out.Line(say(c.lang, textInvalidOption, choice))
		return
	}

	c.showMenu = true
	switch choice {
	case "2":
		c.listUsers(ctx)
	case "3":
		if name, ok := c.ask(ctx, textPromptNewName); ok {
			c.create(ctx, name)
		}
	case "4":
		c.listChannels(ctx)
	case "5":
		channel, ok := c.ask(ctx, textPromptChannel)
		if !ok {
			return
		}
		if _, found := c.channelExists(ctx, channel); !found {
			return
		}
		if text, ok := c.ask(ctx, textPromptText); ok {
			c.post(ctx, channel, text, false)
		}
	case "6":
		to, ok := c.ask(ctx, textPromptRecipient)
		if !ok {
			return
		}
		user, found := c.userExists(ctx, to)
		if !found {
			return
		}
		// The lookup gave the name as registered, so the confirmation
		// needs no second one.
		if text, ok := c.ask(ctx, textPromptText); ok && c.deliver(ctx, user, text) {
			c.out.Line(say(c.lang, textSent, user))
		}
	case "7":
		if name, ok := c.ask(ctx, textPromptChannel); ok {
			c.join(ctx, name, false)
		}
	}
}

// channelExists returns the channel's name as it was first written, and
// prints the reason when there is no such channel. The menu calls it before
// it prompts for the message, so that a misspelt channel does not cost the
// message typed.
func (c *Client) channelExists(ctx context.Context, name string) (string, bool) {
	channel, ok, err := c.session.FindChannel(ctx, strings.TrimSpace(name))
	switch {
	case err != nil:
		c.fail(err)
	case !ok:
		bare := strings.TrimPrefix(strings.TrimSpace(name), "#")
		c.out.Line(say(c.lang, textNoSuchChannel, bare, bare))
	}
	return channel, err == nil && ok
}

// userExists returns the user's name as it was first written, and prints
// the reason when no such user is registered. The menu calls it before it
// prompts for the message, as it calls channelExists.
func (c *Client) userExists(ctx context.Context, name string) (string, bool) {
	user, ok, err := c.session.FindUser(ctx, strings.TrimSpace(name))
	switch {
	case err != nil:
		c.fail(err)
	case !ok:
		c.out.Line(say(c.lang, textNoSuchUser, strings.TrimPrefix(strings.TrimSpace(name), "@")))
	}
	return user, err == nil && ok
}
