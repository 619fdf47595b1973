package bot

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/client/clienttest"
)

type logBuffer = testkit.Buffer

const waitTimeout = 5 * time.Second

// running is a bot started by startBot.
type running struct {
	bot    *Bot
	logs   *logBuffer
	cancel context.CancelFunc
	done   chan struct{}
}

func testConfig(srv *clienttest.Server) Config {
	cfg := DefaultConfig()
	cfg.Broker, cfg.Sub = srv.Broker(), srv.Sub()
	cfg.Messages = 3
	cfg.Interval = 5 * time.Millisecond
	cfg.Seed = 1
	cfg.Lang = lang.PT
	cfg.Timeout = 300 * time.Millisecond
	cfg.DirectChance = 0
	cfg.RetryMin = 10 * time.Millisecond
	cfg.RetryMax = 100 * time.Millisecond
	return cfg
}

func startBot(t *testing.T, cfg Config) *running {
	t.Helper()
	logs := &logBuffer{}
	cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{bot: b, logs: logs, cancel: cancel, done: make(chan struct{})}
	go func() {
		if err := b.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
		if t.Failed() {
			t.Logf("bot logs:\n%s", logs.String())
		}
	})
	return r
}

// stop cancels the bot and fails unless Run returns within a second.
func (r *running) stop(t *testing.T) {
	t.Helper()
	start := time.Now()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(time.Second):
		t.Fatalf("bot did not stop within a second")
	}
	t.Logf("bot stopped in %v", time.Since(start))
}

// eventually polls cond until it holds or waitTimeout passes.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(waitTimeout)
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-ticker.C
	}
	return true
}

