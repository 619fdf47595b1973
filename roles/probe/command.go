package probe

import (
	"github.com/urfave/cli/v2"

	"msgsys/roles/common"
)

// Command is `msgsys probe`.
func Command() *cli.Command {
	defaults := DefaultConfig()
	return &cli.Command{
		Name:  "probe",
		Usage: "check once that a broker, reference or server is up; exit 0 if it is, 1 if not (for healthchecks)",
		Description: "broker: completes a ZeroMQ handshake with the client side (default tcp://127.0.0.1:5555). " +
			"reference: requests the list of servers (default tcp://127.0.0.1:5559). " +
			"server: requests the server's status on its server-to-server endpoint and requires that it " +
			"serves clients (default tcp://127.0.0.1:5560).",
		Flags: []cli.Flag{
			common.ClusterKeyFlag(),
			&cli.StringFlag{Name: "role", Value: defaults.Role, EnvVars: []string{"MSGSYS_PROBE_ROLE"}, Usage: "role to check: broker, reference or server"},
			&cli.StringFlag{Name: "endpoint", EnvVars: []string{"MSGSYS_PROBE_ENDPOINT"}, Usage: "endpoint to check (default: the role's standard port on 127.0.0.1)"},
			&cli.DurationFlag{Name: "timeout", Value: defaults.Timeout, EnvVars: []string{"MSGSYS_PROBE_TIMEOUT"}, Usage: "deadline of the whole check"},
		},
		Action: func(c *cli.Context) error {
			cfg := DefaultConfig()
			cfg.Role = c.String("role")
			cfg.ClusterKey = c.String("cluster-key")
			cfg.Endpoint = c.String("endpoint")
			cfg.Timeout = c.Duration("timeout")
			cfg.Log = common.Logger(c, "probe")
			p, err := New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := common.Context(c)
			defer stop()
			return p.Run(ctx)
		},
	}
}
