package up

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"msgsys/lang"
	"msgsys/roles/client"
	"msgsys/roles/common"
)

// Command is `msgsys up`.
func Command() *cli.Command {
	defaults := DefaultConfig()
	return &cli.Command{
		Name: "up",
		Usage: common.HelpText(lang.Text{
			PT: "executa um cluster inteiro em 127.0.0.1 (referência, broker, servidores e bots) com os logs juntos, até o Ctrl-C",
			EN: "run a whole cluster on 127.0.0.1 (reference, broker, servers and bots) with merged logs, until Ctrl-C",
		}),
		Description: common.HelpText(lang.Text{
			PT: "Todo processo é filho deste e executa o mesmo binário, então qualquer um deles pode ser " +
				"morto com kill -9 para testar falhas. Portas: frontend = base, backend = base+1, lado dos " +
				"publicadores do proxy = base+2, lado dos assinantes = base+3, referência = base+4, e " +
				"endpoint entre servidores do servidor i = base+5+i-1.",
			EN: "Every process is a child of this one, running the same binary, so any of them can be " +
				"killed with kill -9 to test failures. Ports: frontend = base, backend = base+1, proxy " +
				"publisher side = base+2, subscriber side = base+3, reference = base+4, and server i's " +
				"server-to-server endpoint = base+5+i-1.",
		}),
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "port-base", Value: defaults.PortBase, EnvVars: []string{"MSGSYS_PORT_BASE"}, Usage: common.HelpText(lang.Text{
				PT: "porta do frontend do broker; as outras portas vêm em seguida",
				EN: "broker frontend port; the other ports follow it",
			})},
			&cli.StringFlag{Name: "data", Value: defaults.Data, EnvVars: []string{"MSGSYS_DATA"}, Usage: common.HelpText(lang.Text{
				PT: "diretório dos dados da referência e de cada servidor",
				EN: "directory of the reference's and each server's data",
			})},
			&cli.IntFlag{Name: "servers", Value: defaults.Servers, EnvVars: []string{"MSGSYS_SERVERS"}, Usage: common.HelpText(lang.Text{
				PT: "número de servidores",
				EN: "number of servers",
			})},
			&cli.IntFlag{Name: "bots", Value: defaults.Bots, EnvVars: []string{"MSGSYS_BOTS"}, Usage: common.HelpText(lang.Text{
				PT: "número de bots, iniciados quando o cluster passa a responder às requisições",
				EN: "number of bots, started once the cluster replies to requests",
			})},
			&cli.BoolFlag{Name: "skew", EnvVars: []string{"MSGSYS_SKEW"}, Usage: common.HelpText(lang.Text{
				PT: "inicia os servidores com desvios de relógio espalhados em ±1s, para as rodadas de Berkeley corrigirem",
				EN: "start the servers with clock skews spread over ±1s, for Berkeley rounds to correct",
			})},
			&cli.BoolFlag{Name: "restart", EnvVars: []string{"MSGSYS_RESTART"}, Usage: common.HelpText(lang.Text{
				PT: "reinicia a referência, o broker ou um servidor 1s depois que ele sai inesperadamente (um bot que sai continua parado)",
				EN: "restart the reference, the broker or a server 1s after it exits unexpectedly (a bot that exits stays down)",
			})},
			&cli.StringFlag{Name: "lang", EnvVars: []string{"MSGSYS_LANG"}, Usage: common.HelpText(lang.Text{
				PT: "idioma das instruções e do texto para pessoas de todos os processos: pt ou en (padrão: o do locale, senão pt)",
				EN: "language of the instructions and of every process's text for people: pt or en (default: from the locale, else pt)",
			})},
		},
		Action: func(c *cli.Context) error {
			cfg := DefaultConfig()
			cfg.PortBase = c.Int("port-base")
			cfg.Data = c.String("data")
			cfg.Servers = c.Int("servers")
			cfg.Bots = c.Int("bots")
			cfg.Skew = c.Bool("skew")
			cfg.Restart = c.Bool("restart")
			cfg.Lang = c.String("lang")
			// The children read the cluster key from the environment, and
			// each would reject it. Checking it here stops up before it
			// starts any of them.
			if err := common.CheckClusterKey(os.Getenv("MSGSYS_CLUSTER_KEY"), "up", "MSGSYS_CLUSTER_KEY", lang.Pick(cfg.Lang)); err != nil {
				return err
			}
			if level := c.String("log-level"); level != "" {
				cfg.LogLevel = level
			}
			if format := c.String("log-format"); format != "" {
				cfg.LogFormat = format
			}
			cfg.Color = client.IsTerminal(os.Stdout) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
			u, err := New(cfg)
			if err != nil {
				return common.StartFailed(err)
			}
			// Ctrl-C in `msgsys up | tee FILE` stops tee too, and a Go
			// program dies at its next write to a closed stdout. up would
			// then leave its servers half stopped. With SIGPIPE ignored
			// the write fails, and the stop goes on.
			signal.Ignore(syscall.SIGPIPE)
			ctx, stop := common.Context(c)
			defer stop()
			return u.Run(ctx)
		},
	}
}
