// Command msgsys is a distributed instant-messaging system: one binary
// whose subcommand picks the role it plays.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/urfave/cli/v2"

	"msgsys/lang"
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
	l := helpLanguage(os.Args[1:])
	app := newApp(l)
	stopProfile := startProfile(os.Getenv("MSGSYS_CPUPROFILE"))
	err := app.Run(os.Args)
	stopProfile()
	if err != nil {
		// Errors of the operating system, such as a port in use or a data
		// directory that cannot be created, end in the person's language.
		fmt.Fprintln(os.Stderr, "msgsys:", lang.Describe(err, l))
		os.Exit(1)
	}
}

// newApp builds the command tree with its help in language l.
func newApp(l string) *cli.App {
	setHelpLanguage(l)
	app := &cli.App{
		Name: "msgsys",
		Usage: common.HelpText(lang.Text{
			PT: "mensagens instantâneas distribuídas: broker, referência, servidores replicados, clientes e bots",
			EN: "distributed instant messaging: broker, reference, replicated servers, clients and bots",
		}),
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
				Usage: common.HelpText(textPrintVersion),
				Action: func(c *cli.Context) error {
					fmt.Println("msgsys", version)
					return nil
				},
			},
		},
	}
	rejectArguments(app.Commands)
	return app
}

// textUnexpectedArgument is the error of a command given a word that is
// not a flag.
var textUnexpectedArgument = lang.Text{
	PT: "argumento inesperado %q: as opções vêm depois do papel, como em msgsys server --rank 3",
	EN: "unexpected argument %q: options follow the role, as in msgsys server --rank 3",
}

// rejectArguments makes every command, subcommands included, fail when it
// is given a word that is not a flag. No command takes one, and urfave/cli
// stops reading flags at the first such word, so "msgsys broker broker
// --frontend X" would run a broker with every flag after it ignored.
func rejectArguments(commands []*cli.Command) {
	for _, cmd := range commands {
		rejectArguments(cmd.Subcommands)
		// A command with subcommands names the unknown one itself.
		action := cmd.Action
		if action == nil || len(cmd.Subcommands) > 0 {
			continue
		}
		cmd.Action = func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf(textUnexpectedArgument.In(lang.Pick(c.String("lang"))), c.Args().First())
			}
			return action(c)
		}
	}
}

// startProfile writes a CPU profile of this process to dir/ROLE-PID.prof
// when dir is set, for finding where a server under load spends its time.
// It returns the function that ends the profile.
func startProfile(dir string) func() {
	if dir == "" {
		return func() {}
	}
	role := "msgsys"
	if len(os.Args) > 1 {
		role = filepath.Base(os.Args[1])
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.prof", role, os.Getpid())))
	if err != nil {
		fmt.Fprintln(os.Stderr, "msgsys: cpu profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "msgsys: cpu profile:", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
