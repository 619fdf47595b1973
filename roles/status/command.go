package status

import (
	"github.com/urfave/cli/v2"

	"msgsys/lang"
	"msgsys/roles/common"
)

// Command is `msgsys status`.
func Command() *cli.Command {
	defaults := DefaultConfig()
	return &cli.Command{
		Name: "status",
		Usage: common.HelpText(lang.Text{
			PT: "mostra cada servidor disponível: rank, coordenador, desvio do relógio, contagens e replicação",
			EN: "show every available server: rank, coordinator, clock offset, counts and replication",
		}),
		Flags: []cli.Flag{
			common.ClusterKeyFlag(),
			&cli.StringFlag{Name: "reference", Value: defaults.Reference, EnvVars: []string{"MSGSYS_REFERENCE"}, Usage: common.HelpText(lang.Text{
				PT: "endpoint do serviço de referência",
				EN: "reference service endpoint",
			})},
			&cli.StringSliceFlag{Name: "server", EnvVars: []string{"MSGSYS_STATUS_SERVERS"}, Usage: common.HelpText(lang.Text{
				PT: "endpoint entre servidores (--addr) de um servidor a consultar no lugar da lista da referência; repita para vários",
				EN: "server-to-server endpoint (--addr) of a server to query in place of the reference's list; repeat for several",
			})},
			&cli.DurationFlag{Name: "timeout", Value: defaults.Timeout, EnvVars: []string{"MSGSYS_STATUS_TIMEOUT"}, Usage: common.HelpText(lang.Text{
				PT: "prazo de cada requisição à referência e a cada servidor",
				EN: "deadline of each request to the reference and to each server",
			})},
			&cli.BoolFlag{Name: "json", EnvVars: []string{"MSGSYS_STATUS_JSON"}, Usage: common.HelpText(lang.Text{
				PT: "imprime um objeto JSON com todos os detalhes, inclusive os vetores de versão",
				EN: "print one JSON object with every detail, version vectors included",
			})},
			&cli.StringFlag{Name: "lang", EnvVars: []string{"MSGSYS_LANG"}, Usage: common.HelpText(lang.Text{
				PT: "idioma da tabela e dos erros: pt ou en (padrão: o do locale, senão pt); a saída de --json não é traduzida",
				EN: "language of the table and the errors: pt or en (default: from the locale, else pt); --json output is not translated",
			})},
		},
		Action: func(c *cli.Context) error {
			cfg := DefaultConfig()
			cfg.Reference = c.String("reference")
			cfg.Servers = c.StringSlice("server")
			cfg.Timeout = c.Duration("timeout")
			cfg.JSON = c.Bool("json")
			language, err := common.Lang(c)
			if err != nil {
				return err
			}
			cfg.Lang = language
			cfg.ClusterKey, err = common.ClusterKey(c, "status", language)
			if err != nil {
				return err
			}
			cfg.Log = common.Logger(c, "status")
			// New only checks the settings.
			st, err := New(cfg)
			if err != nil {
				return common.StartFailed(err)
			}
			ctx, stop := common.Context(c)
			defer stop()
			return st.Run(ctx)
		},
	}
}
