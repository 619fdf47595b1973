// Package client is the interactive msgsys client: a numbered menu and
// slash commands over the client services of the broker, with live channel
// posts and direct messages printed as they arrive. Its Session type wraps
// the requests for other programs, such as the bot and end-to-end tests.
package client

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/common"
)

// Config configures a Client.
type Config struct {
	Broker       string        // the broker's client endpoint (REQ side)
	Sub          string        // the proxy's subscriber endpoint (XPUB side)
	User         string        // when set, log in as this user at start
	Lang         string        // lang.PT or lang.EN; when empty, lang.Pick reads LANG
	Timeout      time.Duration // wait for each reply; one retry may double it
	HistoryLimit int           // posts shown when joining a channel, 0 for none, at most proto.HistoryMaxLimit
	In           io.Reader     // lines typed by the person
	Out          io.Writer     // everything the person reads
	Terminal     bool          // In is a terminal: prompts are redrawn around live messages
	Log          *slog.Logger  // diagnostics, not for the person at the keyboard
	Clocks       proto.Clocks  // the process's clocks

	// Editor, with Terminal, has the client edit the typed line itself,
	// so that a live message no longer hides what is being typed. The
	// caller puts the terminal in raw mode first. Width is its columns.
	Editor bool
	Width  int

	// WaitNotice, with Terminal, is how long a request waits for its
	// reply before the client shows that it is waiting. DefaultWaitNotice
	// when zero.
	WaitNotice time.Duration
}

// DefaultConfig returns the configuration of the standard deployment on
// this machine, reading stdin and writing stdout, not as a terminal.
func DefaultConfig() Config {
	return Config{
		Broker:       "tcp://127.0.0.1:5555",
		Sub:          "tcp://127.0.0.1:5558",
		Timeout:      DefaultTimeout,
		HistoryLimit: proto.HistoryDefaultLimit,
		In:           os.Stdin,
		Out:          os.Stdout,
		Clocks:       proto.NewClocks(),
	}
}

// IsTerminal reports whether f is a character device, such as a terminal,
// rather than a pipe or a file.
func IsTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// Client is one person's interactive session.
type Client struct {
	cfg     Config
	lang    string
	log     *slog.Logger
	session *Session
	sub     *proto.Subscriber
	subs    *subscriptions // the topics of sub and why each is needed
	out     *printer
	view    *view
	editor  *lineEditor // nil unless Config.Editor
	keys    *keySource  // the editor's reader; nil unless Config.Editor

	// State of the main loop, touched only by the goroutine running Run.
	lines    <-chan string
	current  string // channel that plain text goes to; "" shows the menu
	showMenu bool   // print the menu before the next prompt
	quit     bool
	// lastPage selects the page before the history page shown last, for
	// /older. It is nil until a page is shown, and its Before is empty
	// when that page was the oldest.
	lastPage *HistoryQuery

	prompts chan<- string // with an editor, requests the next line from the reader

	// joined passes each channel joined to dispatch, which refills it
	// once joinRefillDelay later (see Client.join).
	joined chan string
}

// New validates cfg and builds a Client. It binds and dials nothing: the
// broker is dialled on the first request, the proxy by Run.
func New(cfg Config) (*Client, error) {
	l := lang.Pick(cfg.Lang)
	if err := validate(&cfg, l); err != nil {
		return nil, err
	}
	out := newPrinter(cfg.Out, cfg.Terminal)
	if cfg.Terminal {
		out.enableWaitNotice(textWaiting.In(l), cmp.Or(cfg.WaitNotice, DefaultWaitNotice))
	}
	sub := proto.NewSubscriber(cfg.Sub, cfg.Log)
	var editor *lineEditor
	var keys *keySource
	if cfg.Editor {
		keys = newKeySource(cfg.In)
		editor = newEditor(keys, cfg.Out, cfg.Width)
		out.editor = editor
	}
	return &Client{
		cfg:  cfg,
		lang: l,
		log:  cfg.Log,
		session: NewSession(SessionConfig{
			Broker:  cfg.Broker,
			Timeout: cfg.Timeout,
			Lang:    l,
			Clocks:  cfg.Clocks,
		}),
		sub:    sub,
		subs:   newSubscriptions(sub),
		out:    out,
		joined: make(chan string, joinedQueue),
		view:   newView(l, out),

		editor: editor,
		keys:   keys,
	}, nil
}

