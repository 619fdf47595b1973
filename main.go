// Command msgsys is a distributed instant-messaging system: one binary
// whose subcommand picks the role it plays.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"msgsys/roles/bench"
	"msgsys/roles/bot"
	"msgsys/roles/broker"
	"msgsys/roles/client"
	"msgsys/roles/common"
	"msgsys/roles/dump"
	"msgsys/roles/probe"
	"msgsys/roles/reference"
	"msgsys/roles/server"
	"msgsys/roles/status"
	"msgsys/roles/up"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	app := &cli.App{
		Name:    "msgsys",
		Usage:   "distributed instant messaging: broker, reference, replicated servers, clients and bots",
		Version: version,
		Flags:   common.GlobalFlags(),
		Commands: []*cli.Command{
			reference.Command(),
			broker.Command(),
			server.Command(),
			client.Command(),
			bot.Command(),
			up.Command(),
			dump.Command(),
			status.Command(),
			probe.Command(),
			bench.Command(),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(c *cli.Context) error {
					fmt.Println("msgsys", version)
					return nil
				},
			},
		},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "msgsys:", err)
		os.Exit(1)
	}
}
