package server

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"msgsys/lang"
	"msgsys/roles/common"
)

// textWorkersInvalid is the error of a --workers below 1. Config reads 0
// as the default, but a person who gives 0 expects no default.
var textWorkersInvalid = lang.Text{
	PT: "server: --workers precisa ser pelo menos 1, e não %d",
	EN: "server: --workers must be at least 1, not %d",
}

// Command is `msgsys server`.
func Command() *cli.Command {
	defaults := DefaultConfig()
	return &cli.Command{
		Name: "server",
		Usage: common.HelpText(lang.Text{
			PT: "atende clientes atrás do broker e replica cada escrita nos outros servidores",
			EN: "serve clients behind the broker and replicate every write to the other servers",
		}),
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "name", EnvVars: []string{"MSGSYS_NAME"}, Usage: common.HelpText(lang.Text{
				PT: "nome único do servidor, como server-1 (padrão: o nome do host)",
				EN: "unique server name, such as server-1 (default: the host name)",
			})},
			&cli.Int64Flag{Name: "rank", EnvVars: []string{"MSGSYS_RANK"}, Usage: common.HelpText(lang.Text{
				PT: "rank na eleição do valentão (Bully); 0 pede o rank à referência, que guarda o de cada nome",
				EN: "Bully rank; 0 asks the reference, which keeps each name's rank",
			})},
			&cli.StringFlag{Name: "addr", Value: "tcp://127.0.0.1:5560", EnvVars: []string{"MSGSYS_ADDR"}, Usage: common.HelpText(lang.Text{
				PT: "endpoint entre servidores ao qual os outros servidores se conectam",
				EN: "server-to-server endpoint that other servers connect to",
			})},
			&cli.StringFlag{Name: "bind", EnvVars: []string{"MSGSYS_BIND"}, Usage: common.HelpText(lang.Text{
				PT: "endpoint de bind do --addr (padrão: a porta dele em todas as interfaces)",
				EN: "endpoint to bind for --addr (default: its port on every interface)",
			})},
			&cli.StringFlag{Name: "data", Value: "data/server", EnvVars: []string{"MSGSYS_DATA"}, Usage: common.HelpText(lang.Text{
				PT: "diretório de dados",
				EN: "data directory",
			})},
			&cli.StringFlag{Name: "broker", Value: "tcp://127.0.0.1:5556", EnvVars: []string{"MSGSYS_BROKER"}, Usage: common.HelpText(lang.Text{
				PT: "endpoint do lado dos servidores do broker",
				EN: "broker's server-side endpoint",
			})},
			&cli.StringFlag{Name: "pub", Value: "tcp://127.0.0.1:5557", EnvVars: []string{"MSGSYS_PUB"}, Usage: common.HelpText(lang.Text{
				PT: "endpoint do lado dos publicadores do proxy",
				EN: "proxy's publisher-side endpoint",
			})},
			&cli.StringFlag{Name: "sub", Value: "tcp://127.0.0.1:5558", EnvVars: []string{"MSGSYS_SUB"}, Usage: common.HelpText(lang.Text{
				PT: "endpoint do lado dos assinantes do proxy",
				EN: "proxy's subscriber-side endpoint",
			})},
			&cli.StringFlag{Name: "reference", Value: "tcp://127.0.0.1:5559", EnvVars: []string{"MSGSYS_REFERENCE"}, Usage: common.HelpText(lang.Text{
				PT: "endpoint do serviço de referência",
				EN: "reference service endpoint",
			})},
			&cli.StringFlag{Name: "lang", EnvVars: []string{"MSGSYS_LANG"}, Usage: common.HelpText(lang.Text{
				PT: "idioma das descrições de erro enviadas aos clientes: pt ou en (padrão: o do locale, senão pt)",
				EN: "language of error descriptions sent to clients: pt or en (default: from the locale, else pt)",
			})},
			common.ClusterKeyFlag(),
			&cli.IntFlag{Name: "max-peers", Value: defaults.MaxPeers, EnvVars: []string{"MSGSYS_MAX_PEERS"}, Usage: common.HelpText(lang.Text{
				PT: "número máximo de outros servidores da lista da referência com que o servidor replica e faz eleições, no mínimo 16. Ficam os de rank mais baixo, então um cluster de mais que isso mais um servidores pode ter dois coordenadores",
				EN: "maximum number of other servers from the reference's list that the server replicates with and holds elections with, at least 16. Those of lowest rank are kept, so a cluster of more than this plus one servers can end up with two coordinators",
			})},
			&cli.IntFlag{Name: "workers", Value: defaults.Workers, EnvVars: []string{"MSGSYS_WORKERS"}, Usage: common.HelpText(lang.Text{
				PT: "requisições de clientes atendidas ao mesmo tempo",
				EN: "client requests served at once",
			})},
			&cli.DurationFlag{Name: "berkeley-every", Value: defaults.BerkeleyEvery, EnvVars: []string{"MSGSYS_BERKELEY_EVERY"}, Usage: common.HelpText(lang.Text{
				PT: "período das rodadas de Berkeley do coordenador",
				EN: "period of the coordinator's Berkeley rounds",
			})},
			&cli.DurationFlag{Name: "berkeley-bound", Value: defaults.BerkeleyBound, EnvVars: []string{"MSGSYS_BERKELEY_BOUND"}, Usage: common.HelpText(lang.Text{
				PT: "leituras mais distantes que isto da mediana ficam fora da média",
				EN: "readings further than this from the median are left out of the average",
			})},
			&cli.DurationFlag{Name: "check-every", Value: defaults.Election.CheckEvery, EnvVars: []string{"MSGSYS_CHECK_EVERY"}, Usage: common.HelpText(lang.Text{
				PT: "intervalo entre os pings ao coordenador",
				EN: "how often the coordinator is pinged",
			})},
			&cli.DurationFlag{Name: "check-timeout", Value: defaults.Election.CheckTimeout, EnvVars: []string{"MSGSYS_CHECK_TIMEOUT"}, Usage: common.HelpText(lang.Text{
				PT: "prazo de um ping ao coordenador",
				EN: "deadline of one coordinator ping",
			})},
			&cli.DurationFlag{Name: "election-timeout", Value: defaults.Election.OKTimeout, EnvVars: []string{"MSGSYS_ELECTION_TIMEOUT"}, Usage: common.HelpText(lang.Text{
				PT: "quanto tempo um candidato espera por um OK de um rank mais alto",
				EN: "how long a candidate waits for an OK from a higher rank",
			})},
			&cli.DurationFlag{Name: "ack-timeout", Value: defaults.Replica.AckTimeout, EnvVars: []string{"MSGSYS_ACK_TIMEOUT"}, Usage: common.HelpText(lang.Text{
				PT: "quanto tempo uma escrita espera por um par antes que o par seja marcado como atrasado",
				EN: "how long a write waits for a peer before the peer is marked lagging",
			})},
			&cli.DurationFlag{Name: "sync-every", EnvVars: []string{"MSGSYS_SYNC_EVERY"}, Usage: common.HelpText(lang.Text{
				PT: "0: cada escrita espera o fsync do log antes da resposta; até 1s: a escrita que outro servidor já tem é respondida antes, e o log é sincronizado nesse intervalo (se todas as máquinas que a têm caírem juntas, perde-se até esse tempo de escritas)",
				EN: "0: every write waits for the fsync of the log before its reply; up to 1s: a write that another server holds is answered before it, and the log is synced this often (a crash of every machine holding it at once loses up to this much of writes)",
			})},
			&cli.Float64Flag{Name: "rate-limit", Value: defaults.RateLimit, EnvVars: []string{"MSGSYS_RATE_LIMIT"}, Usage: common.HelpText(lang.Text{
				PT: "publicações e mensagens diretas por segundo permitidas a um usuário (0: sem limite)",
				EN: "posts and direct messages per second allowed to one user (0: no limit)",
			})},
		}, common.ClockFlags()...),
		Action: func(c *cli.Context) error {
			common.TuneGC()
			cfg := DefaultConfig()
			cfg.Name = c.String("name")
			if cfg.Name == "" {
				host, err := os.Hostname()
				if err != nil {
					return common.StartFailed(fmt.Errorf("server: --name is required: %w", err))
				}
				cfg.Name = host
			}
			cfg.Rank = c.Int64("rank")
			cfg.Addr, cfg.Bind = c.String("addr"), c.String("bind")
			cfg.Data = filepath.Clean(c.String("data"))
			cfg.Broker, cfg.Pub, cfg.Sub = c.String("broker"), c.String("pub"), c.String("sub")
			cfg.Reference = c.String("reference")
			language, err := common.Lang(c)
			if err != nil {
				return err
			}
			cfg.Lang = language
			cfg.ClusterKey, err = common.ClusterKey(c, "server", language)
			if err != nil {
				return err
			}
			cfg.Workers = c.Int("workers")
			if cfg.Workers < 1 {
				return common.StartFailed(fmt.Errorf(textWorkersInvalid.In(language), cfg.Workers))
			}
			cfg.MaxPeers = c.Int("max-peers")
			if cfg.MaxPeers < MinMaxPeers {
				return common.StartFailed(fmt.Errorf(textMaxPeersTooLow.In(language), MinMaxPeers, cfg.MaxPeers))
			}
			cfg.BerkeleyEvery, cfg.BerkeleyBound = c.Duration("berkeley-every"), c.Duration("berkeley-bound")
			cfg.Election.CheckEvery = c.Duration("check-every")
			cfg.Election.CheckTimeout = c.Duration("check-timeout")
			cfg.Election.OKTimeout = c.Duration("election-timeout")
			cfg.Replica.AckTimeout = c.Duration("ack-timeout")
			cfg.RateLimit = c.Float64("rate-limit")
			cfg.SyncEvery = c.Duration("sync-every")

			cfg.Log = common.Logger(c, "server")
			cfg.Clocks = common.Clocks(c, cfg.Log.With("server", cfg.Name))
			s, err := New(cfg)
			if err != nil {
				return common.StartFailed(err)
			}
			ctx, stop := common.Context(c)
			defer stop()
			return s.Run(ctx)
		},
	}
}

// textMaxPeersTooLow is the error of a --max-peers below MinMaxPeers,
// with the minimum and the value given.
var textMaxPeersTooLow = lang.Text{
	PT: "server: --max-peers precisa ser pelo menos %d, e não %d. Use também pelo menos o número de servidores do cluster menos um, porque eleições e replicação deixam de fora os servidores além do limite",
	EN: "server: --max-peers must be at least %d, not %d. Also use at least the number of servers in the cluster minus one, because elections and replication leave out the servers beyond the limit",
}
