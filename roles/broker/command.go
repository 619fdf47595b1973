package broker

import (
	"sync"

	"github.com/urfave/cli/v2"

	"msgsys/lang"
	"msgsys/roles/common"
)

// Command returns the "broker" command, which runs the request broker and
// the pub/sub proxy.
func Command() *cli.Command {
	defaults := DefaultConfig()
	flags := []cli.Flag{
		&cli.StringFlag{Name: "frontend", Value: defaults.Frontend, EnvVars: []string{"MSGSYS_FRONTEND"},
			Usage: common.HelpText(lang.Text{
				PT: "endpoint ao qual os clientes conectam sockets REQ ou DEALER (o broker faz bind de um ROUTER nele); vazio executa só o proxy",
				EN: "endpoint that clients connect REQ or DEALER sockets to (the broker binds a ROUTER); empty runs only the proxy",
			})},
		&cli.StringFlag{Name: "backend", Value: defaults.Backend, EnvVars: []string{"MSGSYS_BACKEND"},
			Usage: common.HelpText(lang.Text{
				PT: "endpoint ao qual os servidores conectam sockets REP ou DEALER; vazio executa só o proxy",
				EN: "endpoint that servers connect REP or DEALER sockets to; empty runs only the proxy",
			})},
		&cli.StringFlag{Name: "xsub", Value: defaults.XSub, EnvVars: []string{"MSGSYS_XSUB"},
			Usage: common.HelpText(lang.Text{
				PT: "endpoint ao qual os publicadores se conectam (XSUB); vazio executa só o broker de requisições",
				EN: "endpoint that publishers connect to (XSUB); empty runs only the request broker",
			})},
		&cli.StringFlag{Name: "xpub", Value: defaults.XPub, EnvVars: []string{"MSGSYS_XPUB"},
			Usage: common.HelpText(lang.Text{
				PT: "endpoint ao qual os assinantes se conectam (XPUB); vazio executa só o broker de requisições",
				EN: "endpoint that subscribers connect to (XPUB); empty runs only the request broker",
			})},
		&cli.DurationFlag{Name: "request-timeout", Value: defaults.RequestTimeout, EnvVars: []string{"MSGSYS_REQUEST_TIMEOUT"},
			Usage: common.HelpText(lang.Text{
				PT: "tempo que um servidor tem para responder antes que o cliente receba uma resposta de erro e o servidor seja marcado como travado",
				EN: "time a server has to reply before the client gets an error reply and the server is marked stalled",
			})},
		&cli.DurationFlag{Name: "queue-timeout", Value: defaults.QueueTimeout, EnvVars: []string{"MSGSYS_QUEUE_TIMEOUT"},
			Usage: common.HelpText(lang.Text{
				PT: "tempo que uma requisição pode esperar enquanto nenhum servidor está conectado ou todos estão no limite de requisições em andamento; com 0, ela recebe uma resposta de erro na hora",
				EN: "time a request may wait while no server is connected or every server is at its limit of requests in flight; with 0 it gets an error reply at once",
			})},
		&cli.DurationFlag{Name: "hedge-after", Value: defaults.HedgeAfter, EnvVars: []string{"MSGSYS_HEDGE_AFTER"},
			Usage: common.HelpText(lang.Text{
				PT: "tempo que uma leitura ou uma escrita com id espera pelo seu servidor antes que o broker a envie também a outro servidor, valendo a primeira resposta; 0 nunca envia",
				EN: "time a read or a write with an id waits for its server before the broker sends it to another server too, and the first reply wins; 0 never does",
			})},
		&cli.IntFlag{Name: "server-credit", Value: defaults.ServerCredit, EnvVars: []string{"MSGSYS_SERVER_CREDIT"},
			Usage: common.HelpText(lang.Text{
				PT: "máximo de requisições em andamento para um servidor DEALER (um servidor REP recebe 1)",
				EN: "max requests in flight to one DEALER server (a REP server gets 1)",
			})},
		&cli.IntFlag{Name: "subscriber-queue", Value: defaults.SubscriberQueue, EnvVars: []string{"MSGSYS_SUBSCRIBER_QUEUE"},
			Usage: common.HelpText(lang.Text{
				PT: "máximo de publicações na fila de um assinante; além dele, as publicações desse assinante são descartadas",
				EN: "max publications queued for one subscriber; beyond it its publications are dropped",
			})},
		&cli.StringFlag{Name: "lang", EnvVars: []string{"MSGSYS_LANG"},
			Usage: common.HelpText(lang.Text{
				PT: "idioma das respostas de erro do broker: pt ou en (padrão: o do locale, senão pt)",
				EN: "language of the broker's error replies: pt or en (default: from the locale, else pt)",
			})},
		common.ClusterKeyFlag(),
	}

	return &cli.Command{
		Name: "broker",
		Usage: common.HelpText(lang.Text{
			PT: "executa o broker de requisições (de clientes para servidores) e o proxy pub/sub",
			EN: "run the request broker (clients to servers) and the pub/sub proxy",
		}),
		Flags: append(flags, common.ClockFlags()...),
		Action: func(c *cli.Context) error {
			log := common.Logger(c, "broker")
			// New rejects an unsupported --lang, and lang.Pick reads
			// one as Portuguese until then.
			key, err := common.ClusterKey(c, "broker", lang.Pick(c.String("lang")))
			if err != nil {
				return err
			}
			cfg := Config{
				Frontend:        c.String("frontend"),
				Backend:         c.String("backend"),
				XSub:            c.String("xsub"),
				XPub:            c.String("xpub"),
				RequestTimeout:  c.Duration("request-timeout"),
				QueueTimeout:    c.Duration("queue-timeout"),
				HedgeAfter:      c.Duration("hedge-after"),
				ServerCredit:    c.Int("server-credit"),
				SubscriberQueue: c.Int("subscriber-queue"),
				Lang:            c.String("lang"),
				ClusterKey:      key,
				Log:             log,
				Clocks:          common.Clocks(c, log),
			}
			b, err := New(cfg)
			if err != nil {
				return common.StartFailed(err)
			}

			ctx, cancel := common.Context(c)
			defer cancel()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				cfg.Clocks.Physical.Run(ctx)
			}()
			err = b.Run(ctx)
			cancel()
			wg.Wait()
			return err
		},
	}
}
