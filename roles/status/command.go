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
		Name:  "status",
		Usage: "show every available server: rank, coordinator, clock offset, counts and replication",
		Flags: []cli.Flag{
			common.ClusterKeyFlag(),
			&cli.StringFlag{Name: "reference", Value: defaults.Reference, EnvVars: []string{"MSGSYS_REFERENCE"}, Usage: "reference service endpoint"},
			&cli.DurationFlag{Name: "timeout", Value: defaults.Timeout, EnvVars: []string{"MSGSYS_STATUS_TIMEOUT"}, Usage: "deadline of each request to the reference and to each server"},
			&cli.BoolFlag{Name: "json", EnvVars: []string{"MSGSYS_STATUS_JSON"}, Usage: "print one JSON object with every detail, version vectors included"},
			&cli.StringFlag{Name: "lang", EnvVars: []string{"MSGSYS_LANG"}, Usage: "language of the table and the errors: pt or en (default: from the locale, else pt); --json output is not translated"},
		},
		Action: func(c *cli.Context) error {
			cfg := DefaultConfig()
			cfg.Reference = c.String("reference")
			cfg.Timeout = c.Duration("timeout")
			cfg.JSON = c.Bool("json")
			language, err := lang.Parse(c.String("lang"))
			if err != nil {
				return err
			}
			cfg.Lang = language
			cfg.ClusterKey = c.String("cluster-key")
			cfg.Log = common.Logger(c, "status")
			st, err := New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := common.Context(c)
			defer stop()
			return st.Run(ctx)
		},
	}
}
