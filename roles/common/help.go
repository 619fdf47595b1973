package common

import (
	"github.com/urfave/cli/v2"

	"msgsys/lang"
)

// helpLanguage is the language of the help text that the Command functions
// build: command and flag Usage, and command Description.
var helpLanguage = lang.PT

// SetHelpLanguage sets the language of the help text of the commands built
// after it. main calls it once, before it builds the commands.
func SetHelpLanguage(l string) {
	helpLanguage = l
}

// HelpText returns t in the help language.
func HelpText(t lang.Text) string {
	return t.In(helpLanguage)
}

// HelpLangFlag is the --lang flag of a command whose output is English for
// engineers, such as bench and probe: it picks only the language of the
// help, which main reads before it builds the commands. A language other
// than pt or en fails the command, as the --lang of other commands does.
func HelpLangFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "lang",
		EnvVars: []string{"MSGSYS_LANG"},
		Usage: HelpText(lang.Text{
			PT: "idioma desta ajuda: pt ou en (a saída do comando é sempre em inglês)",
			EN: "language of this help: pt or en (the command's output is always English)",
		}),
		Action: func(_ *cli.Context, value string) error {
			_, err := lang.Parse(value)
			return StartFailed(err)
		},
	}
}
