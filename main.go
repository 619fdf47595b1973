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
		// Usage errors and the errors of the operating system, such as a
		// port in use or a data directory that cannot be created, read in
		// the person's language.
		fmt.Fprintln(os.Stderr, "msgsys:", describeError(err, l))
		os.Exit(exitStatus(err))
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
		Flags:   append(common.GlobalFlags(), globalLangFlag()),
		Before: func(c *cli.Context) error {
			if err := common.CheckGlobalFlags(c, l); err != nil {
				return err
			}
			return applyGlobalLang(c)
		},
		// main prints the error that Run returns and exits with its
		// status, instead of urfave/cli printing it in English.
		ExitErrHandler: func(*cli.Context, error) {},
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
				Flags: []cli.Flag{helpLangFlag()},
				Action: func(c *cli.Context) error {
					fmt.Println("msgsys", version)
					return nil
				},
			},
		},
	}
	rejectArguments(app.Commands)
	handleUsageErrors(app, l)
	return app
}

// globalLangFlag is the --lang flag before the command. It reads no
// environment variable, so it is set only when given, and an unsupported
// MSGSYS_LANG fails only the commands that read it.
func globalLangFlag() cli.Flag {
	return &cli.StringFlag{Name: "lang", Usage: common.HelpText(lang.Text{
		PT: "idioma do texto para pessoas: pt ou en, também no comando que vem depois, a menos que ele receba o próprio --lang (padrão: o de MSGSYS_LANG, senão o do locale, senão pt)",
		EN: "language of text for people: pt or en, also in the command that follows unless it gets its own --lang (default: from MSGSYS_LANG, else from the locale, else pt)",
	})}
}

// applyGlobalLang makes a --lang given before the command the default of
// the command's own --lang by setting MSGSYS_LANG, which that flag reads
// when it is not given. urfave/cli reads a command's environment variables
// when it parses the command's flags, after this runs.
func applyGlobalLang(c *cli.Context) error {
	if !c.IsSet("lang") {
		return nil
	}
	value := c.String("lang")
	if _, err := lang.Parse(value); err != nil {
		return common.StartFailed(err)
	}
	return os.Setenv("MSGSYS_LANG", value)
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
				return common.StartFailed(fmt.Errorf(textUnexpectedArgument.In(lang.Pick(c.String("lang"))), c.Args().First()))
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
