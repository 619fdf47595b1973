package probe

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"msgsys/lang"
	"msgsys/roles/broker"
	"msgsys/roles/common"
)

// Command is `msgsys probe`.
func Command() *cli.Command {
	defaults := DefaultConfig()
	return &cli.Command{
		Name: "probe",
		Usage: common.HelpText(lang.Text{
			PT: "verifica uma vez se um broker, a referência ou um servidor está no ar; sai com 0 se estiver, 1 se não (para healthchecks)",
			EN: "check once that a broker, reference or server is up; exit 0 if it is, 1 if not (for healthchecks)",
		}),
		Description: common.HelpText(lang.Text{
			PT: "broker: envia ao lado dos clientes um pedido channels, só de leitura, e exige uma resposta sob o serviço channels. " +
				"Só um broker a envia, e ele mesmo responde enquanto nenhum servidor está conectado, ou com um erro quando os servidores " +
				"não respondem dentro do --request-timeout dele, o que também passa (padrão tcp://127.0.0.1:5555). " +
				"reference: pede a lista de servidores (padrão tcp://127.0.0.1:5559). " +
				"server: pede o estado do servidor no endpoint entre servidores dele e exige que ele " +
				"atenda clientes (padrão tcp://127.0.0.1:5560).",
			EN: "broker: sends a read-only channels request to the client side and requires a reply under the service channels. " +
				"Only a broker sends one, and it replies itself while no server is connected, or with an error when the servers " +
				"do not reply within its --request-timeout, which passes too (default tcp://127.0.0.1:5555). " +
				"reference: requests the list of servers (default tcp://127.0.0.1:5559). " +
				"server: requests the server's status on its server-to-server endpoint and requires that it " +
				"serves clients (default tcp://127.0.0.1:5560).",
		}),
		Flags: []cli.Flag{
			common.ClusterKeyFlag(),
			common.HelpLangFlag(),
			&cli.StringFlag{Name: "role", Value: defaults.Role, EnvVars: []string{"MSGSYS_PROBE_ROLE"}, Usage: common.HelpText(lang.Text{
				PT: "papel a verificar: broker, reference ou server",
				EN: "role to check: broker, reference or server",
			})},
			&cli.StringFlag{Name: "endpoint", EnvVars: []string{"MSGSYS_PROBE_ENDPOINT"}, Usage: common.HelpText(lang.Text{
				PT: "endpoint a verificar (padrão: a porta padrão do papel em 127.0.0.1)",
				EN: "endpoint to check (default: the role's standard port on 127.0.0.1)",
			})},
			&cli.DurationFlag{Name: "timeout", EnvVars: []string{"MSGSYS_PROBE_TIMEOUT"}, Usage: common.HelpText(lang.Text{
				PT: fmt.Sprintf("prazo da verificação inteira; 0 usa o padrão do papel: %v, e %v para um broker, que só responde "+
					"depois do seu --request-timeout (padrão %v) enquanto os servidores conectados não respondem",
					DefaultTimeout, DefaultBrokerTimeout, broker.DefaultRequestTimeout),
				EN: fmt.Sprintf("deadline of the whole check; 0 uses the role's default: %v, and %v for a broker, which replies only "+
					"after its --request-timeout (default %v) while the connected servers do not reply",
					DefaultTimeout, DefaultBrokerTimeout, broker.DefaultRequestTimeout),
			})},
		},
		Action: func(c *cli.Context) error {
			cfg := DefaultConfig()
			cfg.Role = c.String("role")
			key, err := common.ClusterKey(c, "probe", lang.EN)
			if err != nil {
				return err
			}
			cfg.ClusterKey = key
			cfg.Endpoint = c.String("endpoint")
			cfg.Timeout = c.Duration("timeout")
			cfg.Log = common.Logger(c, "probe")
			// New only checks the settings.
			p, err := New(cfg)
			if err != nil {
				return common.StartFailed(err)
			}
			ctx, stop := common.Context(c)
			defer stop()
			return p.Run(ctx)
		},
	}
}