// validate checks cfg and fills its optional fields. Its errors name the
// command's flags in language l, because a person reads them at start.
func validate(cfg *Config, l string) error {
	for _, endpoint := range []struct{ flag, value string }{{"--broker", cfg.Broker}, {"--sub", cfg.Sub}} {
		if !common.Dialable(endpoint.value) {
			return fmt.Errorf(textEndpointInvalid.In(l), endpoint.flag, endpoint.value)
		}
	}
	if cfg.Timeout <= 0 {
		return fmt.Errorf(textTimeoutInvalid.In(l), cfg.Timeout)
	}
	if cfg.HistoryLimit < 0 || cfg.HistoryLimit > proto.HistoryMaxLimit {
		return fmt.Errorf(textHistoryLimitInvalid.In(l), proto.HistoryMaxLimit, cfg.HistoryLimit)
	}
	if cfg.In == nil || cfg.Out == nil {
		return errors.New("client: In and Out must be set")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clocks.Lamport == nil || cfg.Clocks.Physical == nil {
		cfg.Clocks = proto.NewClocks()
	}
	return nil
}

// Session is the client's request layer.
func (c *Client) Session() *Session { return c.session }

// Run shows the menu and serves the person until they quit, In reaches its
// end, or ctx is cancelled. It may be called once.
//
// NOTE: the goroutine reading In stays blocked in its read when Run returns
// on cancellation, because a read from a terminal cannot be interrupted. It
// ends at the next line or at the end of In; every other goroutine has
// stopped when Run returns.
func (c *Client) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	wg.Go(func() { c.sub.Run(ctx) })
	wg.Go(func() { c.cfg.Clocks.Physical.Run(ctx) })
	wg.Go(func() { c.dispatch(ctx) })

	lines := make(chan string)
	c.lines = lines
	if c.editor != nil {
		prompts := make(chan string)
		c.prompts = prompts
		go c.keys.Run(ctx)
		go c.readEdited(ctx, cancel, prompts, lines)
	} else {
		go c.read(ctx, lines)
	}

	c.loop(ctx)

	cancel()
	wg.Wait()
	c.session.Close()
	return nil
}

// read sends each line of In to lines, without its line ending, and closes
// lines at the end of In.
func (c *Client) read(ctx context.Context, lines chan<- string) {
	defer close(lines)
	reader := bufio.NewReader(c.cfg.In)
	for {
		line, err := reader.ReadString('\n')
		if line != "" {
			select {
			case lines <- strings.TrimRight(line, "\r\n"):
			case <-ctx.Done():
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.log.Warn("input read failed", "err", err)
			}
			return
		}
	}
}

// loop is the main loop: it prompts, reads a line and acts on it.
func (c *Client) loop(ctx context.Context) {
	c.out.Line(say(c.lang, textBanner))
	if c.cfg.User != "" {
		c.login(ctx, c.cfg.User)
	}
	c.showMenu = true
	for !c.quit {
		prompt := say(c.lang, textPromptOption)
		if c.current != "" {
			prompt = "#" + c.current + "> "
		} else if c.showMenu {
			c.printMenu()
			c.showMenu = false
		}
		line, ok := c.next(ctx, prompt)
		if !ok {
			break
		}
		c.handle(ctx, line)
	}
	c.out.Close(say(c.lang, textBye))
}

// handle acts on one line typed at the main prompt.
func (c *Client) handle(ctx context.Context, line string) {
	trimmed := strings.TrimSpace(line)
	switch {
	case trimmed == "":
	case strings.HasPrefix(trimmed, "/"):
		c.command(ctx, trimmed)
	case c.current != "":
		c.post(ctx, c.current, line, true)
	default:
		c.menu(ctx, trimmed)
	}
}

// next shows prompt and waits for a line. It returns false, and sets quit,
// at the end of input or on cancellation.
func (c *Client) next(ctx context.Context, prompt string) (string, bool) {
	c.out.Prompt(prompt)
	if c.prompts != nil {
		select {
		case c.prompts <- prompt:
		case <-c.lines: // the reader has ended
			c.out.Answered()
			c.quit = true
			return "", false
		case <-ctx.Done():
			c.out.Answered()
			c.quit = true
			return "", false
		}
	}
	select {
	case line, ok := <-c.lines:
		c.out.Answered()
		if !ok {
			c.quit = true
		}
		return line, ok
	case <-ctx.Done():
		c.out.Answered()
		c.quit = true
		return "", false
	}
}

// ask prompts for one value of a menu action. It returns false when the
// action must stop: an empty line cancels it, and a slash command replaces
// it (the command runs).
func (c *Client) ask(ctx context.Context, prompt lang.Text) (string, bool) {
	line, ok := c.next(ctx, say(c.lang, prompt))
	if !ok {
		return "", false
	}
	trimmed := strings.TrimSpace(line)
	switch {
	case trimmed == "":
		c.out.Line(say(c.lang, textCancelled))
		return "", false
	case strings.HasPrefix(trimmed, "/"):
		c.command(ctx, trimmed)
		return "", false
	}
	return line, true
}

// fail shows an error from a Session call. Cancellation means the client
// is stopping, which needs no message.
func (c *Client) fail(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	c.log.Debug("request failed", "err", err)
	c.out.Line(printable(err.Error()))
}
