// Package bot is a simulated user: it logs in, then keeps posting chat-like
// sentences to random channels and now and then a direct message to a
// random user, to load and demonstrate a msgsys deployment.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/client"
	"msgsys/roles/common"
)

// DefaultChannel is created when a bot finds no channel at all.
const DefaultChannel = "geral"

// Config configures a Bot.
type Config struct {
	Broker       string        // the broker's client endpoint
	Sub          string        // the proxy's subscriber endpoint
	User         string        // the bot's name; "bot_" and 4 random digits when empty
	Messages     int           // posts per round, at least 1
	Interval     time.Duration // pause after each post
	Seed         int64         // seed of every random choice; 0 takes one from the time
	Lang         string        // language of the posts and of New's errors, lang.PT or lang.EN. When empty, lang.Pick reads LANG.
	Timeout      time.Duration // wait for each reply
	DirectChance float64       // probability, per round, of one direct message
	RetryMin     time.Duration // first pause after a failed request
	RetryMax     time.Duration // maximum pause between retries
	Log          *slog.Logger
	Clocks       proto.Clocks
}

// DefaultConfig returns the configuration of the standard deployment on
// this machine.
func DefaultConfig() Config {
	defaults := client.DefaultConfig()
	return Config{
		Broker:       defaults.Broker,
		Sub:          defaults.Sub,
		Messages:     10,
		Interval:     time.Second,
		Timeout:      defaults.Timeout,
		DirectChance: 0.3,
		RetryMin:     100 * time.Millisecond,
		RetryMax:     5 * time.Second,
		Clocks:       proto.NewClocks(),
	}
}

// Bot is one simulated user.
type Bot struct {
	cfg       Config
	log       *slog.Logger
	seed      int64
	rng       *rand.Rand // used by Run's goroutine only
	sentences []string
	session   *client.Session
	sub       *proto.Subscriber
	delay     time.Duration // current retry pause, RetryMin after a success
}

// New validates cfg and builds a Bot. It binds and dials nothing.
func New(cfg Config) (*Bot, error) {
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	if cfg.User == "" {
		cfg.User = fmt.Sprintf("bot_%04d", rng.IntN(10000))
	}
	l := lang.Pick(cfg.Lang)
	log := cfg.Log.With("user", cfg.User)
	return &Bot{
		cfg:       cfg,
		log:       log,
		seed:      seed,
		rng:       rng,
		sentences: sentences(l),
		// The session's errors go only to the log, which is in English
		// like every other log line, whatever the language of the posts.
		session: client.NewSession(client.SessionConfig{
			Broker:  cfg.Broker,
			Timeout: cfg.Timeout,
			Lang:    lang.EN,
			Clocks:  cfg.Clocks,
		}),
		sub:   proto.NewSubscriber(cfg.Sub, log),
		delay: cfg.RetryMin,
	}, nil
}

// Errors of the configuration, which name the command's flags.
var (
	textEndpointInvalid = lang.Text{
		PT: "bot: %s inválido: %q; use tcp://HOST:PORTA com uma porta de 1 a 65535",
		EN: "bot: invalid %s %q: use tcp://HOST:PORT with a port from 1 to 65535",
	}
	textUserInvalid = lang.Text{
		PT: "bot: --user inválido: %w",
		EN: "bot: invalid --user: %w",
	}
	textMessagesInvalid = lang.Text{
		PT: "bot: --messages precisa ser pelo menos 1, e não %d",
		EN: "bot: --messages must be at least 1, not %d",
	}
	textIntervalInvalid = lang.Text{
		PT: "bot: --interval precisa ser 0 ou mais, como 1s, e não %v",
		EN: "bot: --interval must be 0 or more, such as 1s, not %v",
	}
	textTimeoutInvalid = lang.Text{
		PT: "bot: --timeout precisa ser positivo, como 5s, e não %v",
		EN: "bot: --timeout must be positive, such as 5s, not %v",
	}
	textDirectChanceInvalid = lang.Text{
		PT: "bot: --direct-chance precisa estar entre 0 e 1, e não %v",
		EN: "bot: --direct-chance must be between 0 and 1, not %v",
	}
)

