package main

import (
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"msgsys/lang"
	"msgsys/roles/common"
)

// helpLanguage returns the language of the help: that of the last --lang
// flag in args, else that of MSGSYS_LANG, else the locale's, read by
// lang.Pick. It reads args itself because the help text is built before
// urfave/cli parses them, and a command's --lang comes after its name.
func helpLanguage(args []string) string {
	if value, found := langArgument(args); found {
		return lang.Pick(value)
	}
	return lang.Pick(os.Getenv("MSGSYS_LANG"))
}

// langArgument returns the value of the last --lang flag in args, written
// --lang VALUE or --lang=VALUE, with one dash or two as the flag package
// accepts. Arguments after "--" are not flags.
func langArgument(args []string) (value string, found bool) {
	for i := 0; i < len(args); i++ {
		if args[i] == "--" {
			break
		}
		name, inline, hasInline := strings.Cut(args[i], "=")
		if name != "--lang" && name != "-lang" {
			continue
		}
		switch {
		case hasInline:
			value, found = inline, true
		case i+1 < len(args):
			value, found = args[i+1], true
			i++
		}
	}
	return value, found
}

// setHelpLanguage sets the language of the help: that of the texts the
// commands are built with, and that of the words urfave/cli adds itself.
// It sets urfave/cli's package variables, so it must run before the
// commands are built and never while a help is being written.
func setHelpLanguage(l string) {
	common.SetHelpLanguage(l)
	help := portugueseHelp
	if l == lang.EN {
		help = englishHelp
	}
	cli.AppHelpTemplate = help.appTemplate
	cli.CommandHelpTemplate = help.commandTemplate
	cli.SubcommandHelpTemplate = help.subcommandTemplate
	cli.HelpFlag = help.helpFlag
	cli.VersionFlag = help.versionFlag
	cli.FlagStringer = help.flagStringer
	command := builtinHelpCommand()
	command.Usage, command.ArgsUsage = help.helpCommandUsage, help.helpCommandArgsUsage
	// A new slice also drops the help flag that urfave/cli appends to the
	// command when it runs it, which is in the language of an earlier call.
	command.Flags = []cli.Flag{helpLangFlag()}
}

// helpLangFlag is the --lang flag of a command whose only text for people
// is its help, such as help and version.
func helpLangFlag() cli.Flag {
	return &cli.StringFlag{Name: "lang", EnvVars: []string{"MSGSYS_LANG"}, Usage: common.HelpText(lang.Text{
		PT: "idioma desta ajuda: pt ou en",
		EN: "language of this help: pt or en",
	})}
}

// textPrintVersion describes the version command and the --version flag.
var textPrintVersion = lang.Text{PT: "imprime a versão", EN: "print the version"}

// cliHelp is the help text of urfave/cli in one language.
type cliHelp struct {
	appTemplate, commandTemplate, subcommandTemplate string
	helpFlag, versionFlag                            cli.Flag
	flagStringer                                     cli.FlagStringFunc
	helpCommandUsage, helpCommandArgsUsage           string
}

// englishHelp is urfave/cli's own help text, read at initialisation,
// before setHelpLanguage changes it.
var englishHelp = cliHelp{
	appTemplate:          cli.AppHelpTemplate,
	commandTemplate:      cli.CommandHelpTemplate,
	subcommandTemplate:   cli.SubcommandHelpTemplate,
	helpFlag:             cli.HelpFlag,
	versionFlag:          cli.VersionFlag,
	flagStringer:         cli.FlagStringer,
	helpCommandUsage:     builtinHelpCommand().Usage,
	helpCommandArgsUsage: builtinHelpCommand().ArgsUsage,
}

// portugueseHelp translates englishHelp. The templates are those of
// urfave/cli v2.27.7 with their words translated, and with the command
// usage line, which that version keeps in an unexported template, written
// out. The flags keep the names and options of urfave/cli's.
var portugueseHelp = cliHelp{
	appTemplate:        portugueseAppTemplate,
	commandTemplate:    portugueseCommandTemplate,
	subcommandTemplate: portugueseSubcommandTemplate,
	helpFlag: &cli.BoolFlag{
		Name:               "help",
		Aliases:            []string{"h"},
		Usage:              "mostra a ajuda",
		DisableDefaultText: true,
	},
	versionFlag: &cli.BoolFlag{
		Name:               "version",
		Aliases:            []string{"v"},
		Usage:              textPrintVersion.PT,
		DisableDefaultText: true,
	},
	flagStringer:         portugueseFlagString,
	helpCommandUsage:     "mostra a lista de comandos ou a ajuda de um comando",
	helpCommandArgsUsage: "[comando]",
}

