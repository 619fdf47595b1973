package client

import (
	"context"
	"log/slog"
	"os"

	"github.com/urfave/cli/v2"

	"msgsys/lang"
	"msgsys/roles/common"
)

// ConnectionFlags are the flags of every program that talks to msgsys as a
// client: the client and the bot.
func ConnectionFlags() []cli.Flag {
	defaults := DefaultConfig()
	return []cli.Flag{
		&cli.StringFlag{Name: "broker", Value: defaults.Broker, EnvVars: []string{"MSGSYS_BROKER"}, Usage: common.HelpText(lang.Text{
			PT: "endpoint do broker para as requisições",
			EN: "broker endpoint for requests",
		})},
		&cli.StringFlag{Name: "sub", Value: defaults.Sub, EnvVars: []string{"MSGSYS_SUB"}, Usage: common.HelpText(lang.Text{
			PT: "endpoint do proxy pub/sub para as mensagens ao vivo",
			EN: "pub/sub proxy endpoint for live messages",
		})},
		&cli.DurationFlag{Name: "timeout", Value: defaults.Timeout, EnvVars: []string{"MSGSYS_TIMEOUT"}, Usage: common.HelpText(lang.Text{
			PT: "quanto tempo esperar por cada resposta; depois de uma nova tentativa, o servidor é dado como indisponível",
			EN: "how long to wait for each reply; after one retry the server is reported unavailable",
		})},
		&cli.StringFlag{Name: "lang", EnvVars: []string{"MSGSYS_LANG"}, Usage: common.HelpText(lang.Text{
			PT: "idioma do texto mostrado: pt ou en (padrão: o do locale, senão pt)",
			EN: "language of the text shown: pt or en (default: from the locale, else pt)",
		})},
	}
}

// Command is `msgsys client`.
func Command() *cli.Command {
	flags := append(ConnectionFlags(),
		&cli.StringFlag{Name: "user", EnvVars: []string{"MSGSYS_USER"}, Usage: common.HelpText(lang.Text{
			PT: "entra com este usuário ao iniciar",
			EN: "log in as this user at start",
		})},
		&cli.IntFlag{Name: "history", Value: DefaultConfig().HistoryLimit, EnvVars: []string{"MSGSYS_HISTORY"}, Usage: common.HelpText(lang.Text{
			PT: "publicações do histórico mostradas ao entrar em um canal (0: nenhuma)",
			EN: "posts of history shown when joining a channel (0: none)",
		})},
	)
	return &cli.Command{
		Name: "client",
		Usage: common.HelpText(lang.Text{
			PT: "conversa de forma interativa: menu numerado e comandos com barra",
			EN: "chat interactively: numbered menu and slash commands",
		}),
		Flags: append(flags, common.ClockFlags()...),
		Action: func(c *cli.Context) error {
			log := common.Logger(c, "client")
			if !c.IsSet("log-level") {
				// Log lines would land among the chat on the same
				// terminal, and the client already prints every
				// failure in the chosen language, so only errors are
				// logged unless --log-level is set.
				log = slog.New(minLevel{Handler: log.Handler(), min: slog.LevelError})
			}
			cfg := DefaultConfig()
			cfg.Broker = c.String("broker")
			cfg.Sub = c.String("sub")
			cfg.Timeout = c.Duration("timeout")
			language, err := common.Lang(c)
			if err != nil {
				return err
			}
			cfg.Lang = language
			cfg.User = c.String("user")
			cfg.HistoryLimit = c.Int("history")
			cfg.Terminal = IsTerminal(os.Stdin)
			if restore, width, ok := rawTerminal(); ok {
				defer restore()
				cfg.Editor, cfg.Width = true, width
			}
			cfg.Log = log
			cfg.Clocks = common.Clocks(c, log)

			client, err := New(cfg)
			if err != nil {
				return common.StartFailed(err)
			}
			ctx, stop := common.Context(c)
			defer stop()
			if cfg.Editor {
				go followResize(ctx, client)
			}
			return client.Run(ctx)
		},
	}
}

// minLevel is a slog handler that drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= h.min && h.Handler.Enabled(ctx, level)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: h.Handler.WithGroup(name), min: h.min}
}
