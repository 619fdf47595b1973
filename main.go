// Command msgsys is a distributed instant-messaging system: one binary
// whose subcommand picks the role it plays.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"

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
	rejectArguments(app.Commands, "")
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
// not a flag. Its second verb is the command, the third an example from
// argumentExamples.
var textUnexpectedArgument = lang.Text{
	PT: "argumento inesperado %q: msgsys %s aceita só opções, como em %s",
	EN: "unexpected argument %q: msgsys %s takes only options, as in %s",
}

// argumentExamples are the examples of textUnexpectedArgument, one
// command line with a typical flag per command, by the command's full
// name.
var argumentExamples = map[string]string{
	"reference":      "msgsys reference --bind tcp://*:5559",
	"broker":         "msgsys broker --frontend tcp://*:5555",
	"server":         "msgsys server --rank 3",
	"client":         "msgsys client --user ana",
	"bot":            "msgsys bot --messages 20",
	"up":             "msgsys up --servers 5",
	"dump":           "msgsys dump --data /data",
	"status":         "msgsys status --reference tcp://127.0.0.1:5559",
	"probe":          "msgsys probe --role broker",
	"version":        "msgsys version --lang en",
	"bench reqrep":   "msgsys bench reqrep --clients 32",
	"bench pubsub":   "msgsys bench pubsub --subscribers 20",
	"bench failover": "msgsys bench failover --kills 3",
	"bench berkeley": "msgsys bench berkeley --rounds 10",
	"bench catchup":  "msgsys bench catchup --messages 50000",
	"bench memory":   "msgsys bench memory --messages 500000",
}

// unexpectedArgument returns the error of command name given the word
// arg, in language l. A command without an example points to its help.
func unexpectedArgument(name, arg, l string) error {
	example, ok := argumentExamples[name]
	if !ok {
		example = "msgsys " + name + " --help"
	}
	return common.StartFailed(fmt.Errorf(textUnexpectedArgument.In(l), arg, name, example))
}

// rejectArguments makes every command, subcommands included, fail when it
// is given a word that is not a flag. No command takes one, and urfave/cli
// stops reading flags at the first such word, so "msgsys broker broker
// --frontend X" would run a broker with every flag after it ignored.
// parent is the full name of the commands' parent command, "" at the top.
func rejectArguments(commands []*cli.Command, parent string) {
	for _, cmd := range commands {
		name := strings.TrimSpace(parent + " " + cmd.Name)
		rejectArguments(cmd.Subcommands, name)
		// A command with subcommands names the unknown one itself.
		action := cmd.Action
		if action == nil || len(cmd.Subcommands) > 0 {
			continue
		}
		cmd.Action = func(c *cli.Context) error {
			if c.NArg() > 0 {
				return unexpectedArgument(name, c.Args().First(), lang.Pick(c.String("lang")))
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
