package reference

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"msgsys/lang"
	"msgsys/roles/common"
)

// Command is `msgsys reference`, which runs the reference service until
// SIGINT or SIGTERM.
func Command() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{
			Name:    "bind",
			Value:   DefaultBind,
			EnvVars: []string{"MSGSYS_BIND"},
			Usage: common.HelpText(lang.Text{
				PT: "endpoint do socket ao qual os servidores se conectam com REQ",
				EN: "endpoint of the socket that servers connect to with REQ",
			}),
		},
		&cli.StringFlag{
			Name:    "data",
			Value:   DefaultDataDir,
			EnvVars: []string{"MSGSYS_DATA"},
			Usage: common.HelpText(lang.Text{
				PT: "diretório do arquivo de registros, criado se não existir",
				EN: "directory of the registration file, created if missing",
			}),
		},
		&cli.DurationFlag{
			Name:    "heartbeat-expiry",
			Value:   DefaultHeartbeatExpiry,
			EnvVars: []string{"MSGSYS_HEARTBEAT_EXPIRY"},
			Usage: common.HelpText(lang.Text{
				PT: "por quanto tempo um servidor continua disponível depois do último heartbeat ou pedido de rank",
				EN: "how long a server stays available after its last heartbeat or rank request",
			}),
		},
		&cli.IntFlag{
			Name:    "max-servers",
			Value:   DefaultMaxServers,
			EnvVars: []string{"MSGSYS_MAX_SERVERS"},
			Usage: common.HelpText(lang.Text{
				PT: "número máximo de nomes de servidor registrados; depois dele, pedidos de rank e heartbeats de nomes novos recebem erro",
				EN: "maximum number of registered server names; beyond it, rank requests and heartbeats from new names get an error reply",
			}),
		},
		common.ClusterKeyFlag(),
		&cli.StringFlag{
			Name:    "lang",
			EnvVars: []string{"MSGSYS_LANG"},
			Usage: common.HelpText(lang.Text{
				PT: "idioma das descrições de erro nas respostas a requisições sem o campo lang: pt ou en (padrão: o do locale, senão pt)",
				EN: "language of error descriptions in replies to requests without a lang field: pt or en (default: from the locale, else pt)",
			}),
		},
	}
	return &cli.Command{
		Name: "reference",
		Usage: common.HelpText(lang.Text{
			PT: "executa o serviço de referência, que dá um rank a cada servidor e lista os disponíveis",
			EN: "run the reference service, which ranks servers and lists the available ones",
		}),
		Flags:  append(flags, common.ClockFlags()...),
		Action: runCommand,
	}
}

func runCommand(c *cli.Context) error {
	log := common.Logger(c, "reference")
	language, err := parseLang(c.String("lang"))
	if err != nil {
		return common.StartFailed(err)
	}

	cfg := DefaultConfig()
	cfg.Bind = c.String("bind")
	cfg.DataDir = c.String("data")
	cfg.HeartbeatExpiry = c.Duration("heartbeat-expiry")
	cfg.MaxServers = c.Int("max-servers")
	cfg.ClusterKey, err = common.ClusterKey(c, "reference", language)
	if err != nil {
		return err
	}
	cfg.Lang = language
	cfg.Clocks = common.Clocks(c, log)
	cfg.Log = log

	ref, err := New(cfg)
	if err != nil {
		return common.StartFailed(err)
	}
	ctx, stop := common.Context(c)
	defer stop()
	return ref.Run(ctx)
}

// parseLang is lang.Parse with the role's name in its error.
func parseLang(flag string) (string, error) {
	l, err := lang.Parse(flag)
	if err != nil {
		return "", fmt.Errorf("reference: --lang: %w", err)
	}
	return l, nil
}