// builtinHelpCommand returns urfave/cli's "help, h" command, which the
// package does not export. App.Setup adds this same *cli.Command to every
// App and command with subcommands that lacks its own help command, so
// changing it changes the one that the help of msgsys and of bench lists.
func builtinHelpCommand() *cli.Command {
	app := &cli.App{Name: "msgsys"}
	app.Setup()
	return app.Command("help")
}

// portugueseFlagString is urfave/cli's line for a flag in the help, with
// the words that urfave/cli adds in Portuguese: the placeholder "value"
// after the flag's names, and "default:" before its default value.
func portugueseFlagString(f cli.Flag) string {
	line := englishHelp.flagStringer(f)
	names, usage, found := strings.Cut(line, "\t")
	if !found {
		return line
	}

	words := strings.Split(names, " ")
	for i, word := range words {
		if word == "value" {
			words[i] = "valor"
		}
	}

	const englishDefault = " (default: "
	if i := strings.LastIndex(usage, englishDefault); i >= 0 {
		usage = usage[:i] + " (padrão: " + usage[i+len(englishDefault):]
	}
	return strings.Join(words, " ") + "\t" + usage
}

const portugueseAppTemplate = `NOME:
   {{template "helpNameTemplate" .}}

USO:
   {{if .UsageText}}{{wrap .UsageText 3}}{{else}}{{.HelpName}} {{if .VisibleFlags}}[opções globais]{{end}}{{if .Commands}} comando [opções do comando]{{end}}{{if .ArgsUsage}} {{.ArgsUsage}}{{else}}{{if .Args}} [argumentos...]{{end}}{{end}}{{end}}{{if .Version}}{{if not .HideVersion}}

VERSÃO:
   {{.Version}}{{end}}{{end}}{{if .Description}}

DESCRIÇÃO:
   {{template "descriptionTemplate" .}}{{end}}
{{- if len .Authors}}

AUTOR{{if ne 1 (len .Authors)}}ES{{end}}:
   {{range $index, $author := .Authors}}{{if $index}}
   {{end}}{{$author}}{{end}}{{end}}{{if .VisibleCommands}}

COMANDOS:{{template "visibleCommandCategoryTemplate" .}}{{end}}{{if .VisibleFlagCategories}}

OPÇÕES GLOBAIS:{{template "visibleFlagCategoryTemplate" .}}{{else if .VisibleFlags}}

OPÇÕES GLOBAIS:{{template "visibleFlagTemplate" .}}{{end}}{{if .Copyright}}

DIREITOS AUTORAIS:
   {{template "copyrightTemplate" .}}{{end}}
`

const portugueseUsageLine = `{{if .UsageText}}{{wrap .UsageText 3}}{{else}}{{.HelpName}}{{if .VisibleFlags}} [opções do comando]{{end}}{{if .ArgsUsage}} {{.ArgsUsage}}{{else}}{{if .Args}} [argumentos...]{{end}}{{end}}{{end}}`

// portugueseCommandHead is the name, usage, category and description
// sections that the help of every command starts with.
const portugueseCommandHead = `NOME:
   {{template "helpNameTemplate" .}}

USO:
   ` + portugueseUsageLine + `{{if .Category}}

CATEGORIA:
   {{.Category}}{{end}}{{if .Description}}

DESCRIÇÃO:
   {{template "descriptionTemplate" .}}{{end}}`

const portugueseCommandTemplate = portugueseCommandHead + `{{if .VisibleFlagCategories}}

OPÇÕES:{{template "visibleFlagCategoryTemplate" .}}{{else if .VisibleFlags}}

OPÇÕES:{{template "visibleFlagTemplate" .}}{{end}}
`

const portugueseSubcommandTemplate = portugueseCommandHead + `{{if .VisibleCommands}}

COMANDOS:{{template "visibleCommandCategoryTemplate" .}}{{end}}{{if .VisibleFlagCategories}}

OPÇÕES:{{template "visibleFlagCategoryTemplate" .}}{{else if .VisibleFlags}}

OPÇÕES:{{template "visibleFlagTemplate" .}}{{end}}
`
