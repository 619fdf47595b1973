package client

import (
	"context"
	"strings"

	"msgsys/lang"
)

// command runs a slash command line such as "/msg bob oi tudo bem". The
// command name is case-insensitive; the text of /msg and /post is kept as
// typed after the single space that ends the name before it.
func (c *Client) command(ctx context.Context, line string) {
	name, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimLeft(rest, " \t")
	arg := strings.TrimSpace(rest)

	switch strings.ToLower(name) {
	case "/login":
		if !c.usage(arg != "", usageLogin) {
			return
		}
		c.login(ctx, arg)
	case "/join", "/j":
		if !c.usage(arg != "", usageJoin) {
			return
		}
		c.join(ctx, arg, true)
	case "/leave", "/part":
		c.leave(arg)
	case "/msg":
		to, text, ok := cutWord(rest)
		if !c.usage(ok, usageMsg) || !c.loggedIn() {
			return
		}
		c.send(ctx, to, text)
	case "/post":
		channel, text, ok := cutWord(rest)
		if !c.usage(ok, usagePost) || !c.loggedIn() {
			return
		}
		c.post(ctx, channel, text, false)
	case "/users":
		c.listUsers(ctx)
	case "/channels":
		c.listChannels(ctx)
	case "/create":
		if !c.usage(arg != "", usageCreate) || !c.loggedIn() {
			return
		}
		c.create(ctx, arg)
	case "/history":
		if !c.usage(arg != "", usageHistory) || !c.loggedIn() {
			return
		}
		c.history(ctx, arg)
	case "/older", "/antigas":
		if !c.usage(arg == "", usageOlder) {
			return
		}
		c.older(ctx)
	case "/menu":
		if c.current != "" {
			c.current = ""
			c.out.Line(say(c.lang, textMenuMode))
		}
		c.showMenu = true
	case "/help", "/ajuda":
		c.out.Line(wrapWords(say(c.lang, textHelp), c.width()))
	case "/quit", "/exit", "/sair":
		c.quit = true
	default:
		c.out.Line(say(c.lang, textUnknownCommand, name))
	}
}

// usage prints the command's usage line when ok is false, and returns ok.
func (c *Client) usage(ok bool, usage lang.Text) bool {
	if !ok {
		c.out.Line(say(c.lang, textUsage, usage.In(c.lang)))
	}
	return ok
}

// cutWord splits "bob oi tudo bem" into "bob" and "oi tudo bem". ok is
// false when either part is empty.
func cutWord(s string) (word, rest string, ok bool) {
	word, rest, _ = strings.Cut(strings.TrimLeft(s, " \t"), " ")
	return word, rest, word != "" && strings.TrimSpace(rest) != ""
}