// validate checks cfg and fills its optional fields. Its errors name the
// command's flags in the language of cfg.Lang, because a person reads them
// at start.
func validate(cfg *Config) error {
	l := lang.Pick(cfg.Lang)
	for _, endpoint := range []struct{ flag, value string }{{"--broker", cfg.Broker}, {"--sub", cfg.Sub}} {
		if !common.Dialable(endpoint.value) {
			return fmt.Errorf(textEndpointInvalid.In(l), endpoint.flag, endpoint.value)
		}
	}
	// The servers reject the name that the session rejects, so a bot
	// with an invalid name could only retry its login for ever.
	if cfg.User != "" {
		if err := client.ValidateUser(cfg.User, l); err != nil {
			return fmt.Errorf(textUserInvalid.In(l), err)
		}
	}
	switch {
	case cfg.Messages < 1:
		return fmt.Errorf(textMessagesInvalid.In(l), cfg.Messages)
	case cfg.Interval < 0:
		return fmt.Errorf(textIntervalInvalid.In(l), cfg.Interval)
	case cfg.Timeout <= 0:
		return fmt.Errorf(textTimeoutInvalid.In(l), cfg.Timeout)
	case cfg.DirectChance < 0 || cfg.DirectChance > 1:
		return fmt.Errorf(textDirectChanceInvalid.In(l), cfg.DirectChance)
	case cfg.RetryMin <= 0 || cfg.RetryMax < cfg.RetryMin:
		// Config fields without flags: only a program sets them.
		return fmt.Errorf("bot: RetryMin %v must be positive and at most RetryMax %v", cfg.RetryMin, cfg.RetryMax)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clocks.Lamport == nil || cfg.Clocks.Physical == nil {
		cfg.Clocks = proto.NewClocks()
	}
	return nil
}

// User is the bot's name.
func (b *Bot) User() string { return b.cfg.User }

// Run logs in and posts until ctx is cancelled. Failed requests are logged
// and retried with backoff; Run returns nil once every goroutine it
// started has stopped. It may be called once.
func (b *Bot) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	wg.Go(func() { b.sub.Run(ctx) })
	wg.Go(func() { b.cfg.Clocks.Physical.Run(ctx) })
	wg.Go(func() { b.watch(ctx) })

	b.log.Info("bot started", "seed", b.seed, "messages", b.cfg.Messages, "interval", b.cfg.Interval)
	b.loop(ctx)

	cancel()
	wg.Wait()
	b.session.Close()
	b.log.Info("bot stopped")
	return nil
}

// loop logs in, then runs rounds until ctx is done. It subscribes to its
// own name first, so that the subscription reaches the servers before a
// direct message sent just after the login.
func (b *Bot) loop(ctx context.Context) {
	b.sub.Subscribe(b.cfg.User)
	for !b.attempt(ctx, "login", func() error {
		_, err := b.session.Login(ctx, b.cfg.User)
		return err
	}) {
		if !b.pause(ctx, b.backoff()) {
			return
		}
	}
	b.log.Info("bot login")
	b.subscribeRegisteredName(ctx)

	current := ""
	for ctx.Err() == nil {
		channel, ok := b.pickChannel(ctx)
		if !ok {
			return
		}
		if channel != current {
			if current != "" {
				b.sub.Unsubscribe(current)
			}
			b.sub.Subscribe(channel)
			current = channel
			b.log.Info("bot join", "channel", channel)
		}
		b.round(ctx, channel)
		if ctx.Err() == nil && b.rng.Float64() < b.cfg.DirectChance {
			b.direct(ctx)
		}
	}
}

// subscribeRegisteredName subscribes to the bot's name as it was first
// registered when that differs in case from Config.User, because servers
// publish direct messages on that form. When the lookup fails, the bot
// misses those messages, which it would only log.
func (b *Bot) subscribeRegisteredName(ctx context.Context) {
	registered, ok, err := b.session.FindUser(ctx, b.cfg.User)
	if err == nil && ok && registered != b.cfg.User {
		b.sub.Subscribe(registered)
	}
}