func TestBotCreatesGeralAndPosts(t *testing.T) {
	srv := clienttest.Start(t)
	r := startBot(t, testConfig(srv))
	user := r.bot.User()

	if !eventually(func() bool { return len(srv.Posts(DefaultChannel)) >= 3 }) {
		t.Fatalf("bot posted %d times to geral, want 3", len(srv.Posts(DefaultChannel)))
	}
	r.stop(t)

	if got := srv.Channels(); !slices.Equal(got, []string{DefaultChannel}) {
		t.Errorf("channels = %v, want [geral]", got)
	}
	if !strings.HasPrefix(user, "bot_") || len(user) != len("bot_1234") {
		t.Errorf("user = %q, want bot_ and 4 digits", user)
	}
	for _, p := range srv.Posts(DefaultChannel) {
		if p.User != user {
			t.Errorf("post by %q, want %q", p.User, user)
		}
		if !slices.Contains(sentencesPT, p.Message) {
			t.Errorf("post %q is not one of the Portuguese sentences", p.Message)
		}
	}
	logs := r.logs.String()
	for _, want := range []string{"msg=\"bot login\" user=" + user, "msg=\"bot create\"", "msg=\"bot post\" user=" + user + " channel=geral clock=", "msg=\"bot stopped\""} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestBotLosesCreateRaceQuietly(t *testing.T) {
	srv := clienttest.Start(t)
	// Another bot creates geral between this bot's list and its creation.
	srv.OnCreate(func(channel string) { srv.AddChannel(channel) })
	r := startBot(t, testConfig(srv))

	if !eventually(func() bool { return len(srv.Posts(DefaultChannel)) >= 1 }) {
		t.Fatal("bot did not post to geral after losing the race to create it")
	}
	r.stop(t)

	logs := r.logs.String()
	if !strings.Contains(logs, `msg="bot channel created by another client"`) {
		t.Errorf("logs lack the lost race:\n%s", logs)
	}
	if strings.Contains(logs, "level=WARN") {
		t.Errorf("a lost race logged a warning:\n%s", logs)
	}
}

// TestBotLosesCreateRaceToOtherCase lets another client create "Geral"
// between the bot's list and its creation of "geral". Channel names are
// unique regardless of case, so the bot must find the channel and post.
func TestBotLosesCreateRaceToOtherCase(t *testing.T) {
	srv := clienttest.Start(t)
	srv.OnCreate(func(string) { srv.AddChannel("Geral") })
	r := startBot(t, testConfig(srv))

	if !eventually(func() bool { return len(srv.Posts(DefaultChannel)) >= 1 }) {
		t.Fatalf("bot did not post to Geral after losing the race to create it:\n%s", r.logs.String())
	}
	r.stop(t)

	logs := r.logs.String()
	if !strings.Contains(logs, `msg="bot channel created by another client"`) {
		t.Errorf("logs lack the lost race:\n%s", logs)
	}
	if strings.Contains(logs, "level=WARN") {
		t.Errorf("a race lost to another case logged a warning:\n%s", logs)
	}
}

// TestBotSubscribesToRegisteredCase starts a bot named "robo"
// whose name was first registered as "ROBO". Servers publish its direct
// messages on the topic "ROBO", which the bot must subscribe to.
func TestBotSubscribesToRegisteredCase(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddUser("ROBO")
	cfg := testConfig(srv)
	cfg.User = "robo"
	cfg.Interval = time.Hour
	r := startBot(t, cfg)

	if !eventually(func() bool { return srv.Subscribed("ROBO") }) {
		t.Fatalf("bot did not subscribe to its name as registered, ROBO:\n%s", r.logs.String())
	}
	r.stop(t)
}

func TestBotPostsEnglishSentences(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddChannel("estudos")
	cfg := testConfig(srv)
	cfg.Lang = lang.EN
	r := startBot(t, cfg)
	if !eventually(func() bool { return len(srv.Posts("estudos")) >= 2 }) {
		t.Fatal("bot did not post to the only channel")
	}
	r.stop(t)
	for _, p := range srv.Posts("estudos") {
		if !slices.Contains(sentencesEN, p.Message) {
			t.Errorf("post %q is not one of the English sentences", p.Message)
		}
	}
	if got := srv.Channels(); len(got) != 1 {
		t.Errorf("channels = %v; the bot created one although one existed", got)
	}
}

func TestBotSendsDirectMessages(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddUser("ana")
	cfg := testConfig(srv)
	cfg.User = "robo"
	cfg.Messages = 1
	cfg.DirectChance = 1
	r := startBot(t, cfg)

	if !eventually(func() bool { return len(srv.Directs()) >= 2 }) {
		t.Fatal("bot sent no direct messages")
	}
	r.stop(t)
	for _, d := range srv.Directs() {
		if d.Src != "robo" || d.Dst != "ana" {
			t.Errorf("direct message %s → %s, want robo → ana", d.Src, d.Dst)
		}
	}
	if !strings.Contains(r.logs.String(), "msg=\"bot message\" user=robo to=ana clock=") {
		t.Errorf("logs lack the direct message:\n%s", r.logs.String())
	}
}

func TestBotLogsReceivedPublications(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddChannel("geral")
	cfg := testConfig(srv)
	cfg.Interval = time.Hour
	r := startBot(t, cfg)
	if !eventually(func() bool { return srv.Subscribed("geral") }) {
		t.Fatal("bot did not subscribe to the channel it posts to")
	}
	srv.Post("geral", "ana", "olá, bot")
	if !eventually(func() bool { return strings.Contains(r.logs.String(), `text="olá, bot"`) }) {
		t.Fatalf("publication not logged:\n%s", r.logs.String())
	}
	if !strings.Contains(r.logs.String(), "level=DEBUG msg=\"bot received\"") {
		t.Errorf("publication not logged at debug")
	}
	// The bot is in its hour-long pause: it must still stop at once.
	r.stop(t)
}

func TestBotRetriesUntilBrokerReturns(t *testing.T) {
	srv := clienttest.Start(t)
	srv.Stop()
	r := startBot(t, testConfig(srv))
	if !eventually(func() bool { return strings.Contains(r.logs.String(), "bot request failed") }) {
		t.Fatal("bot logged no failure while the broker was down")
	}

	srv.Restart(t)
	if !eventually(func() bool { return len(srv.Posts(DefaultChannel)) >= 1 }) {
		t.Fatalf("bot did not post after the broker returned:\n%s", r.logs.String())
	}
	r.stop(t)
	logs := r.logs.String()
	if !strings.Contains(logs, "action=login") {
		t.Errorf("failure log lacks the action:\n%s", logs)
	}
	if !strings.Contains(logs, `err="client: broker unavailable: proto: endpoint unreachable`) {
		t.Errorf("failure log lacks the reason in English:\n%s", logs)
	}
}

func TestBotStopsDuringPendingRequest(t *testing.T) {
	srv := clienttest.Start(t)
	cfg := testConfig(srv)
	cfg.Timeout = time.Minute
	srv.DropReplies(1)
	r := startBot(t, cfg)
	if !eventually(func() bool { return len(srv.Requests(proto.ServiceLogin)) == 1 }) {
		t.Fatal("bot sent no login")
	}
	r.stop(t)
}

func TestBotSeedRepeatsChoices(t *testing.T) {
	srv := clienttest.Start(t)
	cfg := testConfig(srv)
	cfg.Seed = 42
	a, errA := New(cfg)
	b, errB := New(cfg)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a.User() != b.User() {
		t.Errorf("same seed gave users %q and %q", a.User(), b.User())
	}
}

func TestConfigValidation(t *testing.T) {
	srv := clienttest.Start(t)
	for name, mutate := range map[string]func(*Config){
		"broker":        func(c *Config) { c.Broker = "127.0.0.1:5555" },
		"broker port":   func(c *Config) { c.Broker = "tcp://127.0.0.1:99999" },
		"sub host":      func(c *Config) { c.Sub = "tcp://*:5558" },
		"messages":      func(c *Config) { c.Messages = 0 },
		"interval":      func(c *Config) { c.Interval = -time.Second },
		"timeout":       func(c *Config) { c.Timeout = 0 },
		"direct chance": func(c *Config) { c.DirectChance = 1.5 },
		"retry":         func(c *Config) { c.RetryMax = c.RetryMin / 2 },
		"user":          func(c *Config) { c.User = "bad name" },
		"reserved user": func(c *Config) { c.User = proto.ReservedTopic },
	} {
		cfg := testConfig(srv)
		mutate(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted an invalid config", name)
		}
	}
}

func TestConfigErrorsNameFlags(t *testing.T) {
	srv := clienttest.Start(t)
	cases := []struct {
		name   string
		mutate func(*Config)
		pt, en string
	}{
		{"user", func(c *Config) { c.User = "bad name" },
			`bot: --user inválido: o nome "bad name" só pode ter letras, dígitos, _, - e .`,
			`bot: invalid --user: the name "bad name" may only contain letters, digits, _, - and .`},
		{"messages", func(c *Config) { c.Messages = 0 },
			"bot: --messages precisa ser pelo menos 1, e não 0",
			"bot: --messages must be at least 1, not 0"},
		{"interval", func(c *Config) { c.Interval = -time.Second },
			"bot: --interval precisa ser 0 ou mais, como 1s, e não -1s",
			"bot: --interval must be 0 or more, such as 1s, not -1s"},
		{"timeout", func(c *Config) { c.Timeout = 0 },
			"bot: --timeout precisa ser positivo, como 5s, e não 0s",
			"bot: --timeout must be positive, such as 5s, not 0s"},
		{"direct chance", func(c *Config) { c.DirectChance = 1.5 },
			"bot: --direct-chance precisa estar entre 0 e 1, e não 1.5",
			"bot: --direct-chance must be between 0 and 1, not 1.5"},
		{"broker", func(c *Config) { c.Broker = "127.0.0.1:5555" },
			`bot: --broker inválido: "127.0.0.1:5555"; use tcp://HOST:PORTA com uma porta de 1 a 65535`,
			`bot: invalid --broker "127.0.0.1:5555": use tcp://HOST:PORT with a port from 1 to 65535`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for l, want := range map[string]string{lang.PT: c.pt, lang.EN: c.en} {
				cfg := testConfig(srv)
				cfg.Lang = l
				c.mutate(&cfg)
				_, err := New(cfg)
				if err == nil {
					t.Fatalf("%s: New accepted the config", l)
				}
				if err.Error() != want {
					t.Errorf("%s: error %q, want %q", l, err.Error(), want)
				}
			}
		})
	}
}
