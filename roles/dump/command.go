package dump

import (
	"github.com/urfave/cli/v2"

	"msgsys/lang"
	"msgsys/roles/common"
)

// Command is `msgsys dump`.
func Command() *cli.Command {
	defaults := DefaultConfig()
	return &cli.Command{
		Name: "dump",
		Usage: common.HelpText(lang.Text{
			PT: "imprime em JSON os usuários, canais e mensagens guardados por um servidor, a partir do diretório de dados dele",
			EN: "print a server's stored users, channels and messages as JSON, from its data directory",
		}),
		Description: common.HelpText(lang.Text{
			PT: "O store é lido diretamente quando nenhum servidor o mantém aberto. Quando um servidor em execução " +
				"o mantém, o dump lê o endereço desse servidor no server.json do mesmo diretório, pede a ele " +
				"uma cópia consistente, imprime a cópia e a apaga. Quando o servidor foi morto, as escritas mais " +
				"novas podem estar só no log de escrita antecipada (WAL), então o dump copia o store e o log para " +
				"um diretório temporário ($TMPDIR), recupera a cópia como o servidor faria, imprime a cópia e a apaga. " +
				"Quando o arquivo de dados está danificado, o dump reconstrói do mesmo modo uma cópia a partir do log, " +
				"se o log tiver todos os segmentos.",
			EN: "The store is read in place when no server holds it. When a running server holds it, " +
				"dump reads that server's address from server.json in the same directory, requests a " +
				"consistent copy from it, prints the copy and deletes it. When the server was killed, its newest " +
				"writes may be only in its write-ahead log, so dump copies the store and the log to a temporary " +
				"directory ($TMPDIR), recovers the copy as the server would, prints it and deletes it. " +
				"When the store file is damaged, dump rebuilds a copy from the log the same way, " +
				"if the log has every segment.",
		}),
		Flags: []cli.Flag{
			common.ClusterKeyFlag(),
			&cli.StringFlag{Name: "data", Value: defaults.Data, EnvVars: []string{"MSGSYS_DATA"}, Usage: common.HelpText(lang.Text{
				PT: "diretório de dados do servidor, que contém o server.db (o padrão é o do contêiner)",
				EN: "server's data directory, which contains server.db (the default is the container's)",
			})},
			&cli.DurationFlag{Name: "lock-timeout", Value: defaults.LockTimeout, EnvVars: []string{"MSGSYS_LOCK_TIMEOUT"}, Usage: common.HelpText(lang.Text{
				PT: "quanto tempo esperar pela trava de arquivo do store antes de pedir uma cópia ao servidor em execução",
				EN: "how long to wait for the store's file lock before requesting a copy from the running server",
			})},
			&cli.DurationFlag{Name: "timeout", Value: defaults.RequestTimeout, EnvVars: []string{"MSGSYS_DUMP_TIMEOUT"}, Usage: common.HelpText(lang.Text{
				PT: "prazo da cópia do servidor em execução",
				EN: "deadline of the running server's copy",
			})},
			&cli.StringFlag{Name: "lang", EnvVars: []string{"MSGSYS_LANG"}, Usage: common.HelpText(lang.Text{
				PT: "idioma dos erros: pt ou en (padrão: o do locale, senão pt); o JSON não é traduzido",
				EN: "language of the errors: pt or en (default: from the locale, else pt); the JSON dump is not translated",
			})},
		},
		Action: func(c *cli.Context) error {
			cfg := DefaultConfig()
			cfg.Data = c.String("data")
			cfg.LockTimeout = c.Duration("lock-timeout")
			cfg.RequestTimeout = c.Duration("timeout")
			language, err := common.Lang(c)
			if err != nil {
				return err
			}
			cfg.Lang = language
			cfg.ClusterKey, err = common.ClusterKey(c, "dump", language)
			if err != nil {
				return err
			}
			cfg.Log = common.Logger(c, "dump")
			// New only checks the settings.
			d, err := New(cfg)
			if err != nil {
				return common.StartFailed(err)
			}
			ctx, stop := common.Context(c)
			defer stop()
			return d.Run(ctx)
		},
	}
}