// round posts Messages sentences to channel, pausing Interval after each.
func (b *Bot) round(ctx context.Context, channel string) {
	for range b.cfg.Messages {
		text := b.sentences[b.rng.IntN(len(b.sentences))]
		b.attempt(ctx, "post", func() error {
			receipt, err := b.session.Publish(ctx, channel, text)
			if err == nil {
				b.log.Info("bot post", "channel", channel, "clock", receipt.Clock)
			}
			return err
		})
		if !b.pause(ctx, b.cfg.Interval) {
			return
		}
	}
}

// channelExists reports whether the channel list names channel, in any
// case, as servers compare channel names. A failed list counts as no.
func (b *Bot) channelExists(ctx context.Context, channel string) bool {
	_, ok, err := b.session.FindChannel(ctx, channel)
	return err == nil && ok
}

// pickChannel returns a random channel, creating DefaultChannel when there
// is none. ok is false when ctx ended first.
func (b *Bot) pickChannel(ctx context.Context) (string, bool) {
	for ctx.Err() == nil {
		var channels []string
		ok := b.attempt(ctx, "channels", func() (err error) {
			channels, err = b.session.Channels(ctx)
			return err
		})
		if ok && len(channels) > 0 {
			return channels[b.rng.IntN(len(channels))], true
		}
		if ok {
			ok = b.attempt(ctx, "create", func() error {
				_, err := b.session.CreateChannel(ctx, DefaultChannel)
				switch {
				case err == nil:
					b.log.Info("bot create", "channel", DefaultChannel)
				case errors.Is(err, client.ErrRejected) && b.channelExists(ctx, DefaultChannel):
					// Bots started together race to create it, and one
					// loses as expected.
					b.log.Info("bot channel created by another client", "channel", DefaultChannel)
					return nil
				}
				return err
			})
			if ok {
				return DefaultChannel, true
			}
		}
		// Another bot may have created the channel meanwhile: list again.
		if !b.pause(ctx, b.backoff()) {
			break
		}
	}
	return "", false
}

// direct sends a sentence to a random other user, if there is one.
func (b *Bot) direct(ctx context.Context) {
	var users []string
	if !b.attempt(ctx, "users", func() (err error) {
		users, err = b.session.Users(ctx)
		return err
	}) {
		return
	}
	self := proto.FoldName(b.cfg.User)
	others := users[:0]
	for _, user := range users {
		if proto.FoldName(user) != self {
			others = append(others, user)
		}
	}
	if len(others) == 0 {
		return
	}
	to := others[b.rng.IntN(len(others))]
	text := b.sentences[b.rng.IntN(len(b.sentences))]
	b.attempt(ctx, "message", func() error {
		receipt, err := b.session.Send(ctx, to, text)
		if err == nil {
			b.log.Info("bot message", "to", to, "clock", receipt.Clock)
		}
		return err
	})
}

// attempt runs request until it succeeds, the server rejects it, or ctx
// ends, pausing with backoff while the broker is unavailable. It reports
// whether the request succeeded.
func (b *Bot) attempt(ctx context.Context, action string, request func() error) bool {
	for {
		err := request()
		switch {
		case err == nil:
			b.delay = b.cfg.RetryMin
			return true
		case ctx.Err() != nil:
			return false
		case errors.Is(err, client.ErrRejected), errors.Is(err, client.ErrInvalid), errors.Is(err, client.ErrNotLoggedIn):
			b.log.Warn("bot request rejected", "action", action, "err", err)
			return false
		}
		delay := b.backoff()
		b.log.Warn("bot request failed", "action", action, "retry_in", delay, "err", err)
		if !b.pause(ctx, delay) {
			return false
		}
	}
}

// backoff returns the current retry pause and doubles the next, up to
// RetryMax.
func (b *Bot) backoff() time.Duration {
	delay := b.delay
	b.delay = min(b.delay*2, b.cfg.RetryMax)
	return delay
}

// pause waits d and reports whether ctx is still live.
func (b *Bot) pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// watch logs received publications at debug level until ctx is done.
func (b *Bot) watch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case d, ok := <-b.sub.Deliveries():
			if !ok {
				return
			}
			m, err := b.session.Decode(d)
			if err != nil {
				b.log.Debug("bot publication dropped", "topic", d.Topic, "err", err)
				continue
			}
			b.log.Debug("bot received", "topic", d.Topic, "channel", m.Channel, "from", m.From, "clock", m.Clock, "text", m.Text)
		}
	}
}
