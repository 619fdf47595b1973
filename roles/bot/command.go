package bot

import (
	"github.com/urfave/cli/v2"

	"msgsys/lang"
	"msgsys/roles/client"
	"msgsys/roles/common"
)

// Command is `msgsys bot`.
func Command() *cli.Command {
	defaults := DefaultConfig()
	flags := append(client.ConnectionFlags(),
		&cli.StringFlag{Name: "user", EnvVars: []string{"MSGSYS_BOT_USER"}, Usage: common.HelpText(lang.Text{
			PT: `nome de usuário do bot (padrão: "bot_" e 4 dígitos aleatórios)`,
			EN: `the bot's user name (default: "bot_" and 4 random digits)`,
		})},
		&cli.IntFlag{Name: "messages", Value: defaults.Messages, EnvVars: []string{"MSGSYS_BOT_MESSAGES"}, Usage: common.HelpText(lang.Text{
			PT: "publicações por rodada antes de escolher outro canal",
			EN: "posts per round before picking another channel",
		})},
		&cli.DurationFlag{Name: "interval", Value: defaults.Interval, EnvVars: []string{"MSGSYS_BOT_INTERVAL"}, Usage: common.HelpText(lang.Text{
			PT: "pausa depois de cada publicação",
			EN: "pause after each post",
		})},
		&cli.Int64Flag{Name: "seed", EnvVars: []string{"MSGSYS_BOT_SEED"}, Usage: common.HelpText(lang.Text{
			PT: "semente das escolhas aleatórias, para uma execução repetível; com 0, usa uma tirada da hora atual",
			EN: "seed of the random choices, for a repeatable run; 0 takes one from the time",
		}), DefaultText: "0"},
		&cli.Float64Flag{Name: "direct-chance", Value: defaults.DirectChance, EnvVars: []string{"MSGSYS_BOT_DIRECT_CHANCE"}, Usage: common.HelpText(lang.Text{
			PT: "probabilidade, por rodada, de enviar uma mensagem direta (de 0 a 1)",
			EN: "probability, per round, of sending one direct message (0 to 1)",
		})},
	)
	for _, flag := range flags {
		if f, ok := flag.(*cli.StringFlag); ok && f.Name == "lang" {
			f.Usage = common.HelpText(lang.Text{
				PT: "idioma das publicações: pt ou en (padrão: o do locale, senão pt)",
				EN: "language of the posts: pt or en (default: from the locale, else pt)",
			})
		}
	}
	return &cli.Command{
		Name: "bot",
		Usage: common.HelpText(lang.Text{
			PT: "simula um usuário que publica sem parar em canais aleatórios",
			EN: "simulate a user that keeps posting to random channels",
		}),
		Flags: append(flags, common.ClockFlags()...),
		Action: func(c *cli.Context) error {
			log := common.Logger(c, "bot")
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
			cfg.Messages = c.Int("messages")
			cfg.Interval = c.Duration("interval")
			cfg.Seed = c.Int64("seed")
			cfg.DirectChance = c.Float64("direct-chance")
			cfg.Log = log
			cfg.Clocks = common.Clocks(c, log)

			b, err := New(cfg)
			if err != nil {
				return common.StartFailed(err)
			}
			ctx, stop := common.Context(c)
			defer stop()
			return b.Run(ctx)
		},
	}
}
